//! End to end with a real MTA: winback sends through a private Postfix
//! instance (tests/support/postfix.rs) and receives what comes back on
//! its own SMTP listener, to which Postfix routes the bounce domain.
//!
//! - A message to a user that does not exist in a domain Postfix delivers
//!   locally: Postfix accepts it, its `local(8)` agent finds no such user,
//!   and Postfix's own DSN goes to the VERP return path; winback suppresses
//!   the contact as a hard bounce (`userunknown`), attributed by the VERP
//!   token.
//! - A message delivered (through Postfix) to a mailbox provider, whose
//!   feedback loop sends an ARF report back through Postfix: winback
//!   suppresses the contact as `complaint`.
//!
//! Skipped only when the Postfix binaries are not installed (CI installs
//! the Debian package `postfix`).

mod support;

use std::time::Duration;

use lettre::Transport;
use lettre::address::Envelope;
use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use support::postfix::{Postfix, PostfixOptions};
use support::smtp_sink::{SinkOptions, SmtpSink, free_port};

const BOUNCE_DOMAIN: &str = "bounces.shop.test";

/// Postfix with `opts` plus the bounce domain routed to a winback listener;
/// winback sending one message to `contact` through that Postfix.
fn setup(contact: &str, mut opts: PostfixOptions) -> (Postfix, Winback, u16) {
    let listener = free_port();
    opts.relay.push((BOUNCE_DOMAIN.into(), listener));
    let postfix = Postfix::start(&opts).unwrap_or_else(|e| panic!("cannot start Postfix: {e}"));
    let mut config = smtp_config(postfix.port(), "10/s", ONE_MESSAGE);
    config += &format!("[inbound]\nlisten = \"127.0.0.1:{listener}\"\n");
    let mut wb = Winback::new(&config);
    wb.import(&[contact]);
    wb.start();
    (postfix, wb, listener)
}

fn wait_suppressed(wb: &Winback, postfix: &Postfix, reason: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while wb.status()["suppressed"][reason] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no {reason} suppression.\nPostfix log:\n{}\nwinback log:\n{}",
            postfix.maillog(),
            wb.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn postfix_dsn_for_an_unknown_user_suppresses_through_verp() {
    if !Postfix::available(false) {
        return;
    }
    let contact = "no-such-user@users.test";
    let opts = PostfixOptions { local_domains: vec!["users.test".into()], ..Default::default() };
    let (postfix, wb, listener) = setup(contact, opts);
    wait_suppressed(&wb, &postfix, "hard_bounce");

    let log = postfix.maillog();
    // Accepted first, then bounced by local delivery: a real DSN, not an
    // SMTP-time refusal.
    assert!(log.contains("status=bounced (unknown user"), "{log}");
    assert!(log.contains("sender non-delivery notification"), "{log}");
    assert!(log.contains(&format!("relay=127.0.0.1[127.0.0.1]:{listener}")), "DSN sent to winback:\n{log}");
    let s = wb.suppression(contact);
    assert_eq!(s["reason"], "hard_bounce");
    let detail = s["detail"].as_str().unwrap_or("");
    assert!(detail.starts_with("userunknown 5.1.1"), "{detail}");
    assert!(detail.contains("unknown user"), "{detail}");
    let wlog = wb.log();
    assert!(wlog.contains("report attributed") && wlog.contains("via=\"verp\""), "attributed by VERP:\n{wlog}");
}

#[test]
fn arf_complaint_through_postfix_suppresses() {
    if !Postfix::available(false) {
        return;
    }
    // The mailbox provider's MX: Postfix relays isp.test to a sink.
    let isp = SmtpSink::start(SinkOptions::default());
    let contact = "reader@isp.test";
    let opts = PostfixOptions { relay: vec![("isp.test".into(), isp.port())], ..Default::default() };
    let (postfix, wb, _) = setup(contact, opts);
    let got = isp.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1, "message not delivered to the provider.\nPostfix log:\n{}", postfix.maillog());
    let original = String::from_utf8_lossy(&got[0].bytes).replace('\n', "\r\n");

    // The provider's feedback loop reports it (RFC 5965), to an address at
    // the bounce domain, through the same Postfix.
    let arf = format!(
        "From: fbl@isp.test\r\nTo: fbl@{BOUNCE_DOMAIN}\r\nSubject: FW: complaint\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"ARF\"\r\n\r\n\
         --ARF\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
         --ARF\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\n\
         Version: 1\r\nOriginal-Rcpt-To: <{contact}>\r\nArrival-Date: Mon, 23 Nov 2026 14:00:00 +0000\r\n\r\n\
         --ARF\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n{original}\r\n--ARF--\r\n"
    );
    let smtp = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(postfix.port()).build();
    let envelope = Envelope::new(
        Some("fbl-bounces@isp.test".parse().unwrap()),
        vec![format!("fbl@{BOUNCE_DOMAIN}").parse().unwrap()],
    )
    .unwrap();
    smtp.send_raw(&envelope, arf.as_bytes()).expect("Postfix accepts the report");
    wait_suppressed(&wb, &postfix, "complaint");
    let s = wb.suppression(contact);
    assert_eq!(s["reason"], "complaint");
    assert_eq!(wb.status()["suppressed"]["hard_bounce"].as_i64().unwrap_or(0), 0);
}
