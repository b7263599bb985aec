//! Spooled reports applied to a real store: attribution by VERP token,
//! token header and Message-ID; hard bounces and complaints suppress at
//! once; soft bounces on 3 sends within 30 days suppress, a delivery
//! resets them; delay notices are recorded, never counted; sender-side
//! refusals never touch the recipient. Reports
//! that prove nothing (no token, a bad token, another message's token
//! with another recipient, many recipients) act on nothing and are
//! counted; a genuine report acts once however often it comes.

use winback::bounce::Reason;
use winback::domain::SuppressionReason;
use winback::inbound::config::SpoolLimits;
use winback::inbound::process::{Applied, Processed, Processor};
use winback::inbound::spool::Spool;
use winback::inbound::unattributed::{Quarantine, Unattributed, Why};
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
        variant: None,
    };
    store.write(|w| w.put_message(None, &m)).unwrap();
}

fn dsn(rcpt: &str, status: &str, diag: &str, quoted: &str) -> Vec<u8> {
    dsn_as("failed", rcpt, status, diag, quoted)
}

/// [`dsn`] with the recipient's `Action:` (delayed, delivered …).
fn dsn_as(action: &str, rcpt: &str, status: &str, diag: &str, quoted: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\nTo: news@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n--B\r\n\
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
    // The envelope's VERP token says which send it was.
    let raw = dsn("Cat@Example.net", "5.1.1", "550 5.1.1 <cat@example.net>: User unknown", "Subject: x");
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
        Processed::Applied(Applied::Suppressed {
            email: "grumpy@example.net".into(),
            reason: SuppressionReason::Complaint
        })
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
    let count = |a: Processed| match a {
        Processed::Applied(Applied::SoftBounce { count, .. }) => count,
        other => panic!("want a soft bounce, got {other:?}"),
    };
    assert_eq!(count(p.process(&full(1), &[], T0).unwrap()), 1);
    assert_eq!(
        p.process(&full(1), &[], T0 + 1).unwrap(),
        Processed::Applied(Applied::Duplicate { email: "full@example.net".into(), message: 1 }),
        "the same send counts once"
    );
    assert_eq!(count(p.process(&full(2), &[], T0 + DAY).unwrap()), 2);
    // A delivery report in between resets the count.
    let delivered =
        dsn_as("delivered", "full@example.net", "2.0.0", "250 2.0.0 Ok", "Message-ID: <m3@news.example.org>");
    let out = p.process(&delivered, &[], T0 + 2 * DAY).unwrap();
    assert_eq!(
        out,
        Processed::Applied(Applied::Recorded { email: "full@example.net".into(), reason: Reason::Delivered })
    );
    assert_eq!(count(p.process(&full(3), &[], T0 + 3 * DAY).unwrap()), 1);
    assert_eq!(count(p.process(&full(4), &[], T0 + 4 * DAY).unwrap()), 2);
    // Outside the 30-day window the old ones have decayed.
    assert_eq!(count(p.process(&full(5), &[], T0 + 40 * DAY).unwrap()), 1);
    sent(&store, 6, "full@example.net");
    sent(&store, 7, "full@example.net");
    assert_eq!(count(p.process(&full(6), &[], T0 + 41 * DAY).unwrap()), 2);
    let out = p.process(&full(7), &[], T0 + 42 * DAY).unwrap();
    assert_eq!(
        out,
        Processed::Applied(Applied::Suppressed {
            email: "full@example.net".into(),
            reason: SuppressionReason::SoftBounce
        })
    );
}

#[test]
fn delay_notices_are_recorded_and_never_counted() {
    let (_d, store, keys) = setup();
    for id in 1..=4 {
        sent(&store, id, "slow@example.net");
    }
    let p = Processor::new(store.clone(), keys);
    let delay = |id: u64| {
        let quoted = format!("Message-ID: <m{id}@news.example.org>");
        dsn_as("delayed", "slow@example.net", "4.2.2", "452 4.2.2 Mailbox full", &quoted)
    };
    // Three sends delayed in a week: the address is still mailed.
    for id in 1..=3 {
        let out = p.process(&delay(id), &[], T0 + id as i64 * DAY).unwrap();
        assert_eq!(
            out,
            Processed::Applied(Applied::Delayed { email: "slow@example.net".into(), reason: Reason::MailboxFull })
        );
    }
    assert_eq!(
        p.process(&delay(1), &[], T0 + 4 * DAY).unwrap(),
        Processed::Applied(Applied::Duplicate { email: "slow@example.net".into(), message: 1 }),
        "a notice delivered twice is recorded once"
    );
    let r = store.read().unwrap();
    assert!(r.suppression("slow@example.net").unwrap().is_none());
    let kinds: Vec<_> = r.events_of("slow@example.net").unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![winback::domain::EventKind::Delayed; 3]);
    drop(r);
    // The failure report that follows a delay counts as a soft bounce.
    let failed = dsn("slow@example.net", "4.2.2", "452 4.2.2 Mailbox full", "Message-ID: <m1@news.example.org>");
    assert!(matches!(
        p.process(&failed, &[], T0 + 5 * DAY).unwrap(),
        Processed::Applied(Applied::SoftBounce { count: 1, .. })
    ));
}

#[test]
fn sender_side_refusals_never_suppress() {
    let (_d, store, keys) = setup();
    sent(&store, 9, "someone@example.net");
    let p = Processor::new(store.clone(), keys);
    let raw = dsn(
        "someone@example.net",
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "Message-ID: <m9@news.example.org>",
    );
    let out = p.process(&raw, &[], T0).unwrap();
    assert_eq!(
        out,
        Processed::Applied(Applied::SenderSide {
            email: "someone@example.net".into(),
            domain: "example.net".into(),
            reason: Reason::Blocked
        })
    );
    let r = store.read().unwrap();
    assert!(r.suppression("someone@example.net").unwrap().is_none());
    let events = r.events_of("someone@example.net").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, winback::domain::EventKind::BounceSender);
    assert!(events[0].reference.as_deref().unwrap_or("").contains("blocked example.net"));
}

fn unattributed(out: Processed) -> Unattributed {
    match out {
        Processed::Unattributed(u) => u,
        other => panic!("want an unattributed report, got {other:?}"),
    }
}

fn nothing_acted(store: &Store) {
    let r = store.read().unwrap();
    assert!(r.suppressions().unwrap().is_empty(), "{:?}", r.suppressions().unwrap());
    let counts = r.counts().unwrap();
    assert_eq!(counts.with_prefix("events").count(), 0, "no event recorded: {counts:?}");
}

#[test]
fn reports_without_proof_act_on_nothing_and_are_counted() {
    let (_d, store, keys) = setup();
    sent(&store, 1, "mine@example.net");
    let p = Processor::new(store.clone(), keys.clone());
    // No token, no Message-ID of ours.
    let plain = dsn("victim@example.net", "5.1.1", "550 5.1.1 User unknown", "Message-ID: <made-up@example.org>");
    let u = unattributed(p.process(&plain, &["postmaster@b.example.org".into()], T0).unwrap());
    assert_eq!((u.kind.as_str(), u.reason.as_str(), u.why), ("dsn", "userunknown", Why::NoProof));
    assert_eq!(u.named, ["victim@example.net"]);
    // A made-up token in the envelope, and a real token altered by one character.
    let real = keys.sign(Purpose::Message, 1, 0);
    let mut altered = real.clone().into_bytes();
    altered[3] = if altered[3] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    for token in ["abcdefghijklmnopqrstuvwxyz234567ab", altered.as_str()] {
        let u = unattributed(p.process(&plain, &[format!("bounces+{token}@b.example.org")], T0).unwrap());
        assert_eq!(u.why, Why::BadToken, "{token}");
    }
    // Another message's real token, naming someone else.
    let u = unattributed(p.process(&plain, &[format!("bounces+{real}@b.example.org")], T0).unwrap());
    assert_eq!(u.why, Why::OtherRecipient);
    // A complaint and soft bounces without proof.
    let arf = "From: fbl@isp.example\r\nSubject: report\r\nContent-Type: multipart/report; report-type=feedback-report; \
               boundary=\"F\"\r\n\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
               Version: 1\r\nOriginal-Rcpt-To: victim@example.net\r\n\r\n--F--\r\n";
    assert_eq!(unattributed(p.process(arf.as_bytes(), &[], T0).unwrap()).kind, "feedback");
    let soft = dsn("victim@example.net", "4.2.2", "452 4.2.2 Mailbox full", "Subject: x");
    for i in 0..3 {
        assert_eq!(unattributed(p.process(&soft, &[], T0 + i).unwrap()).reason, "mailboxfull");
    }
    nothing_acted(&store);
    let counts = store.read().unwrap().counts().unwrap();
    let unattributed: i64 = counts.with_prefix("reports:unattributed").map(|(_, n)| n).sum();
    assert_eq!(unattributed, 8, "{counts:?}");
    assert_eq!(counts.get("reports:unattributed:dsn:userunknown"), 4);
}

#[test]
fn a_many_recipient_report_acts_only_for_the_message_recipient() {
    let (_d, store, keys) = setup();
    sent(&store, 3, "mine@example.net");
    let p = Processor::new(store.clone(), keys.clone());
    let mut fields = String::new();
    for i in 0..50 {
        fields += &format!("Final-Recipient: rfc822; v{i}@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n");
    }
    let many = |extra: &str| {
        format!(
            "From: MAILER-DAEMON@mx.example.org\r\nSubject: failure\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n\
             Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n{fields}{extra}--B--\r\n"
        )
    };
    // Without proof: nobody.
    assert!(matches!(p.process(many("").as_bytes(), &[], T0).unwrap(), Processed::Unattributed(_)));
    nothing_acted(&store);
    // With our message's token and its recipient among the 50: only that one.
    let token = keys.sign(Purpose::Message, 3, 0);
    let ours = "Final-Recipient: rfc822; mine@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n";
    let out = p.process(many(ours).as_bytes(), &[format!("bounces+{token}@b.example.org")], T0).unwrap();
    assert_eq!(
        out,
        Processed::Applied(Applied::Suppressed {
            email: "mine@example.net".into(),
            reason: SuppressionReason::HardBounce
        })
    );
    let sup = store.read().unwrap().suppressions().unwrap();
    assert_eq!(sup.iter().map(|s| s.email.as_str()).collect::<Vec<_>>(), ["mine@example.net"]);
}

#[test]
fn a_genuine_report_delivered_twice_acts_once_and_unattributed_ones_are_kept() {
    let (dir, store, keys) = setup();
    sent(&store, 4, "gone@example.net");
    let token = keys.sign(Purpose::Message, 4, 0);
    let spool = Spool::open(dir.path().join("inbound"), SpoolLimits::default()).unwrap();
    let q = Quarantine::open(dir.path().join("unattributed"), std::time::Duration::from_secs(86_400)).unwrap();
    let p = Processor::new(store.clone(), keys).with_quarantine(q.clone());
    let genuine = dsn("gone@example.net", "5.1.1", "550 5.1.1 User unknown", "Subject: x");
    let envelope = [format!("bounces+{token}@b.example.org")];
    spool.write(&envelope, &genuine).unwrap();
    spool.write(&envelope, &genuine).unwrap();
    let forged = dsn("victim@example.net", "5.1.1", "550 5.1.1 User unknown", "Subject: x");
    spool.write(&["postmaster@b.example.org".to_string()], &forged).unwrap();
    assert_eq!(p.drain(&spool, T0).unwrap(), 3);
    let r = store.read().unwrap();
    assert_eq!(r.suppressions().unwrap().len(), 1);
    assert_eq!(r.suppression("gone@example.net").unwrap().unwrap().reason, SuppressionReason::HardBounce);
    let bounces = r.events_of("gone@example.net").unwrap();
    assert_eq!(bounces.len(), 1, "one event for two deliveries: {bounces:?}");
    let kept = q.list().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].envelope, ["postmaster@b.example.org"]);
    assert_eq!(kept[0].report.named, ["victim@example.net"]);
    assert_eq!(q.message(&kept[0].id).unwrap(), forged);
    // Past the keeping time the next drain removes it.
    assert_eq!(p.drain(&spool, T0 + 2 * DAY).unwrap(), 0);
    assert!(q.list().unwrap().is_empty());
}
