//! KPI arithmetic on hand-made records.

use super::*;
use crate::domain::Event;

const DAY: Millis = 86_400_000;

fn cfg() -> Config {
    crate::config::testing::with_sequence(
        "[report]\nretention_window = \"30d\"",
        "wb",
        "1d",
        &[("0s", "miss-you"), ("1d", "last-chance")],
    )
}

/// A message of sequence `wb` (shared with the sibling modules' tests).
pub(super) fn msg(id: u64, email: &str, step: u32, state: MessageState) -> MessageRecord {
    MessageRecord {
        id,
        email: email.into(),
        sequence: "wb".into(),
        step,
        created_at: 0,
        state,
        attempts: 1,
        first_attempt_at: Some(0),
        sent_at: Some(0),
        message_id: None,
        last_reply: None,
        links: vec![],
        variant: None,
    }
}

fn ev(email: &str, kind: &str, at: Millis, origin: Origin, message: Option<u64>, value: Option<f64>) -> Event {
    Event { email: email.into(), kind: kind.into(), at, origin, value, reference: None, message }
}

#[test]
fn rates_revenue_and_machine_opens_are_counted_honestly() {
    let cfg = cfg();
    let mut counts = Counts::default();
    counts.0.insert("kpi:entered:wb".into(), 4);
    counts.0.insert("kpi:sunset:wb".into(), 1);
    let messages = vec![
        msg(1, "a@x.com", 0, MessageState::Sent),
        msg(2, "b@x.com", 0, MessageState::Sent),
        msg(3, "c@x.com", 0, MessageState::Sent),
        msg(4, "d@x.com", 0, MessageState::Failed),
        msg(5, "c@x.com", 1, MessageState::Sent),
    ];
    let events = vec![
        ev("a@x.com", "open", DAY, Origin::Machine, Some(1), None),
        ev("a@x.com", "open", DAY, Origin::Human, Some(1), None),
        ev("b@x.com", "click", DAY, Origin::Human, Some(2), None),
        ev("b@x.com", "purchase", 2 * DAY, Origin::Human, None, Some(40.0)),
        ev("b@x.com", "purchase", 40 * DAY, Origin::Human, None, Some(60.0)),
        ev("a@x.com", "purchase", 0, Origin::Human, None, Some(999.0)),
        ev("c@x.com", "unsubscribe", 3 * DAY, Origin::Human, Some(5), None),
        ev("c@x.com", "bounce", 3 * DAY, Origin::Human, Some(3), None),
    ];
    let reactivations = vec![
        Reactivation { email: "a@x.com".into(), sequence: "wb".into(), after_step: 1, at: DAY, control: false },
        Reactivation { email: "b@x.com".into(), sequence: "wb".into(), after_step: 1, at: DAY, control: false },
    ];
    let r = compute(&cfg, &counts, &messages, &events, &reactivations, 100 * DAY);
    let s = &r.sequences[0];
    assert_eq!((s.entered, s.reactivated, s.sunset, s.unsubscribed), (4, 2, 1, 1));
    assert_eq!(s.reactivation_rate, Some(0.5));
    assert_eq!((s.retention_eligible, s.retained), (2, 1), "b bought again 39 days later; a never engaged again");
    assert_eq!(s.retention_rate, Some(0.5));
    assert_eq!(s.revenue, 100.0, "a's purchase before reactivation does not count");
    let st = &s.steps[0];
    assert_eq!((st.sent, st.delivered), (3, 2), "one bounced");
    assert_eq!((st.opens_human, st.opens_machine, st.clicks, st.reactivated), (1, 1, 1, 2));
    assert_eq!(s.steps[1].unsubscribed, 1);
    assert!(r.render().contains("reactivated 2 (50.0%)"));
}

#[test]
fn young_reactivations_are_not_judged_for_retention() {
    let cfg = cfg();
    let reactivations = vec![Reactivation {
        email: "a@x.com".into(),
        sequence: "wb".into(),
        after_step: 2,
        at: 90 * DAY,
        control: false,
    }];
    let r = compute(&cfg, &Counts::default(), &[], &[], &reactivations, 100 * DAY);
    let s = &r.sequences[0];
    assert_eq!((s.retention_eligible, s.retention_rate), (0, None));
    assert_eq!(s.reactivation_rate, None, "nobody entered: no rate rather than a division by zero");
    assert_eq!(s.steps[1].reactivated, 1);
}

#[test]
fn revenue_stays_finite_with_huge_and_non_finite_stored_values() {
    let cfg = cfg();
    let buy = |v: f64| ev("a@x.com", "purchase", 2 * DAY, Origin::Human, None, Some(v));
    let events = vec![buy(1e308), buy(1e308), buy(f64::INFINITY), buy(f64::NAN), buy(5.0)];
    let reactivations =
        vec![Reactivation { email: "a@x.com".into(), sequence: "wb".into(), after_step: 1, at: DAY, control: false }];
    let r = compute(&cfg, &Counts::default(), &[], &events, &reactivations, 100 * DAY);
    assert_eq!(r.sequences[0].revenue, f64::MAX, "saturated, not infinite");
    assert!(r.render().contains("revenue 1.798e308"), "{}", r.render());
    // Through the admin protocol's JSON and back.
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    // A non-finite figure (sent as null by an older daemon) still reads.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["sequences"][0]["revenue"] = serde_json::Value::Null;
    let back: Report = serde_json::from_value(value).unwrap();
    assert!(back.sequences[0].revenue.is_nan());
    assert!(back.render().contains("revenue unavailable"));
    assert_eq!(add_value(f64::MIN, -1e308), f64::MIN);
}
