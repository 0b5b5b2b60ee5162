//! The `aarm` command line: argument parsing (clap) and one module per command.

pub mod analyze;
pub mod build;
pub mod case;
pub mod check;
pub mod eval;
pub mod fmt;
pub mod inspect;
pub mod junit;
pub mod keygen;
pub mod lsp;
pub mod mcp;
pub mod new;
pub mod output;
pub mod overrides;
pub mod receipts;
pub mod review;
pub mod serve;
pub mod source;
pub mod store;
pub mod test;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes of every command (README.md gives them per command).
pub mod exit {
    /// Success: no problems, or a decision was printed.
    pub const OK: u8 = 0;
    /// The input has errors (or warnings under `--deny-warnings`).
    pub const FAILED: u8 = 1;
    /// Usage or I/O error.
    pub const USAGE: u8 = 2;

    /// The exit status of a command that returns its code or an error message: the error is
    /// printed (`error: MESSAGE`) and is a usage error.
    pub fn status(result: Result<u8, String>) -> std::process::ExitCode {
        match result {
            Ok(code) => std::process::ExitCode::from(code),
            Err(message) => {
                crate::errln!("error: {message}");
                std::process::ExitCode::from(USAGE)
            }
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "aarm",
    version,
    about = "The AARM policy language: check, build and evaluate policies for AI agent actions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and type-check policies; report every problem at once.
    Check(check::CheckArgs),
    /// Find rules that never decide, contradictions, conflicts, lifecycles that end in `allow`
    /// without approval, endless deferrals and unused declarations (exit 1 on findings).
    Analyze(analyze::AnalyzeArgs),
    /// Compile a policy directory into one `.aarmb` bundle, optionally signed.
    Build(build::BuildArgs),
    /// Decide one request (JSON) against a bundle or a policy directory; print the decision.
    Eval(eval::EvalArgs),
    /// Show a bundle's header, hash, signature, policies, tools, rules and (optionally) code.
    Inspect(inspect::InspectArgs),
    /// Run the `test` blocks: per-test results, failing steps, rule and branch coverage. A bundle with
    /// no test fails unless `--allow-no-tests`.
    Test(test::TestArgs),
    /// Drive suspended actions (cases) on a SQLite store: open, approve, deny, provide, tick, ...
    Case(case::CaseArgs),
    /// Export receipts from a store, or verify an exported chain.
    Receipts(receipts::ReceiptsArgs),
    /// Run the decision and approval service over HTTP (cases, approvals, notifications, the
    /// approver inbox).
    Serve(serve::ServeArgs),
    /// Rewrite `.aarm` files in the canonical layout, or (`--check`) list those that are not;
    /// `-` formats standard input to standard output.
    Fmt(fmt::FmtArgs),
    /// Write a new Ed25519 key pair: the signing key to FILE (mode 0600), the public key to
    /// FILE.pub, both as hex.
    Keygen(keygen::KeygenArgs),
    /// The MCP gateway: import a server's tools as declarations, or proxy an agent's MCP
    /// traffic and decide every tool call with a bundle.
    Mcp(mcp::McpArgs),
    /// A language server on standard input/output for editors: diagnostics, hover, definition,
    /// references, rename, symbols, completion, formatting and quick fixes.
    Lsp(lsp::LspArgs),
    /// Create a policy directory NAME with a policy, a test and a request to start from.
    New(new::NewArgs),
    /// The overrides (break-glass) of a store: list those waiting for a verdict, accept or flag one.
    Review(review::ReviewArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Case(args) => case::run(&args),
        Command::Receipts(args) => receipts::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::New(args) => new::run(&args),
        Command::Mcp(args) => mcp::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Review(args) => review::run(&args),
    }
}
