//! The `aarm` binary. Work runs on a thread with a large stack: the front end bounds recursion
//! by its nesting limit, and this keeps a wide margin below the operating system's limit.

#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use clap::Parser;
use std::process::ExitCode;

const STACK_BYTES: usize = 256 * 1024 * 1024;

// Microsoft's mimalloc instead of glibc's malloc: per-thread free lists without the
// consolidation and arena locking glibc did on every decision `aarm serve` answered.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = aarm::cli::Cli::parse();
    let worker =
        std::thread::Builder::new().name("aarm".into()).stack_size(STACK_BYTES).spawn(move || aarm::cli::run(cli));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            aarm::errln!("error: internal failure (the worker thread could not run)");
            ExitCode::from(aarm::cli::exit::USAGE)
        }
    }
}
