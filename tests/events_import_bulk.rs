//! A date-sorted order history imported while the daemon runs, in many
//! small batches so the file is sorted through runs on disk and the
//! batches are pipelined to the daemon: every order arrives once, under
//! its contact, in the file's order; a contact in a sequence that bought
//! is reactivated; the store's per-contact index is consistent.

mod support;

use std::time::Duration;

use support::outbox::{daemon, sent};
use support::smtp_sink::free_port;

const CUSTOMERS: usize = 40;
const ORDERS: usize = 7;

#[test]
fn a_date_sorted_history_arrives_whole_and_in_order_through_the_daemon() {
    let mut wb = daemon(&["anna@example.net", "bert@example.net"], free_port());
    sent(&wb, 2);
    wb.wait_for(Duration::from_secs(20), "both in their sequence", |s| {
        s["sequences"][0]["in_grace"].as_i64() == Some(2)
    });
    // Orders by date, customers interleaved as a shop's export has them;
    // Anna buys at the very end (tomorrow: a time ahead counts as now,
    // whatever the time zone).
    let mut csv = String::from("Email;Created at;Total;Name\n");
    for o in 0..ORDERS {
        for c in 0..CUSTOMERS {
            let day = 1 + o * 3 + c % 3;
            csv += &format!("c{c}@example.org;2025-03-{day:02} 10:{c:02}:00;{}.{o}0;#{c}-{o}\n", c + 1);
        }
    }
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S");
    csv += &format!("anna@example.net;{tomorrow};99.00;#anna\n");
    std::fs::write(wb.path("orders.csv"), csv).unwrap();

    // 9 events a batch: 72 sorted in memory, so four runs on disk, and 32
    // batches (a contact's seven orders never split).
    let out = wb.ok(&["events", "import", "orders.csv", "--create", "--kind", "purchase", "--batch", "9"]);
    let total = CUSTOMERS * ORDERS + 1;
    assert!(out.contains("anna@example.net: reactivated"), "{out}");
    assert!(
        out.contains(&format!("{total} event(s): {total} recorded, 1 reactivated a contact, 0 for unknown contacts")),
        "{out}"
    );
    wb.wait_for(Duration::from_secs(10), "Anna reactivated", |s| s["reactivated"] == 1);
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());

    for c in [0, 17, CUSTOMERS - 1] {
        let show: serde_json::Value =
            serde_json::from_str(&wb.ok(&["contacts", "show", &format!("c{c}@example.org"), "--json"])).unwrap();
        let refs: Vec<&str> = show["events"].as_array().unwrap().iter().map(|e| e["ref"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..ORDERS).map(|o| format!("#{c}-{o}")).collect();
        assert_eq!(refs, want, "c{c}: every order once, in the file's order: {show:#}");
        let values: Vec<f64> =
            show["events"].as_array().unwrap().iter().map(|e| e["value"].as_f64().unwrap()).collect();
        assert_eq!(values[3], (c + 1) as f64 + 0.3, "{show:#}");
    }
    let check = wb.ok(&["store", "check"]);
    assert!(check.contains("store: clean"), "{check}");
    // One row per contact and batch (each contact's orders are together,
    // a batch ends at a contact's last order), each holding those orders.
    assert!(check.contains(&format!("({total} events)")), "{check}");
    let rows = |table: &str| check.lines().find(|l| l.split_whitespace().next() == Some(table)).unwrap().to_string();
    let count = |line: String| line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
    assert_eq!(count(rows("events")), count(rows("contact_event_runs")), "{check}");
    assert!(count(rows("events")) < total as u64 / 2, "{check}");
}
