//! `winback reports`: the bounce and complaint reports that were not
//! attributed to a message winback sent, kept for inspection in
//! `state_dir/unattributed` (see [`crate::inbound::unattributed`]). Reads
//! the folder directly, so it works whether or not the daemon runs.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure};
use crate::clock::rfc3339;
use crate::config::Config;
use crate::inbound::unattributed::Quarantine;

/// `winback reports …`
#[derive(Debug, Subcommand)]
pub enum ReportsCmd {
    /// List the unattributed reports still kept (oldest first).
    Unattributed {
        /// JSON output (one array).
        #[arg(long)]
        json: bool,
    },
    /// Print one kept report's message as received.
    Show {
        /// Its id, as listed.
        id: String,
    },
}

/// Runs `winback reports`.
pub fn run(cfg: &Config, cmd: ReportsCmd) -> CmdResult {
    let dir = cfg.state_dir.join("unattributed");
    let io = |e: std::io::Error| Failure::new(super::EX_IOERR, format!("{}: {e}", dir.display()));
    if !dir.exists() {
        println!("no unattributed reports ({} does not exist yet)", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let q = Quarantine::open(&dir, cfg.inbound.keep_unattributed).map_err(io)?;
    match cmd {
        ReportsCmd::Unattributed { json: true } => {
            println!("{}", serde_json::to_string_pretty(&q.list().map_err(io)?).unwrap_or_default());
        }
        ReportsCmd::Unattributed { json: false } => {
            let kept = q.list().map_err(io)?;
            if kept.is_empty() {
                println!("no unattributed reports");
            }
            for k in kept {
                let named = if k.report.named.is_empty() { "-".into() } else { k.report.named.join(",") };
                println!(
                    "{}  {}  {} {}  {}  names: {named}",
                    k.id,
                    rfc3339(k.received_at),
                    k.report.kind,
                    k.report.reason,
                    k.report.why.as_str()
                );
            }
        }
        ReportsCmd::Show { id } => {
            let raw = q.message(&id).map_err(|e| {
                Failure::new(
                    super::EX_NOINPUT,
                    format!("report `{id}`: {e}; `winback reports unattributed` lists them"),
                )
            })?;
            std::io::stdout().write_all(&raw).map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
