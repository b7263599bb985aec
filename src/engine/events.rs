//! Recording events: the one path every open, click, purchase, login,
//! reply or unsubscribe takes, whatever reported it.

use std::collections::HashMap;

use crate::config::Config;
use crate::domain::{Contact, ContactState, Event, EventKind, sequence};
use crate::store::{Reactivation, StoreError, Writer};

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    /// Recorded; the contact's state did not change.
    Recorded,
    /// Recorded, and it ended the contact's sequence as reactivated.
    Reactivated,
    /// No such contact, and the caller did not ask to create it: nothing recorded.
    UnknownContact,
}

/// Records an event and runs the state machine on it. With `create`, an
/// unknown address becomes a new contact first.
pub fn record_event(w: &mut Writer<'_>, cfg: &Config, e: &Event, create: bool) -> Result<EventResult, StoreError> {
    Ok(record_batch(w, cfg, std::slice::from_ref(e), create)?.pop().unwrap_or(EventResult::UnknownContact))
}

/// Records a batch of events as [`record_event`] does each, and says what
/// each did (in the batch's order). The events of one contact are applied
/// in order to one copy of it, read and stored once: an order history
/// imports at the speed of its events, not of its contact lookups.
pub fn record_batch(
    w: &mut Writer<'_>,
    cfg: &Config,
    events: &[Event],
    create: bool,
) -> Result<Vec<EventResult>, StoreError> {
    let mut results = vec![EventResult::UnknownContact; events.len()];
    for (email, indexes) in by_contact(events) {
        let stored = match w.contact(email)? {
            Some(c) => Stored::Known(c),
            None if create && !w.is_forgotten(email)? => {
                Stored::New(Contact::new(email.to_string(), events[indexes[0]].at))
            }
            None => continue,
        };
        let outcomes = apply_events(w, cfg, stored, indexes.iter().map(|&i| &events[i]))?;
        for (i, r) in indexes.into_iter().zip(outcomes) {
            results[i] = r;
        }
    }
    Ok(results)
}

/// Records events of known contacts, as [`record_event`] does each without
/// `create`, with the events of one contact applied in order to one copy
/// of it, stored once. A contact whose record does not decode is reported
/// and its events skipped, so it cannot hold up everyone else's.
pub fn record_events(w: &mut Writer<'_>, cfg: &Config, events: &[Event]) -> Result<(), StoreError> {
    for (email, indexes) in by_contact(events) {
        let old = match w.contact(email) {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(err @ StoreError::Corrupt { .. }) => {
                tracing::error!(email, "events not recorded: {err}");
                continue;
            }
            Err(err) => return Err(err),
        };
        apply_events(w, cfg, Stored::Known(old), indexes.iter().map(|&i| &events[i]))?;
    }
    Ok(())
}

/// A contact as the store has it, or a new one not stored yet (stored
/// once, after its events).
enum Stored {
    Known(Contact),
    New(Contact),
}

/// The positions of each contact's events, contacts in address order: the
/// store's per-address tables are then written front to back, each page
/// once, rather than all over at random.
fn by_contact(events: &[Event]) -> Vec<(&str, Vec<usize>)> {
    let mut slot: HashMap<&str, usize> = HashMap::with_capacity(events.len());
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let at = *slot.entry(e.email.as_str()).or_insert_with(|| {
            groups.push((e.email.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(i);
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(b.0));
    groups
}

/// Stores events of one contact and runs the state machine on each in
/// order: writes the reactivations, history and suppressions they lead to,
/// then the contact once. Returns what each event did.
fn apply_events<'e>(
    w: &mut Writer<'_>,
    cfg: &Config,
    stored: Stored,
    events: impl IntoIterator<Item = &'e Event>,
) -> Result<Vec<EventResult>, StoreError> {
    let (old, mut contact) = match stored {
        Stored::Known(c) => (Some(c.clone()), c),
        Stored::New(c) => (None, c),
    };
    let mut results = Vec::new();
    for e in events {
        w.add_event(e)?;
        let out = sequence::on_event(&contact, e, cfg);
        let result = match (&contact.state, &out.contact.state) {
            (ContactState::Active { control, .. }, ContactState::Reactivated { sequence, after_step, at }) => {
                w.add_reactivation(&Reactivation {
                    email: e.email.clone(),
                    sequence: sequence.clone(),
                    after_step: *after_step,
                    at: *at,
                    control: *control,
                })?;
                EventResult::Reactivated
            }
            _ => EventResult::Recorded,
        };
        results.push(result);
        super::record_effects(w, &out, e.at)?;
        contact = out.contact;
        // Daily revenue of reactivated contacts, the reactivating purchase included.
        if let (EventKind::Purchase, ContactState::Reactivated { at, .. }) = (&e.kind, &contact.state)
            && e.at >= *at
        {
            w.roll(e.at, crate::store::rollup::REVENUE, e.value.unwrap_or(0.0));
        }
    }
    if old.as_ref() != Some(&contact) {
        w.put_contact(old.as_ref(), &contact)?;
    }
    Ok(results)
}
