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
//! - The bounce domain wired as the README shows for a production host:
//!   Postfix is its MX and hands every message for it to `winback ingest`
//!   through a `pipe(8)` transport, run as an unprivileged user (the same
//!   user the daemon runs as, like the `winback` user of the package).
//!
//! Skipped only when the Postfix binaries are not installed (CI installs
//! the Debian package `postfix`).

mod support;

use std::time::Duration;

use lettre::Transport;
use lettre::address::Envelope;
use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use support::postfix::{PipeTo, Postfix, PostfixOptions};
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

    // Postfix logs the DSN's delivery only after winback has answered it.
    let relayed = format!("relay=127.0.0.1[127.0.0.1]:{listener}");
    let log = postfix.maillog_with(&[&relayed], Duration::from_secs(30));
    // Accepted first, then bounced by local delivery: a real DSN, not an
    // SMTP-time refusal.
    assert!(log.contains("status=bounced (unknown user"), "{log}");
    assert!(log.contains("sender non-delivery notification"), "{log}");
    assert!(log.contains(&relayed), "DSN sent to winback:\n{log}");
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

/// The numeric id `id` prints for `user` (`-u`) or its group (`-g`).
fn id_of(flag: &str, user: &str) -> u32 {
    let out = std::process::Command::new("id").args([flag, user]).output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|e| panic!("id {flag} {user}: {e}"))
}

#[test]
fn postfix_pipe_transport_hands_bounces_to_winback_ingest() {
    if !Postfix::available(false) {
        return;
    }
    // The daemon and the pipe run as `nobody`, as the package runs both
    // as `winback`: the spool `winback ingest` writes is the daemon's own.
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    let contact = "no-such-user@users.test";
    let mut wb = Winback::new("");
    let argv = format!(
        "{} --config {} ingest --recipient ${{recipient}}",
        support::daemon::bin().display(),
        wb.config.display()
    );
    let opts = PostfixOptions {
        local_domains: vec!["users.test".into()],
        pipe: vec![PipeTo { domain: BOUNCE_DOMAIN.into(), user: "nobody".into(), argv }],
        ..Default::default()
    };
    let postfix = Postfix::start(&opts).unwrap_or_else(|e| panic!("cannot start Postfix: {e}"));
    let config =
        smtp_config(postfix.port(), "10/s", ONE_MESSAGE).replace("{dir}", &wb.dir.path().display().to_string());
    std::fs::write(&wb.config, config).expect("write config");
    wb.import(&[contact]);
    let chown = std::process::Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(wb.dir.path())
        .status()
        .expect("chown");
    assert!(chown.success());
    wb.start_with(|cmd| {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    });
    wait_suppressed(&wb, &postfix, "hard_bounce");

    // Postfix logs the pipe delivery once `winback ingest` has exited.
    let piped = "status=sent (delivered via pipe0 service)";
    let log = postfix.maillog_with(&[piped], Duration::from_secs(30));
    assert!(log.contains("status=bounced (unknown user"), "{log}");
    // The DSN went through the pipe, not SMTP, and `winback ingest` took it.
    assert!(log.contains("relay=pipe0") && log.contains(piped), "{log}");
    let s = wb.suppression(contact);
    assert_eq!(s["reason"], "hard_bounce");
    assert!(s["detail"].as_str().unwrap_or("").starts_with("userunknown 5.1.1"), "{s}");
    let wlog = wb.log();
    assert!(wlog.contains("report attributed") && wlog.contains("via=\"verp\""), "attributed by VERP:\n{wlog}");
}
