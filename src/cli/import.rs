//! `winback contacts import FILE.csv [--dry-run]`.

use std::path::PathBuf;

use super::common::{CmdResult, Failure};
use crate::config::Config;

/// Arguments of `contacts import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file (columns email, and optional name, last_engaged_at, last_purchase_at, …).
    pub file: PathBuf,
    /// Report what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the import.
pub fn run(_cfg: &Config, args: ImportArgs) -> CmdResult {
    Err(Failure::new(super::EX_SOFTWARE, format!("import of {} is not wired yet", args.file.display())))
}
