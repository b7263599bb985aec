//! `[bounce] rules_file` in a running daemon: bounces are classified with
//! the operator's rules file, a changed file takes effect with `winback
//! reload` (the next report uses it), and a broken file is refused with
//! exit 64 while the rules in force stay.

mod support;

use std::time::{Duration, Instant};

use support::daemon::Winback;
use support::outbox::{config, header, ingest, message_to, sent};
use support::smtp_sink::free_port;

/// A wording no shipped rule knows.
const WORDING: &str = "zz-private-wording-zz";

/// A DSN for `rcpt` to the VERP address of the message winback sent it.
fn dsn(out: &[(String, String)], rcpt: &str) -> (String, String) {
    let verp = header(message_to(out, rcpt), "Return-Path").trim_matches(['<', '>']).to_string();
    let text = format!(
        "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nTo: {verp}\nSubject: Undelivered Mail\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
         Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
         Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.0.0\n\
         Diagnostic-Code: smtp; 550 5.0.0 {WORDING}\n\n--B--\n"
    );
    (verp, text)
}

fn wait_log(wb: &Winback, what: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while wb.log().matches(what).count() < n {
        assert!(Instant::now() < deadline, "no {n}× `{what}` in the log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_rules_file_is_used_and_reloaded() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/bounce-rules.toml")).unwrap();
    let mut wb = Winback::new(&format!("{}\n[bounce]\nrules_file = \"{{dir}}/rules.toml\"\n", config(free_port())));
    let rules = wb.path("rules.toml");
    std::fs::write(&rules, &shipped).unwrap();
    wb.import(&["first@example.net", "second@example.net"]);
    wb.start();
    let out = sent(&wb, 2);

    // The shipped rules do not know the wording: a soft failure.
    let (verp, text) = dsn(&out, "first@example.net");
    ingest(&wb.config, &verp, text.as_bytes());
    wait_log(&wb, "report attributed", 1);
    assert_eq!(wb.status()["suppressed"]["hard_bounce"], 0, "not hard under the shipped rules");

    // The operator's rule says it means a domain that cannot receive mail.
    let rule = format!("\n[[rule]]\nname = \"site-no-such-domain\"\nreason = \"hostunknown\"\ntext = ['{WORDING}']\n");
    std::fs::write(&rules, format!("{shipped}{rule}")).unwrap();
    let answer = wb.cli(&["reload"]);
    assert!(answer.status.success(), "{}", String::from_utf8_lossy(&answer.stderr));
    let (verp, text) = dsn(&out, "second@example.net");
    ingest(&wb.config, &verp, text.as_bytes());
    wb.wait_for(Duration::from_secs(20), "the hard bounce", |s| s["suppressed"]["hard_bounce"] == 1);
    let s = wb.suppression("second@example.net");
    assert!(s["detail"].as_str().unwrap_or("").starts_with("hostunknown"), "{s:#}");

    // A broken file: refused, and the daemon goes on with the rules in force.
    std::fs::write(&rules, "[[rule]]\nname = 'x'\nreason = 'no-such-reason'\ntext = ['x']\n").unwrap();
    let refused = wb.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("[bounce] rules_file"), "{stderr}");
    // Every command checks the file it is given: fixed, they work again,
    // against the same daemon.
    std::fs::write(&rules, format!("{shipped}{rule}")).unwrap();
    assert_eq!(wb.status()["suppressed"]["hard_bounce"], 1);
    assert!(wb.log().contains("reload refused"), "{}", wb.log());
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
