//! `aarm receipts export --store DB [--case ID]` and `aarm receipts verify FILE [--key PUB]`.

use super::exit;
use super::source::read_input;
use aarm_runtime::bundle;
use aarm_runtime::receipts::{self, VerifyOptions};
use aarm_runtime::store::sqlite::SqliteStore;
use aarm_runtime::store::CaseStore;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// Print the store's receipts (or one case's) as JSON lines.
    Export {
        #[arg(long, value_name = "DB")]
        store: PathBuf,
        #[arg(long, value_name = "ID")]
        case: Option<String>,
    },
    /// Verify exported receipts: hashes, chain links, order, and signatures.
    Verify {
        /// JSON lines as `export` prints them, or `-` for standard input.
        file: PathBuf,
        /// Public keys (32 bytes, raw or hex); given, every receipt must be signed by one.
        #[arg(long = "key", value_name = "PUB")]
        keys: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ReceiptsArgs {
    #[command(subcommand)]
    pub command: ReceiptsCommand,
}

pub fn run(args: &ReceiptsArgs) -> ExitCode {
    match &args.command {
        ReceiptsCommand::Export { store, case } => {
            let list = SqliteStore::open_existing(store).and_then(|s| s.receipts(case.as_deref()));
            match list {
                Ok(list) => {
                    crate::out!("{}", receipts::to_json_lines(&list));
                    ExitCode::from(exit::OK)
                }
                Err(e) => {
                    crate::errln!("error: {e}");
                    ExitCode::from(exit::USAGE)
                }
            }
        }
        ReceiptsCommand::Verify { file, keys } => {
            let mut trusted = Vec::new();
            for k in keys {
                match std::fs::read(k)
                    .map_err(|e| e.to_string())
                    .and_then(|b| bundle::verifying_key_from_file_bytes(&b).map_err(|e| e.to_string()))
                {
                    Ok(key) => trusted.push(key),
                    Err(e) => {
                        crate::errln!("error: cannot use public key {}: {e}", k.display());
                        return ExitCode::from(exit::USAGE);
                    }
                }
            }
            let text = match read_input(file) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    crate::errln!("error: cannot read {}: {e}", file.display());
                    return ExitCode::from(exit::USAGE);
                }
            };
            let parsed = match receipts::from_json_lines(&text) {
                Ok(r) => r,
                Err(e) => {
                    crate::errln!("tampered: {e}");
                    return ExitCode::from(exit::FAILED);
                }
            };
            // A full export starts at the chain's beginning; a per-case export is a subsequence.
            let from_genesis = parsed.first().is_some_and(|r| r.prev == receipts::GENESIS);
            let opts = VerifyOptions {
                keys: &trusted,
                require_signatures: !trusted.is_empty(),
                expected_head: None,
                from_genesis,
            };
            let result = if from_genesis {
                receipts::verify_chain(&parsed, &opts)
            } else {
                receipts::verify_subsequence(&parsed, &opts)
            };
            match result {
                Ok(report) => {
                    crate::outln!(
                        "valid: {} receipts (seq {}..{}), {} signatures verified, head {}",
                        report.count,
                        report.first_seq,
                        report.last_seq,
                        report.signed,
                        report.head
                    );
                    if report.unchecked_signatures > 0 {
                        crate::outln!(
                            "note: {} signatures were not checked: give the signer's public key with --key",
                            report.unchecked_signatures
                        );
                    }
                    ExitCode::from(exit::OK)
                }
                Err(e) => {
                    crate::errln!("tampered: {e}");
                    ExitCode::from(exit::FAILED)
                }
            }
        }
    }
}
