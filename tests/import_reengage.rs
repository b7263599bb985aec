//! A nightly re-import, as a shop feeds winback from its own customer
//! export: a contact in a sequence whose `last_purchase_at` moves to today
//! is reactivated (the remaining steps stop), the purchase enters its
//! history, and the report counts it. Importing the same file again
//! changes nothing.

mod support;

use std::time::Duration;

use support::outbox::{daemon, sent};
use support::smtp_sink::free_port;

#[test]
fn a_newer_last_purchase_in_a_reimport_reactivates() {
    let mut wb = daemon(&["anna@example.net", "bert@example.net"], free_port());
    sent(&wb, 2);
    wb.wait_for(Duration::from_secs(20), "both in their sequence", |s| {
        s["sequences"][0]["in_grace"].as_i64() == Some(2)
    });
    // Tomorrow's export: Anna bought today (a date in the future counts as
    // now), Bert did not.
    let today = chrono::Utc::now() + chrono::Duration::days(1);
    let csv = format!(
        "email,last_purchase_at,last_engaged_at\nanna@example.net,{},2020-01-01\nbert@example.net,,2020-01-01\n",
        today.format("%Y-%m-%dT%H:%M:%SZ")
    );
    std::fs::write(wb.path("export.csv"), csv).unwrap();
    wb.ok(&["contacts", "import", "export.csv"]);
    let status = wb.wait_for(Duration::from_secs(10), "Anna reactivated", |s| s["reactivated"] == 1);
    assert_eq!(status["sequences"][0]["in_grace"], 1, "Bert is still in his sequence: {status:#}");

    // The same export again (the next night, nothing new): nothing changes.
    wb.ok(&["contacts", "import", "export.csv"]);
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
    let show: serde_json::Value =
        serde_json::from_str(&wb.ok(&["contacts", "show", "anna@example.net", "--json"])).unwrap();
    assert_eq!(show["contact"]["state"]["state"], "reactivated", "{show:#}");
    assert_eq!(show["contact"]["state"]["after_step"], 1);
    let purchases: Vec<&serde_json::Value> =
        show["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "purchase").collect();
    assert_eq!(purchases.len(), 1, "one purchase for two imports of the same date: {show:#}");
    assert_eq!(purchases[0]["ref"], "import");
    let report: serde_json::Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    assert_eq!(report["sequences"][0]["reactivated"], 1, "{report:#}");
    assert_eq!(report["sequences"][0]["steps"][0]["reactivated"], 1, "{report:#}");
    let bert: serde_json::Value =
        serde_json::from_str(&wb.ok(&["contacts", "show", "bert@example.net", "--json"])).unwrap();
    assert!(bert["events"].as_array().unwrap().is_empty(), "{bert:#}");
}
