//! `winback bounce …`: offline bounce classification.

use std::process::ExitCode;

use clap::Subcommand;

/// Bounce subcommands.
#[derive(Debug, Subcommand)]
pub enum BounceCmd {
    /// Classify bounce, complaint and auto-reply messages.
    Classify {
        /// Output format: tsv or json.
        #[arg(long, default_value = "tsv")]
        format: String,
        /// Files or folders (recursive).
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
}

/// Runs a bounce subcommand.
pub fn run(cmd: BounceCmd) -> ExitCode {
    match cmd {
        BounceCmd::Classify { .. } => {
            eprintln!("winback bounce classify: not built yet");
            ExitCode::from(super::EX_SOFTWARE)
        }
    }
}
