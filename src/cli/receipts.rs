//! `aarm receipts export --store DB [--case ID]` and `aarm receipts verify FILE [--key PUB]`.

use super::exit;
use super::source::{public_keys, read_input};
use aarm_cases::export;
use aarm_cases::receipts::VerifyOptions;
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::CaseStore;
use aarm_runtime::bundle;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// Print the store's receipts (or one case's) as JSON lines, then the export head that
    /// states how many there are and the last one's hash.
    Export {
        /// The case store: a SQLite file or a PostgreSQL URL (`postgres://USER@HOST:PORT/DB`).
        #[arg(long, value_name = "DB|URL")]
        store: PathBuf,
        #[arg(long, value_name = "ID")]
        case: Option<String>,
        /// Ed25519 key (32-byte seed, raw or hex) that signs the export head: the store's
        /// receipt key, so that a verifier trusting it knows nothing was left out.
        #[arg(long, value_name = "KEY")]
        sign_key: Option<PathBuf>,
    },
    /// Verify exported receipts: hashes, chain and per-case links, order, signatures, and that
    /// the export holds every receipt its head names.
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

/// The export of `store` (one case's receipts, or the whole chain), with its head.
fn export_lines(store: &std::path::Path, case: Option<&str>, sign_key: &Option<PathBuf>) -> Result<String, String> {
    let signer = match sign_key {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(bundle::signing_key_from_file_bytes(&bytes).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    // Only `case open` creates a store: exporting from a path that holds none is an error.
    let store = AnyStore::open(store, false).map_err(|e| e.to_string())?;
    // The chain head first: receipts appended meanwhile are after it, and still in the list.
    let chain = store.chain_head().map_err(|e| e.to_string())?;
    let list = store.receipts(case).map_err(|e| e.to_string())?;
    let list: Vec<_> = match &chain {
        Some((seq, _)) => list.into_iter().filter(|r| r.seq <= *seq).collect(),
        None => Vec::new(),
    };
    let head = export::make_head(&list, case, chain, signer.as_ref());
    Ok(export::to_json_lines(&list, &head))
}

pub fn run(args: &ReceiptsArgs) -> ExitCode {
    match &args.command {
        ReceiptsCommand::Export { store, case, sign_key } => match export_lines(store, case.as_deref(), sign_key) {
            Ok(text) => {
                crate::out!("{text}");
                ExitCode::from(exit::OK)
            }
            Err(e) => {
                crate::errln!("error: {e}");
                ExitCode::from(exit::USAGE)
            }
        },
        ReceiptsCommand::Verify { file, keys } => {
            let trusted = match public_keys(keys) {
                Ok(keys) => keys,
                Err(code) => return ExitCode::from(code),
            };
            let text = match read_input(file) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    crate::errln!("error: cannot read {}: {e}", file.display());
                    return ExitCode::from(exit::USAGE);
                }
            };
            let (parsed, head) = match export::from_json_lines(&text) {
                Ok(r) => r,
                Err(e) => {
                    crate::errln!("tampered: {e}");
                    return ExitCode::from(exit::FAILED);
                }
            };
            let opts = VerifyOptions {
                keys: &trusted,
                require_signatures: !trusted.is_empty(),
                expected_head: None,
                from_genesis: false,
            };
            match export::verify_export(&parsed, head.as_ref(), &opts) {
                Ok(report) => {
                    let what = head.as_ref().and_then(|h| h.case.as_deref()).unwrap_or("the whole chain");
                    crate::outln!(
                        "valid: {} receipts of {what} (seq {}..{}), complete as of chain seq {}, {} signatures verified, head {}",
                        report.count,
                        report.first_seq,
                        report.last_seq,
                        head.as_ref().map_or(0, |h| h.chain_seq),
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
