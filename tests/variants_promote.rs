//! `auto_promote = true` through the real binary: 200 lapsed contacts
//! split between variants `a` and `b` of the one step; every `b` contact
//! buys, no `a` contact does. The promoter finds `b` better at 95%,
//! promotes it once (logged), and every contact entering afterwards gets
//! `b`; a step without `auto_promote` keeps splitting (the engine test
//! covers that side).

mod support;

use std::time::{Duration, Instant};

use support::daemon::{ONE_MESSAGE, Winback, maildir_config};
use support::outbox::header;

const B_SUBJECT: &str = "Something new for you";

#[test]
fn a_significantly_better_variant_is_promoted_and_sent_to_every_new_contact() {
    let variants = "auto_promote = true\n[[sequence.step.variant]]\nname = \"a\"\n[[sequence.step.variant]]\nname = \"b\"\n\
                    subject = \"Something new for you\"\ntemplate = \"whats-new\"\n";
    let config = maildir_config("", "").replace(ONE_MESSAGE, &format!("{ONE_MESSAGE}{variants}"));
    assert!(config.contains("auto_promote"), "the step carries the variants");
    let mut wb = Winback::new(&config);
    let first: Vec<String> = (0..200).map(|i| format!("p{i}@example.net")).collect();
    wb.import(&first.iter().map(String::as_str).collect::<Vec<_>>());
    wb.start();
    let sent = wb.maildir_messages("outbox/new", 200);
    let b: Vec<String> =
        sent.iter().filter(|m| header(m, "Subject") == B_SUBJECT).map(|m| header(m, "Delivered-To")).collect();
    assert!((60..=140).contains(&b.len()), "{} of 200 got b", b.len());
    wb.wait_for(Duration::from_secs(30), "every message recorded", |s| {
        s["kpis"]["sequences"][0]["steps"][0]["sent"].as_u64() == Some(200)
    });
    let orders: String = b.iter().map(|e| format!("{e},purchase,20\n")).collect();
    std::fs::write(wb.path("orders.csv"), format!("email,kind,value\n{orders}")).unwrap();
    wb.ok(&["events", "import", "orders.csv"]);

    // The promoter looks every 50 ticks (10 s here).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !wb.log().contains("variant promoted") {
        assert!(Instant::now() < deadline, "nothing promoted; log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = wb.log();
    assert_eq!(log.matches("variant promoted").count(), 1, "promoted once:\n{log}");
    assert!(log.lines().any(|l| l.contains("variant promoted") && l.contains("variant=b")), "{log}");

    let later: Vec<String> = (0..40).map(|i| format!("late{i}@example.net")).collect();
    wb.import(&later.iter().map(String::as_str).collect::<Vec<_>>());
    let all = wb.maildir_messages("outbox/new", 240);
    let late: Vec<&String> = all.iter().filter(|m| header(m, "Delivered-To").starts_with("late")).collect();
    assert_eq!(late.len(), 40);
    assert!(late.iter().all(|m| header(m, "Subject") == B_SUBJECT), "every new contact gets b");
    let report: serde_json::Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let v = &report["sequences"][0]["steps"][0]["variants"];
    assert_eq!(v["promoted"], "b", "{v:#}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
