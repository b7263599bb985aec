//! `winback backup DEST`, `winback restore SRC`, `winback store check`
//! and `winback store compact`: copies and care of the state directory.
//! A backup goes through the daemon when it runs (sending goes on) and is
//! taken from the store directly when it does not; restore and compaction
//! need the state directory to themselves and refuse while a daemon runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure, call, unexpected};
use super::{EX_DATAERR, EX_IOERR, EX_TEMPFAIL};
use crate::admin::{Request, Response};
use crate::backup::{BackupError, Manifest};
use crate::config::Config;
use crate::store::{CheckReport, StoreError};

/// `winback store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Check every record and index entry (and, with no daemon running, every page).
    ///
    /// Exit status: 0 when clean, 65 when problems were found.
    Check {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Give the store file's free pages back (the daemon must be stopped).
    Compact,
}

fn failure(e: BackupError) -> Failure {
    let code = match &e {
        BackupError::Store(StoreError::Locked(_)) => EX_TEMPFAIL,
        BackupError::Refused(_) => EX_DATAERR,
        _ => EX_IOERR,
    };
    Failure::new(code, e.to_string())
}

fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| Failure::new(EX_IOERR, format!("{}: {e}", path.display())))
}

fn summary(m: &Manifest) -> String {
    let r = &m.rows;
    format!(
        "{} contacts, {} messages, {} events, {} suppressions, {} other files",
        r.get("contacts"),
        r.get("messages"),
        r.get("events"),
        r.get("suppressions"),
        m.files.len()
    )
}

/// Takes a backup into `dest`.
pub fn backup(cfg: &Config, dest: &Path) -> CmdResult {
    let dest = absolute(dest)?;
    crate::backup::check_dest(&dest).map_err(failure)?;
    match call(cfg, Request::Backup { dest: dest.clone() })? {
        Response::Backup { manifest } => println!("backup in {}: {}", dest.display(), summary(&manifest)),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Restores the backup `src` into the configured state directory.
pub fn restore(cfg: &Config, src: &Path) -> CmdResult {
    let _lock = crate::daemon::lock::acquire(&cfg.state_dir).map_err(|e| Failure::new(EX_TEMPFAIL, e.to_string()))?;
    let now = crate::clock::Clock::system().now();
    let (manifest, aside) = crate::backup::restore(src, &cfg.state_dir, now).map_err(failure)?;
    println!(
        "restored {} (taken {}) into {}: {}",
        src.display(),
        crate::clock::rfc3339(manifest.taken_at),
        cfg.state_dir.display(),
        summary(&manifest)
    );
    if let Some(aside) = aside {
        println!("what the state directory held before is kept in {}", aside.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a `store` subcommand.
pub fn store(cfg: &Config, cmd: StoreCmd) -> CmdResult {
    match cmd {
        StoreCmd::Check { json } => check(cfg, json),
        StoreCmd::Compact => {
            let _lock =
                crate::daemon::lock::acquire(&cfg.state_dir).map_err(|e| Failure::new(EX_TEMPFAIL, e.to_string()))?;
            let (before, after) = crate::store::compact(&cfg.state_dir).map_err(|e| failure(e.into()))?;
            println!("store compacted: {} → {} bytes", before, after);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(cfg: &Config, json: bool) -> CmdResult {
    let daemon = std::os::unix::net::UnixStream::connect(&cfg.admin_socket).is_ok();
    let pages_ok =
        if daemon { None } else { Some(crate::store::check_pages(&cfg.state_dir).map_err(|e| failure(e.into()))?) };
    let mut report = match call(cfg, Request::StoreCheck)? {
        Response::StoreCheck { report } => *report,
        other => return Err(unexpected(&other)),
    };
    report.pages_ok = pages_ok;
    super::common::print(json, &report, || render(&report));
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(EX_DATAERR) })
}

fn render(r: &CheckReport) -> String {
    let mut out = String::new();
    for (table, rows) in &r.rows.0 {
        out.push_str(&format!("{table:<16} {rows:>10} rows"));
        if table == "events" {
            out.push_str(&format!(" ({} events)", r.events));
        }
        out.push('\n');
    }
    out.push_str(match r.pages_ok {
        None => "pages: not checked (the daemon holds the file; stop it for a page check)\n",
        Some(true) => "pages: ok\n",
        Some(false) => {
            "pages: REPAIRED (redb found inconsistent pages and rebuilt what it could; records listed below are damaged, restore from a backup if any are missing)\n"
        }
    });
    for p in &r.problems {
        out.push_str(&format!("problem: {p}\n"));
    }
    if r.problem_count > r.problems.len() as u64 {
        out.push_str(&format!("… and {} more problems\n", r.problem_count - r.problems.len() as u64));
    }
    out.push_str(if r.is_clean() { "store: clean\n" } else { "store: PROBLEMS FOUND\n" });
    out
}
