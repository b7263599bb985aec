//! `winback suppress add|remove|list|export`.

use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure, address_arg, call, print, unexpected};
use crate::admin::{Request, Response};
use crate::clock::rfc3339;
use crate::domain::{Suppression, SuppressionReason};

/// Suppression subcommands.
#[derive(Debug, Subcommand)]
pub enum SuppressCmd {
    /// Suppress an address by hand (reason `manual`).
    Add {
        /// The address.
        email: String,
        /// A note kept with the entry.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lift a suppression (any reason).
    Remove {
        /// The address.
        email: String,
    },
    /// List suppressions.
    List {
        /// Only this reason (hard_bounce, soft_bounce, complaint, unsubscribed, unengaged, manual).
        #[arg(long)]
        reason: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Export suppressions as CSV (email,reason,at,detail) to stdout.
    Export {
        /// Only this reason.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs a suppression subcommand.
pub fn run(cfg: &crate::config::Config, cmd: SuppressCmd) -> CmdResult {
    match cmd {
        SuppressCmd::Add { email, note } => {
            let email = address_arg(&email)?;
            match call(cfg, Request::SuppressAdd { email: email.clone(), note })? {
                Response::Suppressed { added: true, .. } => println!("{email}: suppressed (manual)"),
                Response::Suppressed { added: false, entry } => println!(
                    "{email}: already suppressed ({})",
                    entry.map_or_else(|| "?".to_string(), |e| e.reason.to_string())
                ),
                other => return Err(unexpected(&other)),
            }
        }
        SuppressCmd::Remove { email } => {
            let email = address_arg(&email)?;
            match call(cfg, Request::SuppressRemove { email: email.clone() })? {
                Response::Unsuppressed { lifted: Some(s) } => println!("{email}: suppression ({}) lifted", s.reason),
                Response::Unsuppressed { lifted: None } => {
                    return Err(Failure::new(super::EX_DATAERR, format!("{email} is not suppressed")));
                }
                other => return Err(unexpected(&other)),
            }
        }
        SuppressCmd::List { reason, json } => {
            let entries = list(cfg, reason)?;
            print(json, &entries, || {
                entries
                    .iter()
                    .map(|s| format!("{}\t{}\t{}\t{}\n", s.email, s.reason, rfc3339(s.at), s.detail))
                    .collect::<String>()
                    + &format!("{} suppressed\n", entries.len())
            });
        }
        SuppressCmd::Export { reason } => {
            let entries = list(cfg, reason)?;
            let mut w = csv::Writer::from_writer(std::io::stdout());
            let row = |w: &mut csv::Writer<_>, r: [&str; 4]| {
                w.write_record(r).map_err(|e| Failure::new(super::EX_IOERR, format!("writing CSV: {e}")))
            };
            row(&mut w, ["email", "reason", "at", "detail"])?;
            for s in &entries {
                row(&mut w, [&s.email, s.reason.as_str(), &rfc3339(s.at), &s.detail])?;
            }
            w.flush().map_err(|e| Failure::new(super::EX_IOERR, format!("writing CSV: {e}")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(cfg: &crate::config::Config, reason: Option<String>) -> Result<Vec<Suppression>, Failure> {
    let reason = reason
        .map(|r| {
            SuppressionReason::parse(&r).ok_or_else(|| {
                Failure::new(
                    super::EX_USAGE,
                    format!("unknown reason `{r}`: use hard_bounce, soft_bounce, complaint, unsubscribed, unengaged or manual"),
                )
            })
        })
        .transpose()?;
    match call(cfg, Request::SuppressList { reason })? {
        Response::Suppressions { entries } => Ok(entries),
        other => Err(unexpected(&other)),
    }
}
