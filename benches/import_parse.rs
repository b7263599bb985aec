//! Import parsing speed and memory: parse + normalize + classify + merge
//! of 1,000,000 generated contacts (`WINBACK_BENCH_ROWS` to change), in
//! the three ways the import runs: the domain scan pass, the streaming
//! pass with DNS verdicts, and the in-memory plan. Prints rows/second and
//! the peak resident set (VmHWM) of each phase; the peak is reset between
//! phases through /proc/self/clear_refs.
//!
//! Then an order history as shops export it (`;`-separated, local times
//! in Europe/Berlin, decimal commas): the event reader alone over the same
//! number of rows, and `winback events import --kind purchase --create`
//! of the real binary on a file of `WINBACK_BENCH_EVENT_ROWS` rows
//! (default 200,000; 50,000 customers) into a fresh store, end to end.
//!
//! Rows come from a generator behind `Read`, as they would from a file:
//! the input never sits whole in memory. About 2% are duplicates (with
//! changed case), 0.5% invalid, 0.25% role accounts, 0.25% disposable, and
//! one domain in 2,000 has no mail.

use std::collections::HashSet;
use std::io::Read;
use std::time::Instant;

use winback::config::HygieneConfig;
use winback::domain::import::events::{EventOptions, EventReader, EventRow};
use winback::domain::import::{ImportPlan, ImportReader, Row, Verdict, scan_domains};

/// CSV text produced on demand, 16 kB at a time: a header, then `rows`
/// lines written by `line(i, buf)`.
struct Rows<F: FnMut(u64, &mut Vec<u8>)> {
    rows: u64,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
    line: F,
}

impl<F: FnMut(u64, &mut Vec<u8>)> Rows<F> {
    fn new(header: &[u8], rows: u64, line: F) -> Self {
        Rows { rows, next: 0, buf: header.to_vec(), pos: 0, line }
    }

    fn fill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        while self.buf.len() < 16 * 1024 && self.next < self.rows {
            (self.line)(self.next, &mut self.buf);
            self.next += 1;
        }
    }
}

impl<F: FnMut(u64, &mut Vec<u8>)> Read for Rows<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.fill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The CSV text of `rows` contacts.
fn contacts(rows: u64) -> impl Read {
    use std::io::Write;
    Rows::new(b"email,name,last_engaged_at,last_purchase_at,city,Loyalty Tier\n", rows, |i, buf| {
        let domain = i % 2_000;
        let email = match i % 400 {
            1 | 2 => format!("user{i}@@d{domain}.example"),
            3 => format!("info+{i}@d{domain}.example"),
            4 => format!("u{i}@mailinator.com"),
            r if r % 50 == 49 => format!("First.Last{}@D{}.Example", i - 7, (i - 7) % 2_000),
            _ => format!("first.last{i}@d{domain}.example"),
        };
        let engaged = if i.is_multiple_of(2) { "2024-05-01T12:00:00Z" } else { "2024-05-01" };
        let purchase = if i.is_multiple_of(3) { "" } else { "2023-11-20" };
        let _ = writeln!(buf, "{email},\"Last, First {i}\",{engaged},{purchase},City {},gold", i % 97);
    })
}

/// Order rows of a shop export: order `i` by customer `i % customers`.
fn orders(rows: u64, customers: u64) -> impl Read {
    use std::io::Write;
    Rows::new(b"Bestellnummer;E-Mail-Adresse;Bestelldatum;Betrag;Artikel\n", rows, move |i, buf| {
        let (day, hour) = (1 + i % 28, i % 24);
        let _ = writeln!(
            buf,
            "A-{i};kunde{}@shop{}.example;2025-{:02}-{day:02} {hour:02}:{:02}:{:02};\"{},{:02}\";Artikel {}",
            i % customers,
            i % 500,
            1 + i % 12,
            i % 60,
            (i * 7) % 60,
            10 + i % 990,
            i % 100,
            i % 37
        );
    })
}

/// The event reader alone, and the real `winback events import`.
fn events(rows: u64) {
    let import = match winback::config::Config::from_toml("<bench>", "[import]\ntime_zone = \"Europe/Berlin\"\n") {
        Ok(c) => c.import,
        Err(e) => panic!("config: {e}"),
    };
    reset_peak();
    let started = Instant::now();
    let opts = EventOptions { import: &import, kind: Some("purchase".into()), max_value: 1e9, now: 0 };
    let (mut n, mut bad) = (0u64, 0u64);
    for row in EventReader::new(orders(rows, rows / 4), opts).unwrap_or_else(|e| panic!("{e}")) {
        match row.unwrap_or_else(|e| panic!("{e}")) {
            EventRow::Event { .. } => n += 1,
            EventRow::LineItem { .. } => {}
            EventRow::Bad(b) => {
                bad += 1;
                eprintln!("{b}");
            }
        }
    }
    report("events: reader", rows, started, &format!("{n} events, {bad} bad"));

    let e2e: u64 = std::env::var("WINBACK_BENCH_EVENT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("orders.csv");
    let mut text = Vec::new();
    orders(e2e, e2e / 4).read_to_end(&mut text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("winback.toml");
    let toml = format!(
        "state_dir = \"{}/var\"\n[sender]\nfrom = \"Shop <hello@shop.test>\"\nbounce_domain = \"bounces.shop.test\"\npublic_base_url = \"http://127.0.0.1:1\"\n[transport]\nkind = \"maildir\"\nmaildir = \"{}/outbox\"\n[templates]\ndir = \"{}/config/templates\"\n[import]\ntime_zone = \"Europe/Berlin\"\n",
        dir.path().display(),
        dir.path().display(),
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&config, toml).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_winback"))
        .args(["events", "import", "--kind", "purchase", "--create", "--config"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run winback: {e}"));
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "events import failed: {}", String::from_utf8_lossy(&out.stderr));
    println!(
        "{:<28} {e2e:>9} rows  {secs:>6.2} s  {:>10.0} rows/s  ({} MB file; {})",
        "events import (binary)",
        e2e as f64 / secs,
        text.len() / 1_000_000,
        stdout.lines().last().unwrap_or_default()
    );
}

/// Peak resident set so far, in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn report(phase: &str, rows: u64, started: Instant, extra: &str) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{phase:<28} {rows:>9} rows  {secs:>6.2} s  {:>10.0} rows/s  peak RSS {:>6.1} MB  {extra}",
        rows as f64 / secs,
        peak_mb()
    );
}

fn main() {
    let rows: u64 = std::env::var("WINBACK_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let cfg = match winback::config::Config::from_toml("<embedded>", winback::config::EMBEDDED_DEFAULT) {
        Ok(c) => c.hygiene,
        Err(e) => {
            eprintln!("cannot load the embedded config (run from the crate root): {e}");
            HygieneConfig::default()
        }
    };
    println!("import_parse: {rows} generated rows; baseline peak RSS {:.1} MB", peak_mb());
    let resettable = reset_peak();
    if !resettable {
        println!("(cannot reset VmHWM here: each peak includes the phases before it)");
    }

    let started = Instant::now();
    let domains = match scan_domains(contacts(rows)) {
        Ok(d) => d,
        Err(e) => panic!("scan failed: {e}"),
    };
    report("scan_domains", rows, started, &format!("{} domains", domains.len()));

    let dead: HashSet<String> = ["d1998.example".to_string()].into();
    reset_peak();
    let started = Instant::now();
    let mut reader = match ImportReader::new(contacts(rows), &cfg) {
        Ok(r) => r.with_verdicts(|d| {
            if dead.contains(d) { Verdict::NoMailDomain { detail: "no records".into() } } else { Verdict::Deliverable }
        }),
        Err(e) => panic!("header: {e}"),
    };
    let (mut new, mut dup, mut rejected) = (0u64, 0u64, 0u64);
    for row in reader.by_ref() {
        match row {
            Ok(Row::Contact { .. }) => new += 1,
            Ok(Row::Duplicate { .. }) => dup += 1,
            Ok(Row::Rejected(_)) => rejected += 1,
            Err(e) => panic!("stream failed: {e}"),
        }
    }
    let s = *reader.summary();
    assert_eq!(s.rows_read, rows, "every generated row is read");
    report("stream + verdicts", rows, started, &format!("{new} contacts, {dup} merged, {rejected} rejected"));

    reset_peak();
    let started = Instant::now();
    let plan = match ImportPlan::read(contacts(rows), &cfg) {
        Ok(p) => p,
        Err(e) => panic!("plan failed: {e}"),
    };
    report(
        "in-memory plan",
        rows,
        started,
        &format!("{} contacts, {} report rows", plan.contacts.len(), plan.issues.len()),
    );
    println!("summary of the streaming pass:\n{s}");
    events(rows);
}
