//! `aarm inspect BUNDLE [--disassemble] [--format human|json]`: what a bundle holds, and whether
//! it is intact. `--format json` prints the same facts as one JSON document (docs/bundle.md).

use super::exit;
use aarm_runtime::bundle::{self, BundleInfo};
use aarm_runtime::disasm::disassemble;
use aarm_runtime::program::Program;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum InspectFormat {
    /// Aligned lines for people.
    #[default]
    Human,
    /// One JSON document (docs/bundle.md gives its fields).
    Json,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The `.aarmb` file.
    pub bundle: PathBuf,
    /// Print the bytecode of every rule and function (under `"disassembly"` in JSON).
    #[arg(long)]
    pub disassemble: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Human)]
    pub format: InspectFormat,
}

pub fn run(args: &InspectArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.bundle) {
        Ok(b) => b,
        Err(e) => {
            crate::errln!("error: cannot read {}: {e}", args.bundle.display());
            return ExitCode::from(exit::USAGE);
        }
    };
    let info = match bundle::read_info(&bytes) {
        Ok(info) => info,
        Err(e) => {
            crate::errln!("error: {} is not a readable bundle: {e}", args.bundle.display());
            return ExitCode::from(exit::FAILED);
        }
    };
    if args.format == InspectFormat::Human {
        print_header(args, &info);
    }
    let program = match bundle::decode(&bytes, &[], false) {
        Ok((_, p)) => p,
        Err(e) => {
            crate::errln!("error: the bundle is not intact: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match args.format {
        InspectFormat::Human => print_human(args, &program, bytes.len()),
        InspectFormat::Json => match serde_json::to_string_pretty(&to_json(args, &info, &program, bytes.len())) {
            Ok(s) => crate::outln!("{s}"),
            Err(e) => {
                crate::errln!("error: cannot print the bundle: {e}");
                return ExitCode::from(exit::FAILED);
            }
        },
    }
    ExitCode::from(exit::OK)
}

fn instructions(program: &Program) -> usize {
    program.chunks.iter().chain(&program.functions).map(|c| c.code.len()).sum()
}

/// The header is printed before the content is checked, so that a damaged bundle still shows it.
fn print_header(args: &InspectArgs, info: &BundleInfo) {
    crate::outln!("bundle     {}", args.bundle.display());
    crate::outln!("format     {}", info.format_version);
    crate::outln!("compiler   {}", info.compiler_version);
    crate::outln!("hash       {}", info.hash_string());
    match &info.key_id {
        Some(k) => crate::outln!("signature  Ed25519, key {k}"),
        None => crate::outln!("signature  none"),
    }
}

fn print_human(args: &InspectArgs, program: &Program, size: usize) {
    crate::outln!("size       {size} bytes");
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
    crate::outln!(
        "code       {} chunks, {} functions, {} instructions, {} constants",
        program.chunks.len(),
        program.functions.len(),
        instructions(program),
        program.consts.len()
    );
    if args.disassemble {
        crate::outln!();
        crate::out!("{}", disassemble(program));
    }
}

/// Everything the human output shows, as one document; types are written as in the source.
fn to_json(args: &InspectArgs, info: &BundleInfo, program: &Program, size: usize) -> Value {
    let tools: Vec<Value> = program
        .schema
        .tools
        .iter()
        .map(|t| {
            let fields: Vec<Value> =
                t.fields.iter().map(|f| json!({ "name": f.name, "type": f.ty.to_string() })).collect();
            json!({ "name": t.name, "fields": fields })
        })
        .collect();
    let evidence: Vec<Value> = program
        .schema
        .evidence
        .iter()
        .map(|e| json!({ "name": e.name, "type": e.ty.to_string(), "source": e.source }))
        .collect();
    let rules: Vec<Value> = program
        .rules
        .iter()
        .map(|r| {
            json!({
                "name": r.qualified_name,
                "priority": r.priority,
                "decision": r.decision.name(),
                "location": r.location,
            })
        })
        .collect();
    let policies: Vec<Value> =
        program.policies.iter().map(|p| json!({ "name": p.name, "version": p.version })).collect();
    let signature = info.key_id.as_ref().map(|k| json!({ "algorithm": "Ed25519", "key_id": k }));
    let mut doc = json!({
        "bundle": args.bundle.display().to_string(),
        "format": info.format_version,
        "compiler": info.compiler_version,
        "hash": info.hash_string(),
        "signature": signature,
        "size": size,
        "policies": policies,
        "tools": tools,
        "evidence": evidence,
        "rules": rules,
        "code": {
            "chunks": program.chunks.len(),
            "functions": program.functions.len(),
            "instructions": instructions(program),
            "constants": program.consts.len(),
        },
    });
    if let (true, Some(obj)) = (args.disassemble, doc.as_object_mut()) {
        obj.insert("disassembly".into(), Value::String(disassemble(program).to_string()));
    }
    doc
}
