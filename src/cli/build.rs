//! `aarm build [PATH] -o FILE.aarmb [--sign-key KEY]`.

use super::exit;
use super::output::Format;
use super::source::compile_path;
use aarm_runtime::bundle;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The bundle's directory (every `.aarm` file under it) or a single file.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Where to write the bundle.
    #[arg(short = 'o', long = "output", value_name = "FILE.aarmb")]
    pub output: PathBuf,
    /// Ed25519 signing key: a file with the 32-byte seed, raw or as 64 hex characters.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
}

pub fn run(args: &BuildArgs) -> ExitCode {
    let key = match &args.sign_key {
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| bundle::signing_key_from_file_bytes(&b).map_err(|e| e.to_string()))
        {
            Ok(k) => Some(k),
            Err(e) => {
                crate::errln!("error: cannot use signing key {}: {e}", path.display());
                return ExitCode::from(exit::USAGE);
            }
        },
        None => None,
    };
    let program = match compile_path(&args.path, Format::Human) {
        Ok(p) => p,
        Err(code) => return ExitCode::from(code),
    };
    let bytes = match bundle::encode(&program, key.as_ref()) {
        Ok(b) => b,
        Err(e) => {
            crate::errln!("error: cannot encode the bundle: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        crate::errln!("error: cannot write {}: {e}", args.output.display());
        return ExitCode::from(exit::USAGE);
    }
    let hash = bundle::read_info(&bytes).map(|i| i.hash_string()).unwrap_or_default();
    let signed = match &key {
        Some(k) => format!(", signed by key {}", bundle::key_id(&k.verifying_key())),
        None => String::new(),
    };
    crate::errln!(
        "built {} ({} rules, {} tools, {} bytes, {hash}{signed})",
        args.output.display(),
        program.rules.len(),
        program.schema.tools.len(),
        bytes.len()
    );
    ExitCode::from(exit::OK)
}
