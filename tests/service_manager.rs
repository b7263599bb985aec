//! The real binary under a service manager's environment: notifications on
//! a real unix datagram socket named by `NOTIFY_SOCKET` (READY, WATCHDOG
//! pings at the period `WATCHDOG_USEC` asks for, a STATUS line that moves
//! when mail is sent, STOPPING at the stop); log lines for the journal
//! (`JOURNAL_STREAM`) and as JSON; the inbound SMTP listener passed as
//! descriptor 3 (`LISTEN_FDS`).

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::daemon::{Winback, maildir_config};

/// Datagrams received on `sock` until `done` holds for the list so far.
fn receive_until(sock: &UnixDatagram, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&got) {
        assert!(Instant::now() < deadline, "no {what} within 30s; received: {got:#?}");
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

#[test]
fn the_daemon_says_ready_pings_the_watchdog_and_keeps_a_status_line() {
    let mut wb = Winback::new(&maildir_config("", ""));
    wb.import(&["a@example.net"]);
    let path = wb.path("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    wb.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &path).env("WATCHDOG_USEC", "1000000");
    });

    let got = receive_until(&sock, "READY=1", |g| g.iter().any(|m| m.lines().any(|l| l == "READY=1")));
    assert_eq!(got.len(), 1, "READY=1 comes first: {got:?}");
    let pings = receive_until(&sock, "three watchdog pings", |g| {
        g.iter().filter(|m| m.lines().any(|l| l == "WATCHDOG=1")).count() >= 3
    });
    for m in &pings {
        let status = m.lines().find_map(|l| l.strip_prefix("STATUS=")).expect("every ping carries a status");
        assert!(status.starts_with("queue "), "{status}");
        assert!(status.ends_with(", sending"), "{status}");
    }
    wb.maildir_messages("outbox/new", 1);
    receive_until(&sock, "a status counting the sent message", |g| {
        g.iter().any(|m| m.contains("STATUS=queue 0, sent 1 in the last minute, sending"))
    });

    assert!(wb.stop(), "clean stop; log:\n{}", wb.log());
    receive_until(&sock, "STOPPING=1", |g| g.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")));
}

#[test]
fn an_abstract_notify_socket_is_reached_too() {
    let mut wb = Winback::new(&maildir_config("", ""));
    let name = format!("winback-notify-test-{}", std::process::id());
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name.as_bytes())
            .unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    wb.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", format!("@{name}"));
    });
    receive_until(&sock, "READY=1", |g| g.iter().any(|m| m.lines().any(|l| l == "READY=1")));
    let got = receive_until(&sock, "a status line", |g| g.iter().any(|m| m.starts_with("STATUS=queue 0")));
    assert!(got.iter().all(|m| !m.contains("WATCHDOG=1")), "no watchdog period asked, no pings: {got:?}");
    assert!(wb.stop(), "clean stop; log:\n{}", wb.log());
}

#[test]
fn under_the_journal_lines_carry_syslog_priorities_and_no_timestamps() {
    let mut wb = Winback::new(&maildir_config("", ""));
    wb.import(&["a@example.net"]);
    // stderr goes to daemon.log: JOURNAL_STREAM names that file, as
    // systemd names the journal's stream.
    let log = wb.path("daemon.log");
    std::fs::File::create(&log).unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let missing = wb.path("no-such-notify.sock");
    wb.start_with(|cmd| {
        // An unreachable notification socket: a warning.
        cmd.env("JOURNAL_STREAM", &stream).env("NOTIFY_SOCKET", &missing);
    });
    wb.maildir_messages("outbox/new", 1);
    assert!(wb.stop(), "clean stop; log:\n{}", wb.log());
    let text = wb.log();
    let timestamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d").unwrap();
    for line in text.lines() {
        let prio = line.get(..3).unwrap_or_default();
        assert!(["<3>", "<4>", "<6>", "<7>"].contains(&prio), "no priority: {line:?}");
        assert!(!timestamp.is_match(line), "a timestamp: {line:?}");
    }
    let with = |p: &str, words: &str| text.lines().any(|l| l.starts_with(p) && l.contains(words));
    assert!(with("<6>", "winback ready"), "{text}");
    assert!(with("<4>", "cannot notify the service manager"), "{text}");
    assert!(with("<7>", ""), "debug lines (RUST_LOG=winback=debug): {text}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let mut wb = Winback::new(&maildir_config("", ""));
    wb.start_with(|cmd| {
        cmd.args(["--log-format", "json"]);
    });
    assert!(wb.stop(), "clean stop; log:\n{}", wb.log());
    let lines: Vec<serde_json::Value> =
        wb.log().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let ready = lines.iter().find(|v| v["fields"]["message"] == "winback ready").expect("the ready line");
    assert_eq!(ready["level"], "INFO");
    assert!(ready["timestamp"].is_string(), "{ready}");
    assert!(ready["fields"]["state_dir"].as_str().is_some_and(|d| d.ends_with("var")), "{ready}");
}

#[test]
fn an_inherited_listening_socket_is_the_inbound_smtp_listener() {
    use lettre::Transport as _;
    // [inbound] listen names a port the daemon must not bind: the passed
    // socket wins.
    let configured = support::smtp_sink::free_port();
    let mut wb = Winback::new(&support::outbox::config(configured));
    wb.import(&["a@example.net"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The socket arrives on stdin; the shell moves it to descriptor 3 and
    // becomes winback (same PID, which LISTEN_PID names).
    let prelude = "exec 3<&0 0</dev/null && export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=smtp";
    wb.start_after(Some(prelude), |cmd| {
        cmd.stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(listener)));
    });
    let out = support::outbox::sent(&wb, 1);
    let to = support::outbox::mailto(&out[0].1);

    let smtp = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let envelope =
        lettre::address::Envelope::new(Some("someone@isp.example".parse().unwrap()), vec![to.parse().unwrap()])
            .unwrap();
    let body = format!("From: someone@isp.example\r\nTo: {to}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n");
    smtp.send_raw(&envelope, body.as_bytes()).expect("the passed socket speaks SMTP");
    wb.wait_for(Duration::from_secs(20), "the unsubscribe", |s| s["suppressed"]["unsubscribed"] == 1);

    assert!(std::net::TcpStream::connect(("127.0.0.1", configured)).is_err(), "[inbound] listen was not bound");
    let log = wb.log();
    assert!(log.contains("inbound SMTP on the socket passed by the service manager"), "{log}");
    assert!(wb.stop(), "clean stop; log:\n{log}");
}
