//! Backups end to end through the real binary and Postfix's smtp-sink: a
//! backup taken through the running daemon while 10,000 messages go out
//! restores to a store holding every contact, every message recorded sent
//! and every event recorded before the backup; a daemon started on the
//! restored copy sends the rest and nothing the backup saw as sent.
//! Restore refuses while a daemon runs; `store check` and `store compact`
//! run on the restored copy.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use support::smtp_sink::{SinkOptions, SmtpSink};
use winback::store::{MessageState, Store};

const CONTACTS: usize = 10_000;
const CLICKS: usize = 50;

fn config(port: u16) -> String {
    smtp_config(port, "800/s", ONE_MESSAGE)
}

fn sent(status: &serde_json::Value) -> i64 {
    status["messages"]["sent"].as_i64().unwrap_or(0)
}

/// Addresses whose message the store at `state_dir` holds as sent (or
/// caught mid-send), and its event count.
fn sent_in(state_dir: &std::path::Path) -> (HashSet<String>, usize, u64) {
    let store = Store::open(state_dir).expect("open restored store");
    let r = store.read().unwrap();
    let mut done = HashSet::new();
    r.for_each_message(|m| {
        if matches!(m.state, MessageState::Sent | MessageState::Sending { .. } | MessageState::Interrupted) {
            done.insert(m.email);
        }
    })
    .unwrap();
    let mut events = 0;
    r.for_each_event(|_, _| events += 1).unwrap();
    (done, events, r.contact_count().unwrap())
}

#[test]
fn a_backup_taken_while_sending_restores_and_resends_nothing() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut wb = Winback::new(&config(sink.port()));
    let mut csv = String::from("email,last_engaged_at\n");
    for i in 0..CONTACTS {
        csv += &format!("user{i}@example.com,2020-01-01\n");
    }
    std::fs::write(wb.path("contacts.csv"), csv).unwrap();
    wb.ok(&["contacts", "import", "contacts.csv"]);
    wb.start();

    // Clicks recorded before the backup; sending well under way.
    wb.wait_for(Duration::from_secs(300), "a fifth sent", |s| sent(s) >= (CONTACTS / 5) as i64);
    for i in 0..CLICKS {
        wb.ok(&["events", "add", &format!("user{}@example.com", CONTACTS - 1 - i), "purchase"]);
    }
    let before = wb.status();
    let out = wb.ok(&["backup", "backup"]);
    assert!(out.contains(&format!("{CONTACTS} contacts")), "{out}");
    let at_backup = sink.received();
    assert!(
        (at_backup as usize) < CONTACTS,
        "the backup must be taken while sending goes on ({at_backup} already delivered)"
    );
    // A second backup into the same place is refused, the first untouched.
    let again = wb.cli(&["backup", "backup"]);
    assert_eq!(again.status.code(), Some(65), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    wb.wait_for(Duration::from_secs(600), "every message sent", |s| {
        sent(s) + s["messages"]["cancelled"].as_i64().unwrap_or(0) >= CONTACTS as i64
    });
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());

    // Restore into a fresh state directory, sending to another sink.
    let sink2 = SmtpSink::start(SinkOptions::default());
    let mut restored = Winback::new(&config(sink2.port()));
    let backup = wb.path("backup");
    let out = restored.ok(&["restore", backup.to_str().unwrap()]);
    assert!(out.contains("restored"), "{out}");
    let (done, events, contacts) = sent_in(&restored.path("var"));
    assert_eq!(contacts, CONTACTS as u64, "every contact is in the backup");
    assert!(done.len() as i64 >= sent(&before), "messages recorded sent before the backup are in it");
    let events_before: i64 = before["events"].as_object().map_or(0, |e| e.values().filter_map(|v| v.as_i64()).sum());
    assert!(events as i64 >= events_before, "{events} events restored, {events_before} recorded before the backup");
    assert!(events >= CLICKS, "the events recorded before the backup are in it ({events})");
    let check = restored.ok(&["store", "check"]);
    assert!(check.contains("store: clean") && check.contains("pages: ok"), "{check}");

    restored.start();
    // Restore refuses while a daemon runs on the state directory.
    let refused = restored.cli(&["restore", backup.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(75), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PID"));
    let online = restored.ok(&["store", "check"]);
    assert!(online.contains("store: clean"), "{online}");

    // Every contact's one message either went out (before the backup or
    // now) or was cancelled by the purchase; nothing is left to send.
    let settled = restored.wait_for(Duration::from_secs(600), "every contact through its step", |s| {
        s["queue_depth"].as_u64() == Some(0)
            && s["idle"].as_i64() == Some(0)
            && s["sequences"][0]["waiting_for_step"][0].as_i64() == Some(0)
    });
    let backup_sent = done.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while (sink2.received() as i64) < sent(&settled) - backup_sent {
        assert!(Instant::now() < deadline, "sink missing messages; log:\n{}", restored.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(restored.stop(), "graceful stop; log:\n{}", restored.log());
    let resent: Vec<String> =
        sink2.messages().iter().flat_map(|m| m.rcpt.clone()).filter(|r| done.contains(r.as_str())).collect();
    assert!(
        resent.is_empty(),
        "{} messages the backup saw as sent went out again: {:?}",
        resent.len(),
        &resent[..resent.len().min(5)]
    );
    let compact = restored.ok(&["store", "compact"]);
    assert!(compact.contains("store compacted"), "{compact}");
    assert!(restored.ok(&["store", "check"]).contains("store: clean"));
}
