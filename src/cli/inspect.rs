//! `aarm inspect BUNDLE [--disassemble]`: what a bundle holds, and whether it is intact.

use super::exit;
use aarm_runtime::bundle;
use aarm_runtime::disasm::disassemble;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The `.aarmb` file.
    pub bundle: PathBuf,
    /// Print the bytecode of every rule and function.
    #[arg(long)]
    pub disassemble: bool,
}

pub fn run(args: &InspectArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.bundle) {
        Ok(b) => b,
        Err(e) => {
            crate::errln!("error: cannot read {}: {e}", args.bundle.display());
            return ExitCode::from(exit::USAGE);
        }
    };
    match bundle::read_info(&bytes) {
        Ok(info) => {
            crate::outln!("bundle     {}", args.bundle.display());
            crate::outln!("format     {}", info.format_version);
            crate::outln!("compiler   {}", info.compiler_version);
            crate::outln!("hash       {}", info.hash_string());
            match &info.key_id {
                Some(k) => crate::outln!("signature  Ed25519, key {k}"),
                None => crate::outln!("signature  none"),
            }
        }
        Err(e) => {
            crate::errln!("error: {} is not a readable bundle: {e}", args.bundle.display());
            return ExitCode::from(exit::FAILED);
        }
    }
    let program = match bundle::decode(&bytes, &[], false) {
        Ok((_, p)) => p,
        Err(e) => {
            crate::errln!("error: the bundle is not intact: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    crate::outln!("size       {} bytes", bytes.len());
    for p in &program.policies {
        crate::outln!("policy     {} {}", p.name, p.version);
    }
    crate::outln!("tools      {}", program.schema.tools.len());
    for t in &program.schema.tools {
        let fields: Vec<String> = t.fields.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect();
        crate::outln!("  {} {{ {} }}", t.name, fields.join(", "));
    }
    if !program.schema.evidence.is_empty() {
        crate::outln!("evidence   {}", program.schema.evidence.len());
        for e in &program.schema.evidence {
            crate::outln!("  {}: {} from {:?}", e.name, e.ty, e.source);
        }
    }
    crate::outln!("rules      {}", program.rules.len());
    for r in &program.rules {
        crate::outln!("  {} priority {} -> {}  ({})", r.qualified_name, r.priority, r.decision.name(), r.location);
    }
    let instructions: usize = program.chunks.iter().chain(&program.functions).map(|c| c.code.len()).sum();
    crate::outln!(
        "code       {} chunks, {} functions, {instructions} instructions, {} constants",
        program.chunks.len(),
        program.functions.len(),
        program.consts.len()
    );
    if args.disassemble {
        crate::outln!();
        crate::out!("{}", disassemble(&program));
    }
    ExitCode::from(exit::OK)
}
