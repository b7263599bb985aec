//! The daemon's memory around one hostile report: the real binary, on the
//! shipped configuration with its state in a temporary folder, takes a
//! 9.8 MB notice naming 215,000 addresses from a watched Maildir. Prints
//! the resident set before, the peak, and the resident set after the report
//! was processed (what the allocator gave back); asserts nothing.
//!
//! Run with `cargo bench --bench daemon_memory`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let maildir = dir.path().join("bounces");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("make the watched Maildir");
    }
    let shipped = std::fs::read_to_string(root.join("config/winback.toml")).expect("config/winback.toml");
    let state = dir.path().join("var");
    let config = shipped
        .replace("state_dir = \"./var\"", &format!("state_dir = {:?}", state.display().to_string()))
        .replace("maildir = \"./var/outbox\"", &format!("maildir = {:?}", state.join("outbox").display().to_string()))
        .replace(
            "# maildir_watch = \"/var/mail/bounces\"",
            &format!("maildir_watch = {:?}", maildir.display().to_string()),
        )
        .replace("maildir_interval = \"30s\"", "maildir_interval = \"1s\"")
        .replace("127.0.0.1:8025", "127.0.0.1:0")
        .replace("127.0.0.1:9925", "127.0.0.1:0")
        .replace("127.0.0.1:8026", "127.0.0.1:0");
    let config_path = dir.path().join("winback.toml");
    std::fs::write(&config_path, config).expect("write the configuration");

    let mut daemon = Command::new(env!("CARGO_BIN_EXE_winback"))
        .current_dir(root)
        .args(["serve", "--log-format", "text", "-c"])
        .arg(&config_path)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start winback serve");
    let pid = daemon.id();
    let mut log = BufReader::new(daemon.stderr.take().expect("the daemon's log")).lines();
    let mut wait_for = |words: &str| {
        for line in log.by_ref() {
            let line = line.unwrap_or_default();
            if line.contains(words) {
                return;
            }
        }
        eprintln!("daemon_memory bench: the daemon ended before logging {words:?}");
        std::process::exit(1);
    };
    wait_for("winback ready");
    let before = status_kb(pid, "VmRSS");

    let lines: Vec<String> = (0..215_000).map(|i| format!("<u{i}@example.net>: 550 5.1.1 user unknown")).collect();
    let notice = format!(
        "From: MAILER-DAEMON@mx.example.org\nTo: bounces@bounces.shop.example\n\
         Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.org.\n\n{}\n",
        lines.join("\n")
    );
    let tmp = maildir.join("tmp/hostile.eml");
    std::fs::write(&tmp, &notice).expect("write the notice");
    let start = Instant::now();
    std::fs::rename(&tmp, maildir.join("new/hostile.eml")).expect("deliver the notice");
    wait_for("unattributed report kept for inspection");
    let processed = start.elapsed();
    println!(
        "daemon memory: {:.1} MB notice processed in {:.2} s (watch interval 1 s)",
        notice.len() as f64 / 1e6,
        processed.as_secs_f64()
    );
    println!("daemon memory: resident before {} MB", before / 1024);
    let logged = Instant::now();
    for after in [0.5, 1.0, 2.0] {
        std::thread::sleep(Duration::from_secs_f64(after).saturating_sub(logged.elapsed()));
        println!(
            "daemon memory: resident {after} s after, {} MB (peak {} MB)",
            status_kb(pid, "VmRSS") / 1024,
            status_kb(pid, "VmHWM") / 1024
        );
    }
    // SIGINT: the daemon drains and exits.
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let _ = daemon.wait();
}

/// A `/proc/PID/status` figure in kB (0 when it cannot be read).
fn status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
