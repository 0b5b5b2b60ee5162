//! `aarm keygen FILE [--force]`: a new Ed25519 key pair, as the other commands read it.
//!
//! FILE gets the 32-byte seed (the signing key) as 64 hex digits, created with mode 0600;
//! `FILE.pub` gets the public key, also as hex. Both are read as they are by `build --sign-key`,
//! `eval --key`, `serve --sign-key`/`--trusted-key`, `case … --sign-key` and
//! `receipts verify --key`. An existing file is never overwritten without `--force`.

use super::exit;
use aarm_runtime::bundle;
use clap::Args;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the signing key (the public key goes to FILE.pub).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace FILE and FILE.pub if they exist.
    #[arg(long)]
    pub force: bool,
}

/// `FILE.pub` next to `FILE`.
fn public_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(".pub");
    PathBuf::from(name)
}

pub fn run(args: &KeygenArgs) -> ExitCode {
    let public = public_path(&args.file);
    if !args.force {
        for path in [&args.file, &public] {
            // `symlink_metadata`: a dangling link is something that exists, too.
            if std::fs::symlink_metadata(path).is_ok() {
                crate::errln!(
                    "error: {} already exists; no key was written\n  help: choose another FILE, or give --force to replace it",
                    path.display()
                );
                return ExitCode::from(exit::USAGE);
            }
        }
    }
    let mut seed = [0u8; 32];
    if let Err(e) = getrandom::getrandom(&mut seed) {
        crate::errln!("error: the operating system's random number generator failed: {e}; no key was written");
        return ExitCode::from(exit::USAGE);
    }
    let (secret_hex, public_hex) = bundle::generate_signing_key_hex(seed);
    if let Err(e) = write_new(&args.file, &secret_hex, true) {
        crate::errln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    if let Err(e) = write_new(&public, &public_hex, false) {
        // No half pair: a signing key whose public key is missing would be used unverifiably.
        let _ = std::fs::remove_file(&args.file);
        crate::errln!("error: {e}; no key was written");
        return ExitCode::from(exit::USAGE);
    }
    let id = std::fs::read(&public)
        .ok()
        .and_then(|b| bundle::verifying_key_from_file_bytes(&b).ok())
        .map(|k| bundle::key_id(&k))
        .unwrap_or_default();
    crate::errln!(
        "wrote signing key {} (mode 0600) and public key {} (key {id})",
        args.file.display(),
        public.display()
    );
    ExitCode::from(exit::OK)
}

/// Writes `hex` and a newline to a file created anew: a file already there (after `--force`
/// asked for it) is removed first, so that neither a symbolic link nor the old file's mode is
/// followed. `secret` files are readable by their owner only.
fn write_new(path: &Path, hex: &str, secret: bool) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot replace {}: {e}", path.display())),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(format!("{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
