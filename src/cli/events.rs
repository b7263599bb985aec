//! `winback events add|import`: engagement reported by hand or from a file,
//! through the same path as tracking and the events API.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure, address_arg, call, unexpected};
use crate::admin::{EventItemResult, Request, Response};
use crate::clock::{Clock, parse_time};
use crate::config::Config;
use crate::domain::{Event, EventKind, Origin};
use crate::http::api_input::check_value;

/// Event subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Record one event.
    Add {
        /// The contact's address.
        email: String,
        /// open, click, purchase, login, reply, visit, …
        kind: String,
        /// When (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        /// Monetary value (purchases).
        #[arg(long)]
        value: Option<f64>,
        /// Application reference (order number …).
        #[arg(long = "ref")]
        reference: Option<String>,
        /// Create the contact if unknown.
        #[arg(long)]
        create: bool,
    },
    /// Record events from a CSV file (columns email, kind, and optional at, value, ref).
    Import {
        /// The file.
        file: PathBuf,
        /// Create unknown contacts.
        #[arg(long)]
        create: bool,
    },
}

/// Runs an events subcommand.
pub fn run(cfg: &Config, cmd: EventsCmd) -> CmdResult {
    let now = Clock::system().now();
    let max_value = cfg.http.max_event_value;
    let (events, origin) = match cmd {
        EventsCmd::Add { email, kind, at, value, reference, create } => {
            let value = value
                .map(|v| check_value(v, max_value))
                .transpose()
                .map_err(|m| Failure::new(super::EX_DATAERR, format!("--value: {m}")))?;
            let e = build(&email, &kind, at.as_deref(), value, reference, now)
                .map_err(|m| Failure::new(super::EX_DATAERR, m))?;
            (vec![e], create)
        }
        EventsCmd::Import { file, create } => (read_file(&file, max_value, now)?, create),
    };
    let n = events.len();
    let emails: Vec<String> = events.iter().map(|e| e.email.clone()).collect();
    let results = match call(cfg, Request::EventsAdd { events, create: origin })? {
        Response::Events { results } => results,
        other => return Err(unexpected(&other)),
    };
    let count = |k| results.iter().filter(|r| **r == k).count();
    for (email, r) in emails.iter().zip(&results) {
        match r {
            EventItemResult::UnknownContact => {
                eprintln!("{email}: no such contact, event not recorded (use --create to create it)")
            }
            EventItemResult::Reactivated => println!("{email}: reactivated"),
            EventItemResult::Recorded => {}
        }
    }
    println!(
        "{n} event(s): {} recorded, {} reactivated a contact, {} for unknown contacts (not recorded)",
        count(EventItemResult::Recorded) + count(EventItemResult::Reactivated),
        count(EventItemResult::Reactivated),
        count(EventItemResult::UnknownContact)
    );
    Ok(ExitCode::SUCCESS)
}

fn build(
    email: &str,
    kind: &str,
    at: Option<&str>,
    value: Option<f64>,
    reference: Option<String>,
    now: i64,
) -> Result<Event, String> {
    let email = address_arg(email).map_err(|f| f.message)?;
    let kind = kind.trim().to_ascii_lowercase();
    if !crate::config::valid_kind(&kind) {
        return Err(format!(
            "event kind `{kind}`: use lower-case letters, digits, `_` and `-` (open, click, purchase, login …)"
        ));
    }
    let at = match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => now,
        Some(s) => {
            parse_time(s).ok_or_else(|| format!("time `{s}` is not RFC 3339 (2026-01-31T12:00:00Z) or a date"))?
        }
    };
    Ok(Event { email, kind: EventKind::parse(&kind), at, origin: Origin::Human, value, reference, message: None })
}

/// Reads and validates the whole file first: one bad row and nothing is recorded.
fn read_file(path: &std::path::Path, max_value: f64, now: i64) -> Result<Vec<Event>, Failure> {
    let bad = |m: String| Failure::new(super::EX_DATAERR, format!("{}: {m}", path.display()));
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| Failure::new(super::EX_NOINPUT, format!("{}: {e}", path.display())))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(format!("header line: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(ie), Some(ik)) = (col("email"), col("kind")) else {
        return Err(bad("the header line needs `email` and `kind` columns (optional: at, value, ref)".into()));
    };
    let (ia, iv, ir) = (col("at"), col("value"), col("ref"));
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty());
        let value = match get(iv).map(|s| s.parse::<f64>().map_err(|_| format!("`{s}` is not a number"))) {
            None => None,
            Some(v) => match v.and_then(|v| check_value(v, max_value)) {
                Ok(v) => Some(v),
                Err(m) => {
                    let column = iv.map_or(0, |i| i + 1);
                    errors.push(format!("line {line}, column {column} (value): {m}"));
                    continue;
                }
            },
        };
        match build(
            get(Some(ie)).unwrap_or(""),
            get(Some(ik)).unwrap_or(""),
            get(ia),
            value,
            get(ir).map(String::from),
            now,
        ) {
            Ok(e) => events.push(e),
            Err(m) => errors.push(format!("line {line}: {m}")),
        }
    }
    if !errors.is_empty() {
        return Err(bad(format!("{} bad row(s), nothing recorded:\n  {}", errors.len(), errors.join("\n  "))));
    }
    Ok(events)
}
