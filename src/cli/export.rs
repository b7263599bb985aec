//! `winback export events [--since T] [--format csv|jsonl]` and
//! `winback report --csv`: data for BI tools on stdout.
//!
//! The event export reads the journal in pages of [`PAGE`] events (through
//! the daemon's admin socket when it runs, else on the store) and writes
//! each page before asking for the next, so memory stays the same however
//! many events there are.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::common::{CmdResult, Failure, call, call_on, unexpected};
use crate::admin::client::Admin;
use crate::admin::{Request, Response};
use crate::clock::parse_time;
use crate::config::Config;
use crate::report::export::{EventWriter, Format, report_csv};

/// Events per request.
pub const PAGE: usize = 1_000;

/// `winback export …`
#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Every recorded event in recording order, one per row.
    Events {
        /// Only events that happened at or after this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
        format: FormatArg,
    },
}

/// The `--format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// CSV (RFC 4180) with a header row.
    Csv,
    /// JSON Lines: one object per event.
    Jsonl,
}

fn io(e: std::io::Error) -> Failure {
    Failure::new(super::EX_IOERR, format!("cannot write the export: {e}"))
}

/// Runs `winback export`.
pub fn run(cfg: &Config, cmd: ExportCmd) -> CmdResult {
    let ExportCmd::Events { since, format } = cmd;
    let since = match since {
        None => None,
        Some(s) => Some(
            parse_time(&s)
                .ok_or_else(|| Failure::new(super::EX_USAGE, format!("--since `{s}`: write 2026-06-01 or RFC 3339")))?,
        ),
    };
    let format = match format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let stdout = std::io::stdout().lock();
    let mut out = EventWriter::new(std::io::BufWriter::new(stdout), format).map_err(io)?;
    let mut admin = Admin::connect(cfg)?;
    let mut after = None;
    loop {
        let (events, next) = match call_on(&mut admin, cfg, Request::EventsPage { after, since, limit: PAGE })? {
            Response::EventsPage { events, next } => (events, next),
            other => return Err(unexpected(&other)),
        };
        for (id, e) in &events {
            out.write(*id, e).map_err(io)?;
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.finish().map_err(io)?;
    Ok(ExitCode::SUCCESS)
}

/// `winback report --csv`.
pub fn report(cfg: &Config) -> CmdResult {
    match call(cfg, Request::Report)? {
        Response::Report(r) => {
            let mut stdout = std::io::stdout().lock();
            report_csv(&r, &mut stdout).map_err(io)?;
            stdout.flush().map_err(io)?;
        }
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
