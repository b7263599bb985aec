//! The inbound paths of a running daemon: bounces dropped into a watched
//! Maildir, and mail to the `List-Unsubscribe` mailto address through the
//! daemon's SMTP listener and through `winback ingest`. Messages go out
//! through the Maildir transport, so the test reads the real VERP address
//! and mailto address from what winback sent.

mod support;

use std::time::Duration;

use lettre::Transport;
use lettre::address::Envelope;
use support::daemon::BOUNCE_DOMAIN;
use support::daemon::Winback;
use support::outbox::{daemon, header, ingest, mailto, message_to, sent};
use support::smtp_sink::free_port;

fn suppressed(wb: &Winback, reason: &str) -> i64 {
    wb.status()["suppressed"][reason].as_i64().unwrap_or(0)
}

#[test]
fn a_bounce_dropped_into_the_watched_maildir_suppresses() {
    let wb = daemon(&["gone@example.net"], free_port());
    let out = sent(&wb, 1);
    let msg = message_to(&out, "gone@example.net");
    let verp = header(msg, "Return-Path").trim_matches(['<', '>']).to_string();
    assert!(verp.starts_with("bounces+"), "{verp}");
    // As an MDA writes it: the bounce address in Delivered-To (its VERP
    // token tells which send it was), the DSN naming the recipient.
    let dsn = format!(
        "Return-Path: <>\nDelivered-To: {verp}\nFrom: MAILER-DAEMON@mx.example.net\nTo: {verp}\n\
         Subject: Undelivered Mail Returned to Sender\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
         Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
         Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n\
         Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown\n\n--B--\n"
    );
    let md = wb.path("bounces");
    std::fs::create_dir_all(md.join("tmp")).unwrap();
    std::fs::create_dir_all(md.join("new")).unwrap();
    std::fs::write(md.join("tmp/1.bounce.host"), dsn).unwrap();
    std::fs::rename(md.join("tmp/1.bounce.host"), md.join("new/1.bounce.host")).unwrap();

    let status = wb.wait_for(Duration::from_secs(20), "the hard bounce", |s| s["suppressed"]["hard_bounce"] == 1);
    // The contact has also left its sequence: nothing more is waiting.
    for seq in status["sequences"].as_array().unwrap() {
        let waiting: i64 = seq["waiting_for_step"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
        assert_eq!(waiting + seq["in_grace"].as_i64().unwrap(), 0, "{status:#}");
    }
    let s = wb.suppression("gone@example.net");
    assert!(s["detail"].as_str().unwrap().starts_with("userunknown 5.1.1"), "{s:#}");
    assert!(md.join("cur/1.bounce.host:2,S").exists(), "taken once, moved to cur/");
    assert!(std::fs::read_dir(md.join("new")).unwrap().next().is_none());
}

#[test]
fn mail_to_the_unsubscribe_address_suppresses_via_listener_and_ingest() {
    let port = free_port();
    let wb = daemon(&["by-smtp@example.net", "by-pipe@example.net", "bystander@example.net"], port);
    let out = sent(&wb, 3);

    // Through the daemon's SMTP listener, as the person's provider sends it.
    let to = mailto(message_to(&out, "by-smtp@example.net"));
    assert!(to.starts_with("unsubscribe+") && to.ends_with(&format!("@{BOUNCE_DOMAIN}")), "{to}");
    let smtp = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let send = |to: &str| {
        let envelope = Envelope::new(Some("someone@isp.example".parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        let body = format!("From: someone@isp.example\r\nTo: {to}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n");
        smtp.send_raw(&envelope, body.as_bytes())
    };
    // A made-up token is accepted at SMTP (the listener does not know
    // tokens) but changes nothing.
    let mut forged = to.clone().into_bytes();
    forged["unsubscribe+".len() + 3] = if forged["unsubscribe+".len() + 3] == b'a' { b'b' } else { b'a' };
    send(std::str::from_utf8(&forged).unwrap()).expect("listener accepts the forged address");
    send(&to).expect("listener accepts the unsubscribe address");

    // Through `winback ingest`, as a Postfix pipe transport runs it.
    let to2 = mailto(message_to(&out, "by-pipe@example.net"));
    ingest(&wb.config, &to2, b"From: other@isp.example\r\nSubject: unsubscribe\r\n\r\n\r\n");

    wb.wait_for(Duration::from_secs(20), "two unsubscribes", |s| s["suppressed"]["unsubscribed"] == 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(suppressed(&wb, "unsubscribed"), 2, "the forged token suppressed nobody");
    for email in ["by-smtp@example.net", "by-pipe@example.net"] {
        let s = wb.suppression(email);
        assert_eq!(s["reason"], "unsubscribed", "{s:#}");
    }
    let list = wb.ok(&["suppress", "list"]);
    assert!(!list.contains("bystander@example.net"), "{list}");
    assert!(wb.status()["suppressed"]["hard_bounce"].as_i64().unwrap_or(0) == 0, "not taken for a bounce");
}
