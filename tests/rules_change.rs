//! Rules that change take effect: contacts imported under
//! `inactive_after = "400d"`, last purchase 200 days ago, are not due for
//! another 200 days; after the setting becomes `"90d"` and the daemon
//! restarts, every due time is recomputed in the background and they are
//! mailed at once.

mod support;

use std::time::Duration;

use support::daemon::Winback;
use support::outbox::{config, sent};
use support::smtp_sink::free_port;

fn due_at(wb: &Winback, email: &str) -> i64 {
    let show: serde_json::Value = serde_json::from_str(&wb.ok(&["contacts", "show", email, "--json"])).unwrap();
    show["contact"]["due_at"].as_i64().unwrap_or_else(|| panic!("{email} has a due time: {show:#}"))
}

#[test]
fn a_shorter_inactive_after_takes_effect_after_a_restart() {
    let base = config(free_port());
    let mut wb = Winback::new(&format!("{base}\n[lapse]\ninactive_after = \"400d\"\n"));
    let bought = chrono::Utc::now() - chrono::Duration::days(200);
    let csv: String = (0..3).map(|i| format!("c{i}@example.net,{}\n", bought.format("%Y-%m-%d"))).collect();
    std::fs::write(wb.path("contacts.csv"), format!("email,last_purchase_at\n{csv}")).unwrap();
    wb.ok(&["contacts", "import", "contacts.csv"]);
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    assert!(due_at(&wb, "c0@example.net") > now + 190 * day, "not lapsed under 400 days");

    wb.start();
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
    assert!(due_at(&wb, "c0@example.net") > now + 190 * day, "the same rules change nothing");
    assert_eq!(std::fs::read_dir(wb.path("outbox/new")).map_or(0, |d| d.count()), 0);

    std::fs::write(
        &wb.config,
        format!("{base}\n[lapse]\ninactive_after = \"90d\"\n")
            .replace("{dir}", wb.path("").to_str().unwrap().trim_end_matches('/')),
    )
    .unwrap();
    wb.start();
    sent(&wb, 3);
    let status = wb.wait_for(Duration::from_secs(20), "three in their sequence", |s| {
        s["sequences"][0]["in_grace"].as_i64() == Some(3) && s.get("due_recompute").is_none()
    });
    assert_eq!(status["idle"], 0, "{status:#}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
    assert!(wb.log().contains("recomputing every due time"), "{}", wb.log());
}
