//! The bounce side as an attacker sees it, against the real daemon: forged
//! DSNs, ARF complaints and soft bounces sent to the bounce domain through
//! the SMTP listener and handed over by `winback ingest`, without tokens,
//! with a made-up or altered token, with another message's token naming
//! someone else, naming fifty people at once, and as a notifier's automatic
//! message quoting a refusal. None suppresses, none
//! moves a reputation counter, none pauses or suspends: each is counted
//! unattributed and kept for inspection. A genuine report, delivered twice,
//! suppresses exactly its recipient, once.

mod support;

use std::time::Duration;

use lettre::Transport;
use lettre::address::Envelope;
use serde_json::Value;
use support::daemon::BOUNCE_DOMAIN;
use support::daemon::Winback;
use support::outbox::{daemon, header, ingest, message_to, sent};
use support::smtp_sink::free_port;

const VICTIM: &str = "victim@gmail.com";

fn dsn(recipients: &[&str], status: &str, diag: &str, quoted: &str) -> String {
    let fields: String = recipients
        .iter()
        .map(|r| format!("Final-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n"))
        .collect();
    format!(
        "From: MAILER-DAEMON@mx.gmail.com\r\nTo: postmaster@{BOUNCE_DOMAIN}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.gmail.com\r\n\r\n{fields}--B\r\n\
         Content-Type: text/rfc822-headers\r\n\r\n{quoted}\r\n--B--\r\n"
    )
}

/// An automatic notice of a web host, neither a DSN nor a bounce's sender
/// or subject, quoting a refusal that names the victim.
fn notice() -> String {
    format!(
        "From: Example Hosting <notifications@hosting.example>\r\nTo: postmaster@{BOUNCE_DOMAIN}\r\n\
         Subject: About your message\r\nAuto-Submitted: auto-replied\r\n\r\n\
         We could not pass on your email to <{VICTIM}>. The receiving server said:\r\n\r\n\
         \x20 550 5.1.1 <{VICTIM}>: Recipient address rejected: User unknown\r\n"
    )
}

fn arf(quoted: &str) -> String {
    format!(
        "From: fbl@isp.example\r\nTo: postmaster@{BOUNCE_DOMAIN}\r\nSubject: complaint\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
         --F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\
         Original-Rcpt-To: {VICTIM}\r\n\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\n{quoted}\r\n--F--\r\n"
    )
}

/// What reputation has counted: every window's bounce and complaint
/// counts, of every scope and provider, plus pause and suspensions.
fn signals(status: &Value) -> Value {
    let rep = &status["reputation"];
    let counts = |list: &Value| -> Vec<Value> {
        list.as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["windows"].as_array().cloned().unwrap_or_default())
            .map(|w| {
                let c = &w["counts"];
                serde_json::json!([c["hard_bounces"], c["soft_bounces"], c["complaints"]])
            })
            .collect()
    };
    let suspended: Vec<Value> =
        rep["providers"].as_array().into_iter().flatten().map(|p| p["suspended_until"].clone()).collect();
    serde_json::json!({
        "pause": rep["pause"], "scopes": counts(&rep["scopes"]), "providers": counts(&rep["providers"]),
        "suspended": suspended,
    })
}

fn unattributed_total(status: &Value) -> i64 {
    status["unattributed_reports"].as_object().map_or(0, |m| m.values().filter_map(Value::as_i64).sum())
}

fn send_smtp(port: u16, to: &str, body: &str) {
    let smtp = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let envelope = Envelope::new(None, vec![to.parse().unwrap()]).unwrap();
    smtp.send_raw(&envelope, body.as_bytes()).expect("the listener accepts the report");
}

#[test]
fn forged_reports_act_on_nothing_and_a_genuine_one_acts_once() {
    let port = free_port();
    let contacts = ["mine@gmail.com", VICTIM, "other@gmail.com"];
    let wb = daemon(&contacts, port);
    let out = sent(&wb, 3);
    let mine = message_to(&out, "mine@gmail.com");
    let verp = header(mine, "Return-Path").trim_matches(['<', '>']).to_string();
    let token = header(mine, "X-Winback-Token");
    let before = signals(&wb.status());
    assert!(before["pause"].is_null(), "{before:#}");

    let postmaster = format!("postmaster@{BOUNCE_DOMAIN}");
    let user_unknown = "550 5.1.1 The email account that you tried to reach does not exist";
    let mut altered = token.clone().into_bytes();
    altered[2] = if altered[2] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    let fifty: Vec<String> = (0..50).map(|i| format!("person{i}@gmail.com")).collect();
    let fifty: Vec<&str> = fifty.iter().map(String::as_str).collect();
    let forgeries: Vec<(String, String)> = vec![
        // A plain DSN with a made-up Message-ID.
        (postmaster.clone(), dsn(&[VICTIM], "5.1.1", user_unknown, "Message-ID: <made-up.123@shop.test>")),
        // Fifty recipients at once.
        (postmaster.clone(), dsn(&fifty, "5.1.1", user_unknown, "Subject: x")),
        // An ARF complaint.
        (postmaster.clone(), arf("Subject: We miss you")),
        // A VERP address with an altered token, and our token header altered.
        (verp.replace(&token, &altered), dsn(&[VICTIM], "5.1.1", user_unknown, "Subject: x")),
        (postmaster.clone(), arf(&format!("X-Winback-Token: {altered}"))),
        // Another message's genuine token, naming the victim.
        (verp.clone(), dsn(&[VICTIM], "5.1.1", user_unknown, "Subject: x")),
        // A notifier's automatic message quoting a refusal: read as a bounce,
        // so it needs proof like one.
        (postmaster.clone(), notice()),
    ];
    let mut sent_forgeries = 0;
    for (to, body) in &forgeries {
        send_smtp(port, to, body);
        sent_forgeries += 1;
    }
    // Soft bounces and blocklist refusals, the way that used to count and
    // suspend: through `winback ingest` this time.
    let soft =
        dsn(&[VICTIM], "4.2.2", "452 4.2.2 The email account that you tried to reach is over quota", "Subject: x");
    let blocked = dsn(
        &["other@gmail.com"],
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "Subject: x",
    );
    for body in [&soft, &soft, &soft, &blocked, &blocked, &blocked, &blocked, &blocked] {
        ingest(&wb.config, &postmaster, body.as_bytes());
        sent_forgeries += 1;
    }

    let status =
        wb.wait_for(Duration::from_secs(30), "every forgery counted", |s| unattributed_total(s) == sent_forgeries);
    assert_eq!(unattributed_total(&status), sent_forgeries, "{:#}", status["unattributed_reports"]);
    let notices = status["unattributed_reports"].as_object().unwrap().iter().filter(|(k, _)| k.contains("free_text"));
    assert_eq!(notices.count(), 1, "the notice was read as a bounce: {:#}", status["unattributed_reports"]);
    let suppressed: i64 = status["suppressed"].as_object().unwrap().values().filter_map(Value::as_i64).sum();
    assert_eq!(suppressed, 0, "{:#}", status["suppressed"]);
    assert_eq!(signals(&status), before, "no reputation signal moved, no pause, no suspension");
    assert!(wb.ok(&["suppress", "list"]).trim().lines().all(|l| !l.contains('@')), "nobody suppressed");
    let kept: Value = serde_json::from_str(&wb.ok(&["reports", "unattributed", "--json"])).unwrap();
    assert_eq!(kept.as_array().unwrap().len() as i64, sent_forgeries);
    let whys: Vec<&str> = kept.as_array().unwrap().iter().filter_map(|k| k["why"].as_str()).collect();
    for why in ["no_proof", "bad_token", "other_recipient"] {
        assert!(whys.contains(&why), "{why} in {whys:?}");
    }
    let first = kept[0]["id"].as_str().unwrap();
    assert!(wb.ok(&["reports", "show", first]).contains("Content-Type: multipart/report"));

    // The genuine report: to our VERP address, naming our recipient, twice.
    let genuine = dsn(&["mine@gmail.com"], "5.1.1", user_unknown, &format!("X-Winback-Token: {token}"));
    send_smtp(port, &verp, &genuine);
    ingest(&wb.config, &verp, genuine.as_bytes());
    wb.wait_for(Duration::from_secs(30), "the genuine bounce", |s| s["suppressed"]["hard_bounce"] == 1);
    // Both deliveries processed: the spool is empty.
    wait_spool_empty(&wb);
    let status = wb.status();
    assert_eq!(status["suppressed"]["hard_bounce"], 1);
    assert_eq!(status["events"]["bounce:machine"], 1, "one bounce event for two deliveries");
    assert_eq!(wb.suppression("mine@gmail.com")["reason"], "hard_bounce");
    let after = signals(&status);
    for w in after["scopes"].as_array().unwrap() {
        let hard: u64 = w[0].as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        assert_eq!(hard, 1, "the genuine bounce counted once in every window: {after:#}");
    }
}

fn wait_spool_empty(wb: &Winback) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let waiting = || {
        ["new", "cur"]
            .iter()
            .map(|d| std::fs::read_dir(wb.path(&format!("var/inbound/{d}"))).map_or(0, |r| r.count()))
            .sum::<usize>()
    };
    while waiting() > 0 {
        assert!(std::time::Instant::now() < deadline, "spool not drained; log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
