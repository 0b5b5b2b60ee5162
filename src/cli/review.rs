//! `aarm review list|accept|flag`: the overrides waiting for a verdict, read from the store
//! `aarm serve` keeps them in (server/README.md, "Overrides and review"), and the verdict on one,
//! recorded as `POST /v1/reviews/{id}` records it. `--by` names the reviewer, as the operator
//! vouches for them (like `aarm case approve --by`); the override's author is refused.

use super::exit;
use super::output::print_json;
use super::store::{now_of, Common};
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
    /// Accept an override (someone other than its author): a `review` receipt.
    Accept {
        /// The override's `decision_id`.
        id: String,
        #[command(flatten)]
        verdict: VerdictArgs,
    },
    /// Flag an override: a `review` receipt, and a notice to the channels its grant went to.
    Flag {
        /// The override's `decision_id`.
        id: String,
        #[command(flatten)]
        verdict: VerdictArgs,
    },
}

#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// The reviewer (not the override's author).
    #[arg(long)]
    by: String,
    /// Why, in a few words (at most 2000 bytes).
    #[arg(long)]
    note: Option<String>,
    /// The service's serve.toml, to send a flag's notice (`[notify.channels]`); required to flag
    /// an override whose grant was announced.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    common: Common,
}

pub fn run(args: &ReviewArgs) -> ExitCode {
    exit::status(run_inner(&args.command))
}

fn verdict(id: &str, verdict: &str, a: &VerdictArgs) -> Result<u8, String> {
    super::overrides::review(&a.common, id, &a.by, verdict, a.note.as_deref(), a.config.as_deref())
}

fn run_inner(command: &ReviewCommand) -> Result<u8, String> {
    match command {
        ReviewCommand::List { common } => {
            let now = now_of(common)?;
            let store = AnyStore::open(&common.store, false).map_err(|e| e.to_string())?;
            let pending = store.overrides().and_then(|o| o.unreviewed()).map_err(|e| e.to_string())?;
            let reviews: Vec<serde_json::Value> =
                pending.iter().map(|o| aarm_server::overrides::review_view(o, now)).collect();
            print_json(&serde_json::json!({ "reviews": reviews }));
            Ok(exit::OK)
        }
        ReviewCommand::Accept { id, verdict: a } => verdict(id, "accept", a),
        ReviewCommand::Flag { id, verdict: a } => verdict(id, "flag", a),
    }
}
