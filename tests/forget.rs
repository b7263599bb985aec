//! Data-protection requests against the real daemon: `contacts export`
//! returns everything held about a person; `contacts forget` erases it
//! while the daemon runs, keeps the KPIs without the address, and the
//! address never comes back, not through a re-import nor an event.

mod support;

use serde_json::Value;
use support::outbox::{daemon, sent};
use support::smtp_sink::free_port;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn export_then_forget_and_never_again() {
    let mut wb = daemon(&["anna@example.net", "bert@example.net"], free_port());
    sent(&wb, 2);
    wb.ok(&["events", "add", "anna@example.net", "purchase", "--value", "12.5"]);

    let export = json(&wb.ok(&["contacts", "export", "Anna@Example.net"]));
    assert_eq!(export["email"], "anna@example.net");
    assert_eq!(export["contact"]["email"], "anna@example.net");
    assert_eq!(export["messages"].as_array().unwrap().len(), 1, "{export:#}");
    assert_eq!(export["events"][0]["kind"], "purchase");
    assert!(!export["history"].as_array().unwrap().is_empty());
    assert_eq!(export["forgotten"], false);

    let out = wb.ok(&["contacts", "forget", "anna@example.net"]);
    assert!(out.contains("anna@example.net forgotten: contact erased, 1 event(s)"), "{out}");
    let status = wb.status();
    assert_eq!(status["contacts_total"], 1, "{status:#}");
    assert_eq!(status["suppressed"]["forgotten"], 1);
    assert_eq!(status["messages"]["sent"], 2, "the KPIs keep the message without the address");
    let export = json(&wb.ok(&["contacts", "export", "anna@example.net"]));
    assert_eq!(export["forgotten"], true);
    assert!(export["contact"].is_null(), "{export:#}");
    for list in ["events", "history", "messages", "reactivations"] {
        assert!(export[list].as_array().unwrap().is_empty(), "{list}: {export:#}");
    }
    assert!(!wb.ok(&["suppress", "list"]).contains("anna@"), "not listed by address");

    // Tomorrow's import brings her back: refused and reported, not stored.
    std::fs::write(wb.path("again.csv"), "email,name\nanna@example.net,Anna\ncarl@example.net,Carl\n").unwrap();
    let report = wb.ok(&["contacts", "import", "again.csv"]);
    assert!(report.contains("forgotten"), "{report}");
    assert!(report.contains("1 new contact(s)"), "{report}");
    let out = wb.ok(&["events", "add", "anna@example.net", "login", "--create"]);
    assert!(out.contains("0 recorded"), "an event does not bring her back either: {out}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
    let export = json(&wb.ok(&["contacts", "export", "anna@example.net"]));
    assert!(export["contact"].is_null() && export["events"].as_array().unwrap().is_empty(), "{export:#}");
    // The other contact is untouched.
    assert_eq!(json(&wb.ok(&["contacts", "export", "bert@example.net"]))["messages"].as_array().unwrap().len(), 1);
}
