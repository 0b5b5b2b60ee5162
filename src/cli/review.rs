//! `aarm review`: the overrides waiting for a verdict, read from the store `aarm serve` keeps
//! them in (server/README.md, "Overrides and review"). Verdicts are given through the service
//! (`POST /v1/reviews/{id}`), where the reviewer is authenticated.

use super::case::{now_of, print_json, Common};
use super::exit;
use aarm_cases::store::any::AnyStore;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Print the overrides waiting for a verdict, oldest first, as `GET /v1/reviews` answers
    /// them (`current`: whether the override may still be acted on at `--now`).
    List {
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(args: &ReviewArgs) -> ExitCode {
    match run_inner(&args.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(message) => {
            crate::errln!("error: {message}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run_inner(command: &ReviewCommand) -> Result<(), String> {
    match command {
        ReviewCommand::List { common } => {
            let now = now_of(common)?;
            let store = AnyStore::open(&common.store, false).map_err(|e| e.to_string())?;
            let pending = store.overrides().and_then(|o| o.unreviewed()).map_err(|e| e.to_string())?;
            let reviews: Vec<serde_json::Value> =
                pending.iter().map(|o| aarm_server::overrides::review_view(o, now)).collect();
            print_json(&serde_json::json!({ "reviews": reviews }));
            Ok(())
        }
    }
}
