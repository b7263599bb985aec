//! Import parsing speed and memory: parse + normalize + classify + merge
//! of 1,000,000 generated contacts (`WINBACK_BENCH_ROWS` to change), in
//! the three ways the import runs: the domain scan pass, the streaming
//! pass with DNS verdicts, and the in-memory plan. Prints rows/second and
//! the peak resident set (VmHWM) of each phase; the peak is reset between
//! phases through /proc/self/clear_refs.
//!
//! Rows come from a generator behind `Read`, as they would from a file:
//! the input never sits whole in memory. About 2% are duplicates (with
//! changed case), 0.5% invalid, 0.25% role accounts, 0.25% disposable, and
//! one domain in 2,000 has no mail.

use std::collections::HashSet;
use std::io::Read;
use std::time::Instant;

use winback::config::HygieneConfig;
use winback::domain::import::{ImportPlan, ImportReader, Row, Verdict, scan_domains};

/// Produces the CSV text of `rows` contacts on demand.
struct Generated {
    rows: u64,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Generated {
    fn new(rows: u64) -> Self {
        let header = b"email,name,last_engaged_at,last_purchase_at,city,Loyalty Tier\n".to_vec();
        Generated { rows, next: 0, buf: header, pos: 0 }
    }

    fn fill(&mut self) {
        use std::io::Write;
        self.buf.clear();
        self.pos = 0;
        while self.buf.len() < 16 * 1024 && self.next < self.rows {
            let i = self.next;
            self.next += 1;
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
            let _ = writeln!(self.buf, "{email},\"Last, First {i}\",{engaged},{purchase},City {},gold", i % 97);
        }
    }
}

impl Read for Generated {
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
    let domains = match scan_domains(Generated::new(rows)) {
        Ok(d) => d,
        Err(e) => panic!("scan failed: {e}"),
    };
    report("scan_domains", rows, started, &format!("{} domains", domains.len()));

    let dead: HashSet<String> = ["d1998.example".to_string()].into();
    reset_peak();
    let started = Instant::now();
    let mut reader = match ImportReader::new(Generated::new(rows), &cfg) {
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
    let plan = match ImportPlan::read(Generated::new(rows), &cfg) {
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
}
