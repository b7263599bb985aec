//! Reload without a restart, through the real binary: `winback reload` and
//! SIGHUP read the configuration and templates again; a new rate and a new
//! subject apply to the next messages (even those already waiting on the
//! old rate); an invalid file changes nothing and `winback reload` exits 64
//! with the error; a changed listen address is reported as needing a
//! restart while the old listener keeps serving; and no queued message is
//! lost or sent twice across reloads (counted at Postfix's smtp-sink).

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::daemon::{Winback, config_with, smtp_config};
use support::outbox::header;
use support::smtp_sink::{SinkOptions, SmtpSink};

const OLD_SUBJECT: &str = "We miss you";
const NEW_SUBJECT: &str = "Come back for 10% off";

/// One message at once to every lapsed contact, with `subject`.
fn sequence(subject: &str) -> String {
    format!(
        "[[sequence]]\nname = \"wb\"\ngrace = \"1h\"\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"{subject}\"\n\
         template = \"miss-you\"\nfinal = true\n"
    )
}

/// Mail into the Maildir outbox at `rate` overall.
fn maildir(rate: &str, subject: &str) -> String {
    config_with(
        "kind = \"maildir\"\nmaildir = \"{dir}/outbox\"",
        &format!("[limits]\nglobal = \"{rate}\"\n{}", sequence(subject)),
    )
}

/// Replaces the configuration file (the daemon reads it on reload).
fn rewrite(wb: &Winback, config: &str) {
    std::fs::write(&wb.config, config.replace("{dir}", &wb.dir.path().display().to_string())).expect("config");
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `winback reload`, which must succeed; returns what it printed.
fn reload(wb: &Winback) -> String {
    let out = wb.cli(&["reload"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "reload failed ({}): {stdout}{stderr}\nlog:\n{}", out.status, wb.log());
    stdout
}

/// Waits until the daemon's log has `n` lines containing `what`.
fn wait_log(wb: &Winback, what: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while wb.log().matches(what).count() < n {
        assert!(Instant::now() < deadline, "no {n}× `{what}` in the log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The subject of the message to each recipient in the outbox.
fn subjects(wb: &Winback, n: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = wb
        .maildir_messages("outbox/new", n)
        .iter()
        .map(|m| (header(m, "Delivered-To"), header(m, "Subject")))
        .collect();
    out.sort();
    out
}

fn hangup(wb: &Winback) {
    let pid = wb.pid().expect("daemon running").to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
}

#[test]
fn a_new_rate_and_subject_apply_to_the_next_messages() {
    // One message an hour: after the first, the others wait on the rate.
    let mut wb = Winback::new(&maildir("1/h", OLD_SUBJECT));
    wb.import(&["ann@example.com", "ben@example.com", "cy@example.com"]);
    wb.start();
    let first = subjects(&wb, 1);
    assert_eq!(first[0].1, OLD_SUBJECT);
    wb.wait_for(Duration::from_secs(20), "two messages waiting on the rate", |s| s["queue_depth"] == 2);

    rewrite(&wb, &maildir("unlimited", NEW_SUBJECT));
    let said = reload(&wb);
    assert!(said.contains("changed: [limits], [[sequence]]"), "{said}");
    assert!(!said.contains("needs a restart"), "{said}");

    // Both waiting messages go now (the old rate would hold them for hours)
    // and are composed with the new subject.
    let all = subjects(&wb, 3);
    let new: Vec<&(String, String)> = all.iter().filter(|(_, s)| s == NEW_SUBJECT).collect();
    assert_eq!(new.len(), 2, "{all:?}");
    assert!(all.contains(&first[0]), "{all:?}");
    assert!(wb.log().contains("configuration reloaded"));
    assert!(wb.stop(), "clean stop after the reload");
}

#[test]
fn an_invalid_configuration_changes_nothing_and_exits_64() {
    let good = maildir("unlimited", OLD_SUBJECT);
    let mut wb = Winback::new(&good);
    wb.import(&["ann@example.com"]);
    wb.start();
    subjects(&wb, 1);

    // A new subject and a template that does not exist.
    let bad = good.replace(OLD_SUBJECT, NEW_SUBJECT).replace("template = \"miss-you\"", "template = \"gone\"");
    rewrite(&wb, &bad);
    let out = wb.cli(&["reload"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stdout}{stderr}");
    assert!(stderr.contains("step[0].template") && stderr.contains("gone.txt does not exist"), "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    wait_log(&wb, "reload refused, the configuration in force is unchanged", 1);

    // SIGHUP with the same file: refused again, and the daemon lives on.
    hangup(&wb);
    wait_log(&wb, "reload refused, the configuration in force is unchanged", 2);

    // The old configuration still sends (the file is put back only so the
    // import command can read it; the daemon is not reloaded).
    rewrite(&wb, &good);
    wb.import(&["ben@example.com"]);
    let all = subjects(&wb, 2);
    assert_eq!(all[1], ("ben@example.com".to_string(), OLD_SUBJECT.to_string()), "{all:?}");
    assert!(wb.stop());
}

#[test]
fn sighup_reloads_like_the_command() {
    let mut wb = Winback::new(&maildir("unlimited", OLD_SUBJECT));
    wb.import(&["ann@example.com"]);
    wb.start();
    subjects(&wb, 1);

    rewrite(&wb, &maildir("unlimited", NEW_SUBJECT));
    hangup(&wb);
    wait_log(&wb, "configuration reloaded", 1);
    assert!(wb.log().contains("SIGHUP received"));

    wb.import(&["ben@example.com"]);
    let all = subjects(&wb, 2);
    assert_eq!(all[0], ("ann@example.com".to_string(), OLD_SUBJECT.to_string()));
    assert_eq!(all[1], ("ben@example.com".to_string(), NEW_SUBJECT.to_string()));
    assert!(wb.stop());
}

/// The daemon's HTTP address, from its log.
fn http_addr(wb: &Winback) -> String {
    wait_log(wb, "http listening", 1);
    let log = wb.log();
    let line = log.lines().find(|l| l.contains("http listening")).expect("line");
    let at = line.find("127.0.0.1:").expect("address");
    let port: String = line[at + 10..].chars().take_while(char::is_ascii_digit).collect();
    format!("127.0.0.1:{port}")
}

fn healthz(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to the old listener");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn a_new_listen_address_needs_a_restart_and_the_old_listener_serves_on() {
    let config = maildir("unlimited", OLD_SUBJECT);
    let mut wb = Winback::new(&config);
    wb.start();
    let addr = http_addr(&wb);
    assert!(healthz(&addr).starts_with("HTTP/1.1 200"));

    let moved = config.replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:1\"");
    assert_ne!(moved, config);
    rewrite(&wb, &moved.replace("\"unlimited\"", "\"100/s\""));
    let said = reload(&wb);
    assert!(said.contains("changed: [limits]"), "{said}");
    assert!(said.contains("changed but needs a restart: [http] listen"), "{said}");
    assert!(wb.log().contains("changed but needs a restart (the start-up value stays in force): [http] listen"));
    let answer = healthz(&addr);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(wb.stop());
}

#[test]
fn no_queued_message_is_lost_or_sent_twice_across_reloads() {
    const CONTACTS: usize = 60;
    let sink = SmtpSink::start(SinkOptions::default());
    let config = |rate: &str, subject: &str| smtp_config(sink.port(), rate, &sequence(subject));
    let mut wb = Winback::new(&config("20/s", OLD_SUBJECT));
    let people: Vec<String> = (0..CONTACTS).map(|i| format!("p{i:02}@example.com")).collect();
    wb.import(&people.iter().map(String::as_str).collect::<Vec<_>>());
    wb.start();

    // Reload while the queue drains: slower, then a new subject, then unlimited.
    sink.wait_for(5, Duration::from_secs(30));
    rewrite(&wb, &config("10/s", OLD_SUBJECT));
    reload(&wb);
    sink.wait_for(15, Duration::from_secs(30));
    rewrite(&wb, &config("10/s", NEW_SUBJECT));
    reload(&wb);
    sink.wait_for(25, Duration::from_secs(30));
    rewrite(&wb, &config("unlimited", NEW_SUBJECT));
    reload(&wb);

    let status = wb.wait_for(Duration::from_secs(60), "every message sent", |s| {
        s["messages"]["sent"].as_i64().unwrap_or(0) == CONTACTS as i64
    });
    assert_eq!(status["queue_depth"], 0, "{status:#}");
    assert!(status["messages"]["failed"].is_null(), "{status:#}");
    assert!(status["messages"]["interrupted"].is_null(), "{status:#}");
    let got = sink.wait_for(CONTACTS, Duration::from_secs(10));
    assert_eq!(got.len(), CONTACTS, "each queued message arrives once");
    let rcpts: BTreeSet<String> = got.iter().flat_map(|m| m.rcpt.clone()).collect();
    assert_eq!(rcpts, people.iter().cloned().collect::<BTreeSet<_>>());
    let new = got.iter().filter(|m| String::from_utf8_lossy(&m.bytes).contains(NEW_SUBJECT)).count();
    assert!(new > 0 && new < CONTACTS, "the new subject from its reload on: {new} of {CONTACTS}");
    assert!(wb.stop());
}

#[test]
fn changed_lapse_rules_recompute_every_due_time() {
    // Last engaged in 2020: not lapsed after 5000 days, lapsed after 90.
    let config = |after: &str| {
        config_with(
            "kind = \"maildir\"\nmaildir = \"{dir}/outbox\"",
            &format!("[lapse]\ninactive_after = \"{after}\"\n{}", sequence(OLD_SUBJECT)),
        )
    };
    let mut wb = Winback::new(&config("5000d"));
    wb.import(&["ann@example.com", "ben@example.com"]);
    wb.start();
    let idle = wb.status();
    assert_eq!((idle["idle"].as_i64(), idle["queue_depth"].as_i64()), (Some(2), Some(0)), "{idle:#}");

    rewrite(&wb, &config("90d"));
    let said = reload(&wb);
    assert!(said.contains("changed: [lapse]"), "{said}");
    assert!(said.contains("due times are recomputed in the background"), "{said}");
    let sent = subjects(&wb, 2);
    assert_eq!(sent.iter().map(|(to, _)| to.as_str()).collect::<Vec<_>>(), ["ann@example.com", "ben@example.com"]);
    wait_log(&wb, "lapse rules or sequences changed: recomputing every due time", 1);
    assert!(wb.stop());
}

/// Datagrams on `sock` until one has the line `line`; returns them all.
fn notifications_until(sock: &std::os::unix::net::UnixDatagram, line: &str, n: usize) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
    while got.iter().filter(|m: &&String| m.lines().any(|l| l == line)).count() < n {
        assert!(Instant::now() < deadline, "no {n}× {line}; received: {got:#?}");
        if let Ok(len) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
    }
    got
}

#[test]
fn systemd_is_told_reloading_then_ready_also_when_the_reload_is_refused() {
    let good = maildir("unlimited", OLD_SUBJECT);
    let mut wb = Winback::new(&good);
    let path = wb.path("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
    wb.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &path);
    });
    notifications_until(&sock, "READY=1", 1);

    hangup(&wb);
    let got = notifications_until(&sock, "READY=1", 1);
    let reloading = got.iter().position(|m| m.lines().any(|l| l == "RELOADING=1")).expect("RELOADING=1");
    let ready = got.iter().position(|m| m.lines().any(|l| l == "READY=1")).expect("READY=1");
    assert!(reloading < ready, "{got:?}");
    let usec: u64 = got[reloading]
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("MONOTONIC_USEC with RELOADING=1: {got:?}"));
    assert!(usec > 0);

    rewrite(&wb, &good.replace("global = \"unlimited\"", "global = \"fast\""));
    let out = wb.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(64), "{:?}", text(&out));
    let got = notifications_until(&sock, "READY=1", 1);
    assert!(got.iter().any(|m| m.lines().any(|l| l == "RELOADING=1")), "{got:?}");
    assert!(wb.stop());
}
