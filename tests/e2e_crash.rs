//! Crash test: `kill -9` the daemon while it sends, start it again, and
//! show that nothing is sent twice and nothing due is lost (a message
//! caught mid-transaction is counted as interrupted, never resent).

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::daemon::{Winback, smtp_config};
use support::smtp_sink::{SinkOptions, SmtpSink};

const CONTACTS: usize = 200;

#[test]
fn kill_9_mid_run_loses_nothing_and_duplicates_nothing() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut wb = Winback::new(&smtp_config(
        sink.port(),
        "100/s",
        r#"
[[sequence]]
name = "wb"
grace = "30d"
[[sequence.step]]
after = "0s"
subject = "Last chance"
template = "last-chance"
final = true
"#,
    ));
    let csv: String = std::iter::once("email,last_engaged_at\n".to_string())
        .chain((0..CONTACTS).map(|i| format!("c{i}@example.com,2020-01-01\n")))
        .collect();
    std::fs::write(wb.path("contacts.csv"), csv).unwrap();
    wb.ok(&["contacts", "import", "contacts.csv"]);

    wb.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.messages().len() < CONTACTS / 4 {
        assert!(std::time::Instant::now() < deadline, "nothing sent; log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    wb.crash();
    let before = sink.messages().len();
    assert!(before < CONTACTS, "the crash came too late to test anything ({before} sent)");

    wb.start();
    let status = wb.wait_for(Duration::from_secs(60), "every message settled", |s| {
        let m = &s["messages"];
        m["sent"].as_i64().unwrap_or(0) + m["interrupted"].as_i64().unwrap_or(0) == CONTACTS as i64
    });
    assert!(wb.stop());
    let interrupted = status["messages"]["interrupted"].as_i64().unwrap_or(0) as usize;
    assert!(interrupted <= 4, "at most max_connections messages can be caught mid-transaction");
    std::thread::sleep(Duration::from_millis(200));
    let messages = sink.messages();
    let rcpts: Vec<&String> = messages.iter().flat_map(|m| &m.rcpt).collect();
    let unique: HashSet<&String> = rcpts.iter().copied().collect();
    println!(
        "{} delivered before the crash, {} in all, {interrupted} interrupted, {} unique",
        before,
        rcpts.len(),
        unique.len()
    );
    assert_eq!(unique.len(), rcpts.len(), "no contact got the message twice");
    assert!(rcpts.len() + interrupted >= CONTACTS, "nothing due was lost");
    assert!(rcpts.len() <= CONTACTS);
}
