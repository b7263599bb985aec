//! The whole pipeline at volume: 1,000,000 generated contacts imported
//! with `winback contacts import` (the real binary, hygiene on, DNS checks
//! off: no network), then the daemon (in this process, as `winback serve`
//! runs it) enrolls the 100,000 of them that have lapsed into a one-step
//! sequence and sends each its message through the scheduler, the
//! throttle (rate limits off) and the pooled SMTP transport to a loopback
//! Postfix `smtp-sink`, every state change durably committed.
//!
//! Prints the import time and rate, the send rate (daemon start until the
//! last outcome is committed and the daemon has stopped), and the peak
//! resident set of the import process and of the daemon. Targets (issue
//! 2): import ≤ 20 s, ≥ 2,000 messages/s, RSS ≤ 200 MB.
//!
//! Counts are checked, not only timed: the import must report every
//! contact created, the store must hold exactly the expected contacts,
//! sequence entries and sent messages, and smtp-sink must have received
//! exactly one message per lapsed contact. Any mismatch aborts the bench.
//!
//! Run: `cargo bench --bench pipeline` (needs /usr/sbin/smtp-sink from the
//! Debian package `postfix`). `WINBACK_BENCH_CONTACTS` and
//! `WINBACK_BENCH_LAPSED` change the sizes (lapsed must divide contacts).

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use winback::clock::Clock;
use winback::config::Config;
use winback::daemon::Listeners;
use winback::store::Store;

/// The targets of issue 2, printed next to the measurements (a benchmark,
/// not a timed assertion: missing one is reported, not a failure).
const TARGET_IMPORT_SECS: f64 = 20.0;
const TARGET_MSGS_PER_SEC: f64 = 2_000.0;
const TARGET_RSS_MB: f64 = 200.0;

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Fails the bench with a message; a wrong count is a failed run. A panic
/// rather than `exit`, so the temp dir and smtp-sink are cleaned up.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!("pipeline bench FAILED: {}", format!($($msg)+));
        }
    };
}

/// Writes `contacts` rows; every `contacts / lapsed`-th contact last
/// engaged long ago (lapsed), the others ten days ago (not due for months).
fn write_csv(path: &Path, contacts: u64, lapsed: u64) -> std::io::Result<()> {
    let recent = (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%d").to_string();
    let every = contacts / lapsed;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "email,name,last_engaged_at,plan")?;
    for i in 0..contacts {
        let engaged = if i % every == 0 { "2023-03-01T09:30:00Z" } else { recent.as_str() };
        let plan = ["basic", "plus", "pro"][(i % 3) as usize];
        writeln!(out, "customer{i}@mail{}.example.net,\"Customer {i}\",{engaged},{plan}", i % 500)?;
    }
    out.flush()
}

fn config_toml(dir: &Path, sink_port: u16) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = dir.display();
    format!(
        r#"
state_dir = "{dir}/var"
[sender]
from = "Example Shop <hello@shop.example>"
bounce_domain = "bounces.shop.example"
public_base_url = "http://127.0.0.1:1"
[transport]
kind = "smtp"
host = "127.0.0.1"
port = {sink_port}
tls = "none"
[limits]
global = "unlimited"
per_domain = "unlimited"
max_connections = 8
[lapse]
inactive_after = "90d"
[hygiene]
role_accounts_file = "{root}/config/role-accounts.txt"
disposable_domains_file = "{root}/config/disposable-domains.txt"
check_dns = false
[http]
listen = "127.0.0.1:0"
[templates]
dir = "{root}/config/templates"

[[sequence]]
name = "winback"
grace = "14d"
  [[sequence.step]]
  after = "0s"
  subject = "We miss you{{% if name %}}, {{{{ name }}}}{{% endif %}}"
  template = "miss-you"
  final = true
"#
    )
}

/// Peak resident set of this process (VmHWM), in MB.
fn own_peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Largest peak resident set among terminated, waited-for children, in MB.
#[allow(unsafe_code)]
fn children_peak_rss_mb() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` through a pointer to memory we
    // own; nothing else here has a safe wrapper (std has none for it).
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: zero-initialized and filled in by a successful call.
    let usage = unsafe { usage.assume_init() };
    // ru_maxrss is in kilobytes on Linux.
    usage.ru_maxrss as f64 / 1024.0
}

/// Whether a figure met its target, for the printout.
fn verdict(met: bool) -> &'static str {
    if met { "target met" } else { "TARGET MISSED" }
}

/// The daemon runs in this process, so it gets the shipped binary's
/// allocator and memory settings: under glibc's malloc the same run peaked
/// 25–35 MB higher (arenas fragmented by the customer refresh's blocking
/// threads), a figure no operator would see.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    winback::memory::no_transparent_huge_pages();
    let contacts = env_count("WINBACK_BENCH_CONTACTS", 1_000_000);
    let lapsed = env_count("WINBACK_BENCH_LAPSED", 100_000);
    check!(
        lapsed > 0 && lapsed <= contacts && contacts.is_multiple_of(lapsed),
        "WINBACK_BENCH_LAPSED ({lapsed}) must divide WINBACK_BENCH_CONTACTS ({contacts})"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = smtp_sink::SmtpSink::start(smtp_sink::SinkOptions { no_dump: true, ..Default::default() });
    let cfg_path = dir.path().join("winback.toml");
    std::fs::write(&cfg_path, config_toml(dir.path(), sink.port())).expect("write config");
    let cfg =
        Arc::new(Config::load(Some(&cfg_path)).unwrap_or_else(|e| panic!("pipeline bench FAILED: bench config: {e}")));

    let csv = dir.path().join("contacts.csv");
    let t = Instant::now();
    write_csv(&csv, contacts, lapsed).expect("write CSV");
    let csv_mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "generated {contacts} contacts ({csv_mb:.0} MB CSV, {lapsed} lapsed) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let import_secs = import(&cfg_path, &csv, contacts);
    let import_rss = children_peak_rss_mb();
    verify_imported(&cfg, contacts, lapsed);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let send_secs = rt.block_on(serve_until_sent(cfg.clone(), &sink, lapsed));
    // Before the checks below, which read every message into memory.
    let daemon_rss = own_peak_rss_mb();
    drop(rt);

    let sent = verify_sent(&cfg, contacts, lapsed);
    // The sink may still be counting the last session's QUIT.
    std::thread::sleep(Duration::from_millis(300));
    let received = sink.received();
    check!(received == lapsed, "smtp-sink received {received} messages, expected exactly {lapsed}");

    let rows_per_sec = contacts as f64 / import_secs;
    let msgs_per_sec = lapsed as f64 / send_secs;
    let peak = import_rss.max(daemon_rss);
    println!();
    println!("pipeline: {contacts} contacts imported, {lapsed} lapsed ones sent one step (release build)");
    println!(
        "  import   {contacts:>8} rows  in {import_secs:>6.2} s = {rows_per_sec:>8.0} rows/s   ({}: ≤ {TARGET_IMPORT_SECS} s)",
        verdict(import_secs <= TARGET_IMPORT_SECS)
    );
    println!(
        "  send     {lapsed:>8} msgs  in {send_secs:>6.2} s = {msgs_per_sec:>8.0} msgs/s   ({}: ≥ {TARGET_MSGS_PER_SEC}/s, durable)",
        verdict(msgs_per_sec >= TARGET_MSGS_PER_SEC)
    );
    println!("  delivered: store {sent} sent (one per lapsed contact), smtp-sink {received} received");
    println!(
        "  peak RSS: import process {import_rss:.0} MB, daemon {daemon_rss:.0} MB   ({}: ≤ {TARGET_RSS_MB} MB)",
        verdict(peak <= TARGET_RSS_MB)
    );
    ExitCode::SUCCESS
}

/// Runs `winback contacts import` on the CSV; returns its wall time.
fn import(cfg_path: &Path, csv: &Path, contacts: u64) -> f64 {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_winback"))
        .args(["contacts", "import", "--json", "--config"])
        .arg(cfg_path)
        .arg(csv)
        .output()
        .expect("run winback contacts import");
    let secs = t.elapsed().as_secs_f64();
    check!(
        out.status.success(),
        "contacts import exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let field = |k: &str| report[k].as_u64().or_else(|| report["summary"][k].as_u64());
    check!(field("created") == Some(contacts), "import created {:?} contacts, expected {contacts}", field("created"));
    check!(field("updated") == Some(0), "import updated {:?} contacts, expected none", field("updated"));
    check!(field("enrolled") == Some(contacts), "import enrolled {:?}, expected {contacts}", field("enrolled"));
    let issues = report["issues"].as_array().map_or(usize::MAX, Vec::len);
    check!(issues == 0, "import reported {issues} row issues on clean input");
    secs
}

/// The store after the import: every contact idle, exactly the lapsed ones due.
fn verify_imported(cfg: &Config, contacts: u64, lapsed: u64) {
    let store = Store::open(&cfg.state_dir).expect("open store");
    let r = store.read().expect("read store");
    let counts = r.counts().expect("counters");
    let total = r.contact_count().expect("count");
    check!(total == contacts, "store holds {total} contacts, expected {contacts}");
    let idle = counts.get("contacts:idle");
    check!(idle == contacts as i64, "{idle} contacts idle after import, expected {contacts}");
    let due = r.due_contacts(Clock::system().now(), usize::MAX).expect("schedule").len() as u64;
    check!(due == lapsed, "{due} contacts due after import, expected the {lapsed} lapsed ones");
    let mb = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!("store after import: {total} contacts, {due} due, {mb:.0} MB on disk");
}

/// Runs the daemon until smtp-sink has every message, then stops it (which
/// waits for every outcome to be committed); returns the seconds from
/// start to stopped.
async fn serve_until_sent(cfg: Arc<Config>, sink: &smtp_sink::SmtpSink, lapsed: u64) -> f64 {
    let listeners = Listeners::bind(&cfg).await.expect("bind the daemon's listeners");
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let mut daemon = tokio::spawn(winback::daemon::run(cfg.clone(), listeners, Clock::system(), cancel.clone()));
    let deadline = start + Duration::from_secs(600);
    let mut first = None;
    loop {
        let got = sink.received();
        if got > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if got >= lapsed {
            break;
        }
        check!(!daemon.is_finished(), "the daemon stopped early with {got} of {lapsed} messages received");
        check!(Instant::now() < deadline, "only {got} of {lapsed} messages arrived within 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    match tokio::time::timeout(Duration::from_secs(60), &mut daemon).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => panic!("pipeline bench FAILED: daemon failed: {e}"),
        Ok(Err(e)) => panic!("pipeline bench FAILED: daemon task failed: {e}"),
        Err(_) => panic!("pipeline bench FAILED: the daemon did not stop within 60 s"),
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(f) = first {
        println!(
            "first message at {:.2} s after start; all sent and committed, daemon stopped at {secs:.2} s",
            f.as_secs_f64()
        );
    }
    secs
}

/// The store after the run: exactly one sent message per lapsed contact,
/// nothing queued, in flight, deferred or failed. Returns the sent count.
fn verify_sent(cfg: &Config, contacts: u64, lapsed: u64) -> u64 {
    // The daemon's commit thread lets go of the database just after it stops.
    let end = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match Store::open(&cfg.state_dir) {
            Ok(s) => break s,
            Err(winback::store::StoreError::Locked(_)) if Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("pipeline bench FAILED: reopen the store: {e}"),
        }
    };
    let r = store.read().expect("read store");
    let counts = r.counts().expect("counters");
    let expect = |key: &str, want: u64| {
        let got = counts.get(key);
        check!(got == want as i64, "counter {key} = {got}, expected {want}");
    };
    expect("messages:queued", lapsed);
    expect("messages:sent", lapsed);
    for k in ["failed", "expired", "cancelled", "interrupted", "deferrals"] {
        expect(&format!("messages:{k}"), 0);
    }
    expect("kpi:entered:winback", lapsed);
    expect("contacts:idle", contacts - lapsed);
    let active: i64 = counts.with_prefix("contacts:active").map(|(_, v)| v).sum();
    check!(active == lapsed as i64, "{active} contacts in the sequence, expected {lapsed}");
    let depth = r.queue_depth().expect("queue depth");
    check!(depth == 0, "{depth} messages still queued");
    let inflight = r.inflight().expect("in flight").len();
    check!(inflight == 0, "{inflight} messages still marked as sending");

    // One sent message with a recorded Message-ID per lapsed contact.
    let every = contacts / lapsed;
    let mut seen = vec![false; lapsed as usize];
    let (mut sent, mut wrong) = (0u64, Vec::new());
    r.for_each_message(|m| {
        let i = m.email.strip_prefix("customer").and_then(|s| s.split('@').next()).and_then(|n| n.parse::<u64>().ok());
        let slot = i.filter(|i| i % every == 0).map(|i| (i / every) as usize);
        match slot {
            Some(s) if m.state == winback::store::MessageState::Sent && m.message_id.is_some() && !seen[s] => {
                seen[s] = true;
                sent += 1;
            }
            _ if wrong.len() < 5 => wrong.push(format!("{} ({})", m.email, m.state.name())),
            _ => {}
        }
    })
    .expect("messages");
    check!(wrong.is_empty(), "unexpected messages, e.g. {wrong:?}");
    check!(sent == lapsed, "{sent} lapsed contacts got their message, expected {lapsed}");
    sent
}
