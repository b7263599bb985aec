//! Control groups through the real binary: 1,000 lapsed contacts enter a
//! sequence with `holdout = "20%"`. No control contact receives anything;
//! the split is within a binomial tolerance and survives a re-import; a
//! control contact who buys counts as a control reactivation, and the
//! report's lift matches the counts.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use support::daemon::{Winback, maildir_config};
use support::outbox::header;

const N: usize = 1_000;

#[test]
fn a_control_group_is_sent_nothing_and_measured() {
    let cfg = maildir_config("", "").replace("name = \"wb\"\n", "name = \"wb\"\nholdout = \"20%\"\n");
    let mut wb = Winback::new(&cfg);
    let emails: Vec<String> = (0..N).map(|i| format!("c{i}@example.net")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    wb.import(&refs);
    wb.start();
    let entered = |s: &Value| {
        s["sequences"][0]["in_grace"].as_i64().unwrap_or(0) + s["sequences"][0]["control"].as_i64().unwrap_or(0)
    };
    let status = wb.wait_for(Duration::from_secs(120), "every contact entered", |s| entered(s) == N as i64);
    let control = status["sequences"][0]["control"].as_i64().unwrap() as usize;
    // Binomial(1000, 0.2): mean 200, sd 12.6; four sd either way.
    assert!((150..=250).contains(&control), "{control} of {N} in control");
    let mailed = N - control;
    let messages = wb.maildir_messages("outbox/new", mailed);
    let received: HashSet<String> = messages.iter().map(|m| header(m, "Delivered-To")).collect();
    assert_eq!(received.len(), mailed, "one message per mailed contact");
    let unmailed: Vec<&String> = emails.iter().filter(|e| !received.contains(*e)).collect();
    assert_eq!(unmailed.len(), control);
    for e in &unmailed {
        let show: Value = serde_json::from_str(&wb.ok(&["contacts", "show", e, "--json"])).unwrap();
        assert_eq!(show["contact"]["state"]["control"], true, "{e} is control: {show:#}");
        assert!(show["messages"].as_array().unwrap().is_empty(), "{e} got nothing");
    }

    // The nightly re-import of the same list changes nothing.
    wb.import(&refs);
    let again = wb.status();
    assert_eq!(again["sequences"][0]["control"], control as i64);
    // A control contact buys: a control reactivation with its revenue.
    wb.ok(&["events", "add", unmailed[0], "purchase", "--value", "30"]);
    let report: Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let c = &report["sequences"][0]["control"];
    assert_eq!(c["entered"], control as i64, "{report:#}");
    assert_eq!(c["reactivated"], 1);
    assert_eq!(c["revenue"], 30.0);
    assert_eq!(report["sequences"][0]["entered"], mailed as i64);
    let lift = &c["lift"];
    let want = 0.0 - 1.0 / control as f64;
    assert!((lift["absolute"].as_f64().unwrap() - want).abs() < 1e-12, "{lift:#}");
    assert!(lift["ci_low"].as_f64().unwrap() < want && lift["ci_high"].as_f64().unwrap() > want);
    assert!(c["needed_per_group"].as_u64().is_some(), "not significant: a sample size is given");
    assert!(wb.ok(&["report"]).contains("lift over control"));
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
