//! End to end through the real binary and a real SMTP server (Postfix's
//! smtp-sink): 50 imported lapsed contacts, second-scale steps, ten of them
//! engage after the first message. Every message arrives exactly once with
//! the required headers; the engaged end reactivated, the rest sunset as
//! `unengaged`; the arrival rate never exceeds the configured limit.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use support::daemon::{Winback, smtp_config};
use support::smtp_sink::{SinkOptions, SmtpSink};

const CONTACTS: usize = 50;
const ENGAGED: usize = 10;
const RATE: usize = 20;

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next().unwrap_or(msg);
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn fifty_contacts_through_a_real_smtp_server() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut wb = Winback::new(&smtp_config(
        sink.port(),
        &format!("{RATE}/s"),
        r#"
[[sequence]]
name = "wb"
grace = "4s"
[[sequence.step]]
after = "0s"
subject = "We miss you{% if name %}, {{ name }}{% endif %}"
template = "miss-you"
[[sequence.step]]
after = "3s"
subject = "News"
template = "whats-new"
[[sequence.step]]
after = "3s"
subject = "Last chance"
template = "last-chance"
final = true
"#,
    ));
    let mut csv = String::from("email,name,last_engaged_at,city\n");
    for i in 0..CONTACTS {
        csv += &format!("user{i}@example.com,User {i},2020-01-01,Town{i}\n");
    }
    std::fs::write(wb.path("contacts.csv"), csv).unwrap();
    let out = wb.ok(&["contacts", "import", "contacts.csv"]);
    assert!(out.contains(&format!("imported: {CONTACTS} new contact(s)")), "{out}");

    wb.start();
    // Wait for every first message, then ten people click.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.messages().len() < CONTACTS {
        assert!(std::time::Instant::now() < deadline, "first step not delivered; log:\n{}", wb.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..ENGAGED {
        wb.ok(&["events", "add", &format!("user{i}@example.com"), "click"]);
    }
    let status = wb.wait_for(Duration::from_secs(60), "every contact reactivated or sunset", |s| {
        s["reactivated"].as_i64().unwrap_or(0) + s["sunset"].as_i64().unwrap_or(0) == CONTACTS as i64
    });
    assert_eq!(status["reactivated"], ENGAGED as i64);
    assert_eq!(status["sunset"], (CONTACTS - ENGAGED) as i64);
    assert_eq!(status["suppressed"]["unengaged"], (CONTACTS - ENGAGED) as i64);
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());

    let messages = sink.messages();
    let mut per_rcpt: HashMap<String, usize> = HashMap::new();
    let mut ids = HashSet::new();
    let mut steps = HashSet::new();
    for m in &messages {
        let text = String::from_utf8_lossy(&m.bytes).into_owned();
        assert_eq!(m.rcpt.len(), 1);
        let rcpt = m.rcpt[0].clone();
        assert!(m.mail_from.starts_with("bounces+") && m.mail_from.ends_with("@bounces.shop.test"), "{}", m.mail_from);
        let id = header(&text, "Message-ID").expect("Message-ID");
        assert!(ids.insert(id.to_string()), "duplicate Message-ID {id}");
        let feedback = header(&text, "Feedback-ID").expect("Feedback-ID");
        assert!(steps.insert((rcpt.clone(), feedback.to_string())), "{rcpt} got {feedback} twice");
        assert!(header(&text, "List-Unsubscribe").is_some_and(|v| v.contains("/u/")), "List-Unsubscribe");
        assert_eq!(header(&text, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
        assert!(header(&text, "X-Winback-Token").is_some_and(|t| m.mail_from.contains(t)), "token matches VERP");
        assert!(text.contains("multipart/alternative"), "text and HTML parts");
        *per_rcpt.entry(rcpt).or_default() += 1;
    }
    for i in 0..CONTACTS {
        let n = per_rcpt.get(&format!("user{i}@example.com")).copied().unwrap_or(0);
        if i < ENGAGED {
            let show: serde_json::Value =
                serde_json::from_str(&wb.ok(&["contacts", "show", &format!("user{i}@example.com"), "--json"])).unwrap();
            let after = show["contact"]["state"]["after_step"].as_u64().expect("reactivated after_step");
            assert_eq!(n as u64, after, "user{i}: messages received = messages counted before engagement");
            assert!(n < 3, "an engaged contact never gets the last chance");
        } else {
            assert_eq!(n, 3, "user{i} gets every step exactly once");
        }
    }
    // The rate: never more than RATE releases in any one-second window (one
    // token of burst allowed). Measured where the limit applies, on the
    // times the throttle let each message go (`first_attempt_at`, stamped
    // right after the grant), not on arrivals at the sink, which add the
    // delivery's jitter on top of the limit.
    let mut released = Vec::new();
    for i in 0..CONTACTS {
        let show: serde_json::Value =
            serde_json::from_str(&wb.ok(&["contacts", "show", &format!("user{i}@example.com"), "--json"])).unwrap();
        // Cancelled messages (engagement came first) were never released.
        released.extend(
            show["messages"].as_array().expect("messages").iter().filter_map(|m| m["first_attempt_at"].as_i64()),
        );
    }
    assert_eq!(released.len(), messages.len(), "one release per delivered message");
    let worst = most_within(&mut released, 1_000);
    let arrivals: Vec<i64> =
        messages.iter().map(|m| m.arrived_at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64).collect();
    println!(
        "{} messages, at most {worst} released within one second (limit {RATE}/s); at the sink, at most {} arrived \
         within one second (delivery jitter included, not asserted)",
        messages.len(),
        most_within(&mut arrivals.clone(), 1_000)
    );
    assert!(worst <= RATE + 1, "{worst} messages released within one second");
}

/// The most timestamps (milliseconds) within any half-open window of `width`.
fn most_within(times: &mut [i64], width: i64) -> usize {
    times.sort_unstable();
    (0..times.len()).map(|i| times[i..].iter().take_while(|u| **u < times[i] + width).count()).max().unwrap_or(0)
}
