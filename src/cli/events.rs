//! `winback events add|import`: engagement reported by hand or from a file,
//! through the same path as tracking and the events API.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, Failure, address_arg, call_on, unexpected};
use super::events_sort::ByContact;
use crate::admin::client::Admin;
use crate::admin::{EventItemResult, Request, Response};
use crate::clock::{Clock, parse_time};
use crate::config::Config;
use crate::domain::import::ImportError;
use crate::domain::import::events::{EventOptions, EventReader, EventRow, parse_kind};
use crate::domain::{Event, Origin};
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
    /// Record events from a CSV file (columns email, kind, and optional at, value, ref;
    /// separated by `,`, `;` or tabs; order-export headers are understood, see config/import-columns.toml).
    Import {
        /// The file.
        file: PathBuf,
        /// Create unknown contacts.
        #[arg(long)]
        create: bool,
        /// The kind of every row, for a file without a `kind` column (an order export: `purchase`).
        #[arg(long)]
        kind: Option<String>,
        /// Layout of dates that are not ISO, in strftime notation (`%d.%m.%Y`, `%m/%d/%Y %H:%M`);
        /// overrides `[import] date_format`.
        #[arg(long, value_name = "FORMAT")]
        date_format: Option<String>,
    },
}

/// Events per admin request when importing a file (one store transaction
/// each), rounded up to a contact's last event.
const BATCH: usize = 50_000;

/// Events of a file sorted in memory; a longer file is sorted in runs on
/// disk (about 200 bytes of memory an event).
const IN_MEMORY: usize = 400_000;

/// Runs an events subcommand.
pub fn run(cfg: &Config, cmd: EventsCmd) -> CmdResult {
    let now = Clock::system().now();
    let max_value = cfg.http.max_event_value;
    match cmd {
        EventsCmd::Add { email, kind, at, value, reference, create } => {
            let value = value
                .map(|v| check_value(v, max_value))
                .transpose()
                .map_err(|m| Failure::new(super::EX_DATAERR, format!("--value: {m}")))?;
            let e = build(&email, &kind, at.as_deref(), value, reference, now)
                .map_err(|m| Failure::new(super::EX_DATAERR, m))?;
            let mut tally = Tally::default();
            tally.send(&mut Admin::connect(cfg)?, cfg, vec![e], create)?;
            tally.print();
        }
        EventsCmd::Import { file, create, kind, date_format } => {
            let import = super::import::import_config(cfg, date_format.as_deref())?;
            let kind = kind
                .map(|k| parse_kind(&k))
                .transpose()
                .map_err(|m| Failure::new(super::EX_USAGE, format!("--kind: {m}")))?;
            let opts = EventOptions { import: &import, kind, max_value, now };
            import_file(cfg, &file, opts, create)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the daemon did with the events sent so far.
#[derive(Default)]
struct Tally {
    sent: usize,
    recorded: usize,
    reactivated: usize,
    unknown: usize,
}

impl Tally {
    fn send(&mut self, admin: &mut Admin, cfg: &Config, events: Vec<Event>, create: bool) -> Result<(), Failure> {
        let emails: Vec<String> = events.iter().map(|e| e.email.clone()).collect();
        let results = match call_on(admin, cfg, Request::EventsAdd { events, create })? {
            Response::Events { results } => results,
            other => return Err(unexpected(&other)),
        };
        self.sent += emails.len();
        for (email, r) in emails.iter().zip(&results) {
            match r {
                EventItemResult::UnknownContact => {
                    self.unknown += 1;
                    eprintln!("{email}: no such contact, event not recorded (use --create to create it)")
                }
                EventItemResult::Reactivated => {
                    self.recorded += 1;
                    self.reactivated += 1;
                    println!("{email}: reactivated")
                }
                EventItemResult::Recorded => self.recorded += 1,
            }
        }
        Ok(())
    }

    fn print(&self) {
        println!(
            "{} event(s): {} recorded, {} reactivated a contact, {} for unknown contacts (not recorded)",
            self.sent, self.recorded, self.reactivated, self.unknown
        );
    }
}

/// Reads the whole file once to check every row (one bad row and nothing
/// is recorded: every bad row is listed with its line and column) while
/// sorting the events by contact ([`super::events_sort`]), then sends them
/// in batches that end at a contact's last event.
fn import_file(cfg: &Config, path: &std::path::Path, opts: EventOptions<'_>, create: bool) -> Result<(), Failure> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|e| Failure::new(super::EX_NOINPUT, format!("{shown}: {e}")))?;
    let whole = |e: ImportError| Failure::new(super::EX_DATAERR, format!("{shown}: {e}; nothing was recorded"));
    let spill = |e: std::io::Error| Failure::new(super::EX_IOERR, format!("{shown}: sorting the events: {e}"));
    let mut bad = Vec::new();
    let mut line_items = 0u64;
    let mut sorted = ByContact::new(IN_MEMORY);
    let reader = EventReader::new(BufReader::new(file), opts).map_err(whole)?;
    // One thread reads and checks rows while this one sorts them.
    std::thread::scope(|s| -> Result<(), Failure> {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        s.spawn(move || read_ahead(reader, tx));
        for row in rx.into_iter().flatten() {
            match row.map_err(whole)? {
                EventRow::Bad(b) => bad.push(format!("{shown}: {b}")),
                EventRow::LineItem { .. } => line_items += 1,
                EventRow::Event { event, .. } if bad.is_empty() => sorted.push(event).map_err(spill)?,
                EventRow::Event { .. } => {}
            }
        }
        Ok(())
    })?;
    if !bad.is_empty() {
        let n = bad.len();
        return Err(Failure::new(
            super::EX_DATAERR,
            format!(
                "{}\n{shown}: {n} bad row(s); nothing was recorded: fix them and import the file again",
                bad.join("\n")
            ),
        ));
    }
    let mut tally = Tally::default();
    let mut admin = Admin::connect(cfg)?;
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    for event in sorted.finish().map_err(spill)? {
        let event = event.map_err(spill)?;
        let boundary = batch.last().is_some_and(|last| last.email != event.email);
        if (batch.len() >= BATCH && boundary) || batch.len() >= 4 * BATCH {
            tally.send(&mut admin, cfg, std::mem::take(&mut batch), create)?;
        }
        batch.push(event);
    }
    if !batch.is_empty() {
        tally.send(&mut admin, cfg, batch, create)?;
    }
    if line_items > 0 {
        println!(
            "{line_items} row(s) were further lines of the order on the line before (same email and ref): skipped"
        );
    }
    tally.print();
    Ok(())
}

/// Sends the rows of `reader` in blocks, up to and including the first
/// error; stops early when nobody listens any more.
fn read_ahead<R: std::io::Read>(
    reader: EventReader<'_, R>,
    tx: std::sync::mpsc::SyncSender<Vec<Result<EventRow, ImportError>>>,
) {
    const BLOCK: usize = 4_096;
    let mut block = Vec::with_capacity(BLOCK);
    for row in reader {
        let last = row.is_err();
        block.push(row);
        if (block.len() >= BLOCK || last) && tx.send(std::mem::replace(&mut block, Vec::with_capacity(BLOCK))).is_err()
        {
            return;
        }
        if last {
            return;
        }
    }
    let _ = tx.send(block);
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
    let kind = parse_kind(kind)?;
    let at = match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => now,
        Some(s) => {
            parse_time(s).ok_or_else(|| format!("time `{s}` is not RFC 3339 (2026-01-31T12:00:00Z) or a date"))?
        }
    };
    Ok(Event { email, kind, at, origin: Origin::Human, value, reference, message: None })
}
