//! The inbound SMTP listener against real clients: Postfix's
//! `smtp-source` for ordinary deliveries, and raw TCP for the refusals
//! (relay, size, connection cap, spool full) and dot-unstuffing.

#[path = "support/inbound.rs"]
mod inbound_support;

use std::time::Duration;

use inbound_support::{Abuser, Client, connect_from, settings, start};
use winback::inbound::config::SpoolLimits;

const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

fn limits() -> SpoolLimits {
    SpoolLimits { max_messages: 1000, max_bytes: 64 << 20 }
}

#[tokio::test]
async fn postfix_smtp_source_delivers_into_the_spool() {
    assert!(
        std::path::Path::new(SMTP_SOURCE).exists(),
        "{SMTP_SOURCE} is missing: install the Debian package `postfix`"
    );
    let run = start(settings(1 << 20, 8, Duration::from_secs(10)), limits()).await;
    let out = tokio::process::Command::new(SMTP_SOURCE)
        .args(["-c", "-s", "2", "-m", "6", "-l", "2000", "-f", "mailer-daemon@mx.example.net"])
        .args(["-t", "bounces+abcdefghijklmnopqrstuvwx23@b.example.org"])
        .arg(run.addr.to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.expect("smtp-source in time").expect("runs");
    assert!(out.status.success(), "smtp-source failed: {}", String::from_utf8_lossy(&out.stderr));
    let ids = run.spool.list().unwrap();
    assert_eq!(ids.len(), 6, "every message spooled");
    let c = run.spool.claim(&ids[0]).unwrap();
    assert_eq!(c.envelope, vec!["bounces+abcdefghijklmnopqrstuvwx23@b.example.org"]);
    assert!(c.raw.len() > 2000);
}

#[tokio::test]
async fn refuses_relay_and_unstuffs_dots() {
    let run = start(settings(1 << 20, 8, Duration::from_secs(10)), limits()).await;
    let (mut c, greeting) = Client::connect(run.addr).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    assert_eq!(c.cmd("MAIL FROM:<>").await.get(..3), Some("503"), "EHLO first");
    assert!(c.cmd("EHLO client.test").await.contains("250 PIPELINING"));
    assert!(c.cmd("MAIL FROM:<>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<someone@elsewhere.example>").await.starts_with("550 5.7.1"));
    assert!(c.cmd("RCPT TO:<bounces+tok@B.EXAMPLE.ORG>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send_raw(b"Subject: dots\r\n\r\n..leading dot\r\n.\r\n").await;
    let r = c.read_reply().await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    assert!(c.cmd("QUIT").await.starts_with("221"));
    let ids = run.spool.list().unwrap();
    let m = run.spool.claim(&ids[0]).unwrap();
    let text = String::from_utf8_lossy(&m.raw);
    assert!(text.contains("\r\n.leading dot\r\n"), "{text}");
    assert!(!text.contains("\r\n..leading"), "{text}");
}

#[tokio::test]
async fn enforces_the_size_limit() {
    let run = start(settings(1000, 8, Duration::from_secs(10)), limits()).await;
    let (mut c, _) = Client::connect(run.addr).await;
    c.cmd("EHLO client.test").await;
    assert!(c.cmd("MAIL FROM:<> SIZE=5000").await.starts_with("552 5.3.4"));
    assert!(c.cmd("MAIL FROM:<> SIZE=500").await.starts_with("250"));
    c.cmd("RCPT TO:<bounces+x@b.example.org>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..50 {
        body.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    body.extend_from_slice(b".\r\n");
    c.send_raw(&body).await;
    assert!(c.read_reply().await.starts_with("552 5.3.4"));
    assert!(c.cmd("NOOP").await.starts_with("250"), "the session goes on");
    assert!(run.spool.list().unwrap().is_empty());
}

#[tokio::test]
async fn caps_connections_and_defers_when_the_spool_is_full() {
    let run =
        start(settings(1 << 20, 1, Duration::from_secs(10)), SpoolLimits { max_messages: 1, max_bytes: 1 << 20 }).await;
    let (mut first, g) = Client::connect(run.addr).await;
    assert!(g.starts_with("220"));
    let (_second, g2) = Client::connect(run.addr).await;
    assert!(g2.starts_with("421"), "{g2}");
    first.cmd("HELO client.test").await;
    for expect in ["250 2.0.0", "451 4.3.0"] {
        first.cmd("MAIL FROM:<>").await;
        first.cmd("RCPT TO:<bounces+x@b.example.org>").await;
        first.cmd("DATA").await;
        first.send_raw(b"Subject: s\r\n\r\nx\r\n.\r\n").await;
        let r = first.read_reply().await;
        assert!(r.starts_with(expect), "want {expect}, got {r}");
    }
}

#[tokio::test]
async fn idle_sessions_time_out_and_cancel_stops_the_server() {
    let mut run = start(settings(1 << 20, 4, Duration::from_secs(1)), limits()).await;
    let (mut c, _) = Client::connect(run.addr).await;
    let r = c.read_reply().await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    run.cancel.cancel();
    let task = run.task.take().expect("task");
    let ended = tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops on cancel").expect("no panic");
    assert!(ended.is_ok(), "{ended:?}");
    assert!(tokio::net::TcpStream::connect(run.addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn a_bare_lf_is_refused_and_nothing_is_smuggled() {
    let run = start(settings(1 << 20, 8, Duration::from_secs(10)), limits()).await;
    let (mut c, _) = Client::connect(run.addr).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<>").await;
    c.cmd("RCPT TO:<bounces+first@b.example.org>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    // A bare `\n.\n` would end the message for a lenient server, and the
    // second transaction behind it would be taken as a new message.
    c.send_raw(
        b"Subject: first\r\n\r\nhello\n.\nMAIL FROM:<>\r\nRCPT TO:<bounces+smuggled@b.example.org>\r\nDATA\r\n\
          Subject: smuggled\r\n\r\nX\r\n.\r\n",
    )
    .await;
    let r = c.read_reply().await;
    assert!(r.starts_with("521 5.5.2"), "{r}");
    assert_eq!(c.read_reply().await, "", "the connection is closed");
    assert!(run.spool.list().unwrap().is_empty(), "neither message spooled");

    let (mut c, _) = Client::connect(run.addr).await;
    c.send_raw(b"EHLO client.test\n").await;
    let r = c.read_reply().await;
    assert!(r.starts_with("521 5.5.2"), "a command with a bare LF: {r}");
    assert_eq!(c.read_reply().await, "", "the connection is closed");

    // CRLF everywhere, a bare CR inside a line and a dot-stuffed line are fine.
    let (mut c, _) = Client::connect(run.addr).await;
    let r = c.deliver("bounces+ok@b.example.org", b"Subject: fine\r\n\r\na\rb\r\n..\r\n").await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let ids = run.spool.list().unwrap();
    assert_eq!(run.spool.claim(&ids[0]).unwrap().raw, b"Subject: fine\r\n\r\na\rb\r\n.\r\n");
}

#[tokio::test]
async fn envelope_lines_inside_a_message_are_only_message() {
    let run = start(settings(1 << 20, 8, Duration::from_secs(10)), limits()).await;
    let (mut c, _) = Client::connect(run.addr).await;
    let message: &[u8] = b"X-Winback-Rcpt: bounces+victim@b.example.org\r\nX-Winback-Rcpt: other@b.example.org\r\n\
        WINBACK-SPOOL 1 40\r\nSubject: forged envelope\r\n\r\nbody\r\n";
    let r = c.deliver("bounces+real@b.example.org", message).await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let ids = run.spool.list().unwrap();
    let m = run.spool.claim(&ids[0]).unwrap();
    assert_eq!(m.envelope, vec!["bounces+real@b.example.org"], "the envelope is RCPT TO only");
    assert_eq!(m.raw, message, "the message is stored exactly as received");
}

#[tokio::test]
async fn caps_connections_per_client_address() {
    let mut s = settings(1 << 20, 8, Duration::from_secs(10));
    s.max_connections_per_client = 2;
    let run = start(s, limits()).await;
    let (_a, g) = Client::connect_from(run.addr, "127.0.0.2").await;
    assert!(g.starts_with("220"), "{g}");
    let (_b, g) = Client::connect_from(run.addr, "127.0.0.2").await;
    assert!(g.starts_with("220"), "{g}");
    let (_c, g) = Client::connect_from(run.addr, "127.0.0.2").await;
    assert!(g.starts_with("421 4.7.0"), "third from the same address: {g}");
    let (mut other, g) = Client::connect_from(run.addr, "127.0.0.3").await;
    assert!(g.starts_with("220"), "another address still gets in: {g}");
    drop(_a);
    // The slot comes back when the session ends (the server sees EOF).
    let r = other.deliver("bounces+x@b.example.org", b"Subject: s\r\n\r\nx\r\n").await;
    assert!(r.starts_with("250"), "{r}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_d, g) = Client::connect_from(run.addr, "127.0.0.2").await;
        if g.starts_with("220") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the slot never came back: {g}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn abusive_clients_are_cut_by_the_reply_and_session_deadlines() {
    let mut s = settings(1 << 20, 3, Duration::from_secs(1));
    s.session_timeout = Duration::from_secs(3);
    let run = start(s, limits()).await;
    let kinds =
        [(Abuser::Pipeliner, "127.0.0.2"), (Abuser::Trickler, "127.0.0.3"), (Abuser::DataDribbler, "127.0.0.4")];
    let mut abusers = Vec::new();
    for (kind, from) in kinds {
        let stream = connect_from(run.addr, from).await;
        abusers.push(tokio::spawn(kind.run(stream, "b.example.org".into())));
    }
    // Every slot is taken (connections are admitted in order): a newcomer
    // is turned away for now.
    let (_c, g) = Client::connect_from(run.addr, "127.0.0.9").await;
    assert!(g.starts_with("421 4.3.2"), "the abusers hold every slot: {g}");
    // Each is cut by its deadline (the pipeliner by the reply deadline,
    // the others by the session deadline), well within a generous margin.
    let margin = Duration::from_secs(3 + 1 + 20);
    for (a, (kind, _)) in abusers.into_iter().zip(kinds) {
        let sent = tokio::time::timeout(margin, a).await.unwrap_or_else(|_| panic!("{kind:?} still held")).unwrap();
        assert!(sent > 0, "{kind:?} got in");
    }
    let (mut c, g) = Client::connect_from(run.addr, "127.0.0.9").await;
    assert!(g.starts_with("220"), "{g}");
    assert!(c.deliver("bounces+x@b.example.org", b"Subject: s\r\n\r\nx\r\n").await.starts_with("250"));
    assert_eq!(run.spool.list().unwrap().len(), 1, "the dribbled message was not spooled");
}
