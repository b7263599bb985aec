//! Step variants through the real binary and a real SMTP server (Postfix's
//! smtp-sink): 400 lapsed contacts, a step with variants `a` (weight 1)
//! and `b` (weight 3, its own subject and template). The split at the sink
//! is within a binomial tolerance, each message carries its variant's
//! subject and body and is recorded with its variant, and the report's
//! per-variant figures equal what arrived and who bought.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use support::smtp_sink::{SinkOptions, SmtpSink};

const N: usize = 400;

fn subject(raw: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a parsable message");
    m.subject().unwrap_or_default().to_string()
}

#[test]
fn variants_split_by_weight_and_are_measured_apart() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut wb = Winback::new(&smtp_config(
        sink.port(),
        "200/s",
        &format!(
            "{ONE_MESSAGE}{}",
            r#"
[[sequence.step.variant]]
name = "a"
[[sequence.step.variant]]
name = "b"
weight = 3
subject = "Something new for you"
template = "whats-new"
"#
        ),
    ));
    let emails: Vec<String> = (0..N).map(|i| format!("v{i}@example.net")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    wb.import(&refs);
    wb.start();
    let received = sink.wait_for(N, Duration::from_secs(60));
    assert_eq!(received.len(), N, "one message per contact");
    // The sink has them before each outcome is committed: wait for the records.
    wb.wait_for(Duration::from_secs(30), "every message recorded as sent", |s| {
        s["kpis"]["sequences"][0]["steps"][0]["sent"].as_u64() == Some(N as u64)
    });
    let mut by_variant: HashMap<&str, Vec<String>> = HashMap::new();
    for m in &received {
        let raw = String::from_utf8_lossy(&m.bytes);
        let variant = match subject(&raw).as_str() {
            "We miss you" => "a",
            "Something new for you" => "b",
            other => panic!("unexpected subject {other:?}"),
        };
        by_variant.entry(variant).or_default().push(m.rcpt[0].clone());
    }
    let (a, b) = (by_variant["a"].clone(), by_variant["b"].clone());
    // Binomial(400, 0.75) for b: mean 300, sd 8.66; four sd either way.
    assert!((266..=334).contains(&b.len()), "{} a, {} b", a.len(), b.len());
    // Every message is recorded with the variant it carried.
    for (variant, rcpts) in [("a", &a), ("b", &b)] {
        for e in rcpts.iter().take(5) {
            let show: Value = serde_json::from_str(&wb.ok(&["contacts", "show", e, "--json"])).unwrap();
            assert_eq!(show["messages"][0]["variant"], variant, "{e}: {show:#}");
        }
    }
    // Four a-contacts and six b-contacts buy: reactivations and revenue per variant.
    for e in a.iter().take(4) {
        wb.ok(&["events", "add", e, "purchase", "--value", "10"]);
    }
    for e in b.iter().take(6) {
        wb.ok(&["events", "add", e, "purchase", "--value", "20"]);
    }
    let report: Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let step = &report["sequences"][0]["steps"][0];
    let variants = step["variants"]["variants"].as_array().unwrap_or_else(|| panic!("{report:#}"));
    let get = |name: &str| variants.iter().find(|v| v["name"] == name).expect("variant in the report");
    for (name, rcpts, bought, revenue) in [("a", &a, 4, 40.0), ("b", &b, 6, 120.0)] {
        let v = get(name);
        assert_eq!(v["sent"], rcpts.len() as u64, "{name}: {v:#}");
        assert_eq!(v["delivered"], rcpts.len() as u64, "{name}: {v:#}");
        assert_eq!(v["reactivated"], bought, "{name}: {v:#}");
        assert_eq!(v["revenue"], revenue, "{name}: {v:#}");
    }
    assert_eq!(step["sent"], N as u64);
    assert_eq!(step["variants"]["significant"], false, "4 of ~100 against 6 of ~300 decides nothing");
    assert!(step["variants"]["recommendation"].is_null());
    let text = wb.ok(&["report"]);
    assert!(text.contains("no significant winner yet"), "{text}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
