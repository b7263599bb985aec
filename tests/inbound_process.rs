//! Spooled reports applied to a real store: attribution by VERP token,
//! token header and Message-ID; hard bounces and complaints suppress at
//! once; soft bounces on 3 sends within 30 days suppress, a delivery
//! resets them; sender-side refusals never touch the recipient.

use winback::bounce::Reason;
use winback::domain::SuppressionReason;
use winback::inbound::config::SpoolLimits;
use winback::inbound::process::{Applied, Processor};
use winback::inbound::spool::Spool;
use winback::store::{MessageRecord, MessageState, Store};
use winback::token::{Keys, Purpose};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

fn setup() -> (tempfile::TempDir, Store, Keys) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store, Keys::from_secret([7; 32]))
}

fn sent(store: &Store, id: u64, email: &str) {
    let m = MessageRecord {
        id,
        email: email.into(),
        sequence: "miss-you".into(),
        step: 0,
        created_at: T0,
        state: MessageState::Sent,
        attempts: 1,
        first_attempt_at: Some(T0),
        sent_at: Some(T0),
        message_id: Some(format!("<m{id}@news.example.org>")),
        last_reply: None,
        links: Vec::new(),
    };
    store.write(|w| w.put_message(None, &m)).unwrap();
}

fn dsn(rcpt: &str, status: &str, diag: &str, quoted: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\nTo: news@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n--B\r\n\
         Content-Type: text/rfc822-headers\r\n\r\n{quoted}\r\n--B--\r\n"
    )
    .into_bytes()
}

#[test]
fn hard_bounce_by_verp_token_suppresses_through_the_spool() {
    let (dir, store, keys) = setup();
    sent(&store, 1, "cat@example.net");
    let token = keys.sign(Purpose::Message, 1, 0);
    let spool = Spool::open(dir.path().join("inbound"), SpoolLimits::default()).unwrap();
    // The bounce names another address (an alias): the VERP token says which send it was.
    let raw = dsn("alias@example.net", "5.1.1", "550 5.1.1 <alias@example.net>: User unknown", "Subject: x");
    spool.write(&[format!("bounces+{token}@b.example.org")], &raw).unwrap();
    let p = Processor::new(store.clone(), keys);
    assert_eq!(p.drain(&spool, T0).unwrap(), 1);
    assert!(spool.list().unwrap().is_empty() && spool.claimed().unwrap().is_empty());
    let s = store.read().unwrap().suppression("cat@example.net").unwrap().expect("suppressed");
    assert_eq!(s.reason, SuppressionReason::HardBounce);
    assert!(s.detail.contains("User unknown"), "{}", s.detail);
}

#[test]
fn complaint_by_token_header_suppresses() {
    let (_d, store, keys) = setup();
    sent(&store, 5, "grumpy@example.net");
    let token = keys.sign(Purpose::Message, 5, 0);
    let raw = format!(
        "From: fbl@isp.example\r\nTo: abuse@example.org\r\nSubject: report\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
         --F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n\
         --F\r\nContent-Type: text/rfc822-headers\r\n\r\nTo: redacted@isp.example\r\nX-Winback-Token: {token}\r\n\r\n--F--\r\n"
    );
    let p = Processor::new(store.clone(), keys);
    let out = p.process(raw.as_bytes(), &[], T0).unwrap();
    assert_eq!(
        out,
        vec![Applied::Suppressed { email: "grumpy@example.net".into(), reason: SuppressionReason::Complaint }]
    );
}

#[test]
fn soft_bounces_suppress_on_the_third_send_and_delivery_resets() {
    let (_d, store, keys) = setup();
    for id in 1..=5 {
        sent(&store, id, "full@example.net");
    }
    let p = Processor::new(store.clone(), keys);
    let full = |id: u64| {
        dsn("full@example.net", "4.2.2", "452 4.2.2 Mailbox full", &format!("Message-ID: <m{id}@news.example.org>"))
    };
    let count = |a: &[Applied]| match a {
        [Applied::SoftBounce { count, .. }] => *count,
        other => panic!("want a soft bounce, got {other:?}"),
    };
    assert_eq!(count(&p.process(&full(1), &[], T0).unwrap()), 1);
    assert_eq!(count(&p.process(&full(1), &[], T0 + 1).unwrap()), 1, "the same send counts once");
    assert_eq!(count(&p.process(&full(2), &[], T0 + DAY).unwrap()), 2);
    // A delivery report in between resets the count.
    let delivered = dsn("full@example.net", "2.0.0", "250 2.0.0 Ok", "Message-ID: <m3@news.example.org>");
    let delivered = String::from_utf8(delivered).unwrap().replace("Action: failed", "Action: delivered");
    let out = p.process(delivered.as_bytes(), &[], T0 + 2 * DAY).unwrap();
    assert_eq!(out, vec![Applied::Recorded { email: "full@example.net".into(), reason: Reason::Delivered }]);
    assert_eq!(count(&p.process(&full(3), &[], T0 + 3 * DAY).unwrap()), 1);
    assert_eq!(count(&p.process(&full(4), &[], T0 + 4 * DAY).unwrap()), 2);
    // Outside the 30-day window the old ones have decayed.
    assert_eq!(count(&p.process(&full(5), &[], T0 + 40 * DAY).unwrap()), 1);
    sent(&store, 6, "full@example.net");
    sent(&store, 7, "full@example.net");
    assert_eq!(count(&p.process(&full(6), &[], T0 + 41 * DAY).unwrap()), 2);
    let out = p.process(&full(7), &[], T0 + 42 * DAY).unwrap();
    assert_eq!(
        out,
        vec![Applied::Suppressed { email: "full@example.net".into(), reason: SuppressionReason::SoftBounce }]
    );
}

#[test]
fn sender_side_refusals_never_suppress() {
    let (_d, store, keys) = setup();
    let p = Processor::new(store.clone(), keys);
    let raw = dsn(
        "someone@example.net",
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "Subject: x",
    );
    let out = p.process(&raw, &[], T0).unwrap();
    assert_eq!(
        out,
        vec![Applied::SenderSide {
            email: "someone@example.net".into(),
            domain: "example.net".into(),
            reason: Reason::Blocked
        }]
    );
    let r = store.read().unwrap();
    assert!(r.suppression("someone@example.net").unwrap().is_none());
    let events = r.events_of("someone@example.net").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, winback::domain::EventKind::BounceSender);
    assert!(events[0].reference.as_deref().unwrap_or("").contains("blocked example.net"));
}
