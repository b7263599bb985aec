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
        /// Events recorded per transaction. The file's events are sorted by
        /// contact first: up to eight batches in memory (about 200 bytes an
        /// event), more in temporary files in $TMPDIR.
        #[arg(long, value_name = "N", default_value = "50000")]
        batch: std::num::NonZeroUsize,
    },
}

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
        EventsCmd::Import { file, create, kind, date_format, batch } => {
            let import = super::import::import_config(cfg, date_format.as_deref())?;
            let kind = kind
                .map(|k| parse_kind(&k))
                .transpose()
                .map_err(|m| Failure::new(super::EX_USAGE, format!("--kind: {m}")))?;
            let opts = EventOptions { import: &import, kind, max_value, now };
            import_file(cfg, &file, opts, create, batch.get())?;
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
        let (req, emails) = request(events, create);
        let answer = call_on(admin, cfg, req)?;
        self.count(emails, answer)
    }

    /// Counts (and reports) what the daemon did with the events of `emails`
    /// (each address with how many events in a row are its).
    fn count(&mut self, emails: Vec<(String, usize)>, answer: Response) -> Result<(), Failure> {
        let results = match answer {
            Response::Events { results } => results,
            Response::Error { message } => return Err(Failure::new(super::EX_SOFTWARE, message)),
            other => return Err(unexpected(&other)),
        };
        let emails = emails.iter().flat_map(|(email, n)| std::iter::repeat_n(email, *n));
        self.sent += results.len();
        for (email, r) in emails.zip(&results) {
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

/// The request recording `events`, and their addresses (each with how
/// many events in a row are its: an import's batch is sorted by contact).
fn request(events: Vec<Event>, create: bool) -> (Request, Vec<(String, usize)>) {
    let mut emails: Vec<(String, usize)> = Vec::new();
    for e in &events {
        match emails.last_mut() {
            Some((last, n)) if *last == e.email => *n += 1,
            _ => emails.push((e.email.clone(), 1)),
        }
    }
    (Request::EventsAdd { events, create }, emails)
}

/// Reads the whole file once to check every row (one bad row and nothing
/// is recorded: every bad row is listed with its line and column) while
/// sorting the events by contact ([`super::events_sort`]), then sends them
/// in batches that end at a contact's last event.
fn import_file(
    cfg: &Config,
    path: &std::path::Path,
    opts: EventOptions<'_>,
    create: bool,
    batch: usize,
) -> Result<(), Failure> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|e| Failure::new(super::EX_NOINPUT, format!("{shown}: {e}")))?;
    let whole = |e: ImportError| Failure::new(super::EX_DATAERR, format!("{shown}: {e}; nothing was recorded"));
    let spill = |e: std::io::Error| Failure::new(super::EX_IOERR, format!("{shown}: sorting the events: {e}"));
    let mut bad = Vec::new();
    let mut line_items = 0u64;
    let mut sorted = ByContact::new(batch.saturating_mul(8));
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
    let mut failed = None;
    let mut batches = Batches { events: sorted.finish().map_err(spill)?, size: batch, next: None, failed: &mut failed };
    let mut refused = None;
    admin.pipeline(
        &cfg.admin_socket,
        std::iter::from_fn(|| batches.next().map(|b| request(b, create))),
        |emails, r| tally.count(emails, r).map_err(|f| refused = Some(f)).is_ok(),
    )?;
    if let Some(f) = refused.or(failed.map(spill)) {
        return Err(f);
    }
    if line_items > 0 {
        println!(
            "{line_items} row(s) were further lines of the order on the line before (same email and ref): skipped"
        );
    }
    tally.print();
    Ok(())
}

/// The sorted events in batches of `size` or a little more, each ending at
/// a contact's last event (but not more than 4 × `size`). A read error
/// ends the batches and is kept in `failed`.
struct Batches<'f, I> {
    events: I,
    size: usize,
    next: Option<Event>,
    failed: &'f mut Option<std::io::Error>,
}

impl<I: Iterator<Item = std::io::Result<Event>>> Iterator for Batches<'_, I> {
    type Item = Vec<Event>;

    fn next(&mut self) -> Option<Vec<Event>> {
        let mut batch: Vec<Event> = self.next.take().into_iter().collect();
        for event in self.events.by_ref() {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    *self.failed = Some(e);
                    return None;
                }
            };
            let boundary = batch.last().is_some_and(|last| last.email != event.email);
            if (batch.len() >= self.size && boundary) || batch.len() >= 4 * self.size {
                self.next = Some(event);
                return Some(batch);
            }
            batch.push(event);
        }
        (!batch.is_empty()).then_some(batch)
    }
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
