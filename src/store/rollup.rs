//! Daily rollups: per UTC day, a few named figures (messages sent, events
//! by kind and origin, purchase value, revenue of reactivated contacts,
//! reactivations, suppressions by reason), so time series cost O(days)
//! to read, never O(events).
//!
//! The writer keeps them in step with the records it stores
//! ([`super::Writer::put_message`], `add_event`, `add_reactivation`,
//! `suppress`), in the same transaction; the engine adds the revenue of
//! reactivated contacts ([`REVENUE`]), which needs the contact's state
//! after the event. A store written before rollups existed (the table is
//! empty) gets them built once at open, in one pass over its messages,
//! events, reactivations and suppressions ([`ensure_built`]).

use std::collections::{BTreeMap, HashMap};

use redb::{ReadableTable, ReadableTableMetadata};

use super::StoreError;
use super::codec::decode;
use super::records::{MessageRecord, MessageState, Reactivation};
use super::writer::Writer;
use crate::clock::Millis;
use crate::domain::{Event, EventKind, Suppression};

/// Milliseconds per day.
pub const DAY_MS: Millis = 86_400_000;

/// Messages accepted by the next hop (or interrupted mid-transaction),
/// on the day they went out.
pub const SENT: &str = "sent";
/// Sum of purchase values.
pub const PURCHASE_VALUE: &str = "purchase_value";
/// Purchase value of contacts in the reactivated state (mailed or
/// control), at or after their reactivation.
pub const REVENUE: &str = "revenue";
/// Reactivations of mailed contacts.
pub const REACTIVATED: &str = "reactivated";
/// Reactivations of control contacts.
pub const REACTIVATED_CONTROL: &str = "reactivated_control";

/// The figure of events of a kind and origin: `event:open:human`.
pub fn event_key(kind: &EventKind, origin: crate::domain::Origin) -> String {
    format!("event:{kind}:{}", origin.as_str())
}

/// The figure of new suppressions for a reason: `suppressed:complaint`.
pub fn suppressed_key(reason: crate::domain::SuppressionReason) -> String {
    format!("suppressed:{reason}")
}

/// The day number (days since 1970-01-01 UTC) of a time.
pub fn day_of(at: Millis) -> i64 {
    at.div_euclid(DAY_MS)
}

/// Adds without leaving the finite range (a value that is not finite
/// counts as 0), like [`crate::report::add_value`].
pub fn add(sum: f64, v: f64) -> f64 {
    crate::report::add_value(sum, v)
}

/// Rollups by day, then figure.
pub type Rollups = BTreeMap<i64, BTreeMap<String, f64>>;

/// A figure on a day (0 when absent).
pub fn figure(r: &Rollups, day: i64, key: &str) -> f64 {
    r.get(&day).and_then(|m| m.get(key)).copied().unwrap_or(0.0)
}

pub(super) fn on_message(w: &mut Writer<'_>, m: &MessageRecord) {
    if matches!(m.state, MessageState::Sent | MessageState::Interrupted) {
        w.roll(m.sent_at.unwrap_or(m.created_at), SENT, 1.0);
    }
}

/// The figures an event adds to, given its [`event_key`] (made once per
/// kind and origin by the caller): one event, and a purchase's value.
pub(super) fn event_figures<'k>(e: &Event, key: &'k str) -> impl Iterator<Item = (&'k str, f64)> {
    let value = (e.kind == EventKind::Purchase).then(|| (PURCHASE_VALUE, e.value.unwrap_or(0.0)));
    std::iter::once((key, 1.0)).chain(value)
}

pub(super) fn on_reactivation(w: &mut Writer<'_>, r: &Reactivation) {
    w.roll(r.at, if r.control { REACTIVATED_CONTROL } else { REACTIVATED }, 1.0);
}

pub(super) fn on_suppression(w: &mut Writer<'_>, s: &Suppression) {
    w.roll(s.at, &suppressed_key(s.reason), 1.0);
}

/// Builds the rollups of a store that has none yet: one pass over what it
/// holds, in memory proportional to days × figures. Does nothing when the
/// table has rows.
pub(super) fn ensure_built(w: &mut Writer<'_>) -> Result<(), StoreError> {
    if w.rollups.len()? > 0 {
        return Ok(());
    }
    let mut sums: HashMap<(i64, String), f64> = HashMap::new();
    let mut roll = |at: Millis, key: &str, v: f64| {
        let s = sums.entry((day_of(at), key.to_string())).or_insert(0.0);
        *s = add(*s, v);
    };
    for row in w.messages.iter()? {
        let (k, v) = row?;
        let m: MessageRecord = decode("messages", &k.value(), v.value())?;
        if matches!(m.state, MessageState::Sent | MessageState::Interrupted) {
            roll(m.sent_at.unwrap_or(m.created_at), SENT, 1.0);
        }
    }
    let mut reactivated: HashMap<String, Millis> = HashMap::new();
    for row in w.reactivations.iter()? {
        let (k, v) = row?;
        let r: Reactivation = decode("reactivations", &k.value(), v.value())?;
        roll(r.at, if r.control { REACTIVATED_CONTROL } else { REACTIVATED }, 1.0);
        let first = reactivated.entry(r.email).or_insert(r.at);
        *first = (*first).min(r.at);
    }
    for row in w.events.iter()? {
        let (k, v) = row?;
        for (_, e) in super::codec::decode_events(k.value(), v.value())? {
            for (figure, v) in event_figures(&e, &event_key(&e.kind, e.origin)) {
                roll(e.at, figure, v);
            }
            if e.kind == EventKind::Purchase && reactivated.get(&e.email).is_some_and(|&at| e.at >= at) {
                roll(e.at, REVENUE, e.value.unwrap_or(0.0));
            }
        }
    }
    for row in w.suppressions.iter()? {
        let (k, v) = row?;
        let s: Suppression = decode("suppressions", &k.value(), v.value())?;
        roll(s.at, &suppressed_key(s.reason), 1.0);
    }
    for ((day, key), v) in sums {
        w.roll(day.saturating_mul(DAY_MS), &key, v);
    }
    Ok(())
}

/// The rollups of the days `from..=to`.
pub(super) fn read(
    t: &impl ReadableTable<(i64, &'static str), f64>,
    from: i64,
    to: i64,
) -> Result<Rollups, StoreError> {
    let mut out = Rollups::new();
    if from > to {
        return Ok(out);
    }
    for row in t.range((from, "")..(to.saturating_add(1), ""))? {
        let (k, v) = row?;
        let (day, key) = k.value();
        out.entry(day).or_default().insert(key.to_string(), v.value());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Origin, SuppressionReason};
    use crate::store::Store;

    fn message(id: u64, day: i64) -> MessageRecord {
        MessageRecord {
            id,
            email: format!("m{id}@example.com"),
            sequence: "wb".into(),
            step: 0,
            created_at: day * DAY_MS,
            state: MessageState::Queued { ready_at: day * DAY_MS },
            attempts: 0,
            first_attempt_at: None,
            sent_at: None,
            message_id: None,
            last_reply: None,
            links: vec![],
            variant: None,
        }
    }

    /// Day 10: two messages sent, a human and a machine open, a purchase of
    /// 40 by a contact reactivated that day; day 11: a complaint suppression.
    fn fill(s: &Store) {
        s.write(|w| {
            for id in [1, 2] {
                let queued = message(id, 10);
                w.put_message(None, &queued)?;
                let sent =
                    MessageRecord { state: MessageState::Sent, sent_at: Some(10 * DAY_MS + 5), ..queued.clone() };
                w.put_message(Some(&queued), &sent)?;
            }
            let mut open = Event::new("m1@example.com", "open", 10 * DAY_MS + 60);
            w.add_event(&open)?;
            open.origin = Origin::Machine;
            w.add_event(&open)?;
            let at = 10 * DAY_MS + 3_600_000;
            w.add_reactivation(&Reactivation {
                email: "m2@example.com".into(),
                sequence: "wb".into(),
                after_step: 1,
                at,
                control: false,
            })?;
            let mut buy = Event::new("m2@example.com", "purchase", at);
            buy.value = Some(40.0);
            w.add_event(&buy)?;
            // What the engine adds for a reactivated contact's purchase.
            w.roll(at, REVENUE, 40.0);
            w.suppress(&Suppression {
                email: "m1@example.com".into(),
                reason: SuppressionReason::Complaint,
                at: 11 * DAY_MS,
                detail: String::new(),
            })?;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn writes_roll_up_per_day_and_a_store_without_rollups_gets_the_same_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        fill(&s);
        let live = s.read().unwrap().rollups(0, 20).unwrap();
        assert_eq!(figure(&live, 10, SENT), 2.0);
        assert_eq!(figure(&live, 10, "event:open:human"), 1.0);
        assert_eq!(figure(&live, 10, "event:open:machine"), 1.0);
        assert_eq!(figure(&live, 10, PURCHASE_VALUE), 40.0);
        assert_eq!(figure(&live, 10, REVENUE), 40.0);
        assert_eq!(figure(&live, 10, REACTIVATED), 1.0);
        assert_eq!(figure(&live, 11, "suppressed:complaint"), 1.0);
        assert_eq!(live.keys().copied().collect::<Vec<_>>(), vec![10, 11]);
        assert!(!s.read().unwrap().rollups(11, 11).unwrap().contains_key(&10), "only the days asked");

        // A store from before rollups: the table is empty, the next open builds it.
        s.write(|w| {
            let keys: Vec<(i64, String)> = w
                .rollups
                .iter()?
                .map(|r| r.map(|(k, _)| (k.value().0, k.value().1.to_string())))
                .collect::<Result<_, _>>()?;
            for (d, k) in keys {
                w.rollups.remove((d, k.as_str()))?;
            }
            Ok(())
        })
        .unwrap();
        assert!(s.read().unwrap().rollups(0, 20).unwrap().is_empty());
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.read().unwrap().rollups(0, 20).unwrap(), live);
        // Built once: opening again adds nothing.
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.read().unwrap().rollups(0, 20).unwrap(), live);
    }
}
