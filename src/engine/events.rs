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
    let contact = match w.contact(&e.email)? {
        Some(c) => c,
        None if create && !w.is_forgotten(&e.email)? => {
            let c = Contact::new(e.email.clone(), e.at);
            w.put_contact(None, &c)?;
            c
        }
        None => return Ok(EventResult::UnknownContact),
    };
    apply_events(w, cfg, contact, [e])
}

/// Records events of known contacts, as [`record_event`] does each without
/// `create`, with the events of one contact applied in order to one copy
/// of it, stored once. A contact whose record does not decode is reported
/// and its events skipped, so it cannot hold up everyone else's.
pub fn record_events(w: &mut Writer<'_>, cfg: &Config, events: &[Event]) -> Result<(), StoreError> {
    let mut by_contact: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut order = Vec::new();
    for e in events {
        by_contact
            .entry(e.email.as_str())
            .or_insert_with(|| {
                order.push(e.email.as_str());
                Vec::new()
            })
            .push(e);
    }
    for email in order {
        let old = match w.contact(email) {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(err @ StoreError::Corrupt { .. }) => {
                tracing::error!(email, "events not recorded: {err}");
                continue;
            }
            Err(err) => return Err(err),
        };
        apply_events(w, cfg, old, by_contact.remove(email).unwrap_or_default())?;
    }
    Ok(())
}

/// Stores events of one contact and runs the state machine on each in
/// order: writes the reactivations, history and suppressions they lead to,
/// then the contact once. Returns what the last event did.
fn apply_events<'e>(
    w: &mut Writer<'_>,
    cfg: &Config,
    old: Contact,
    events: impl IntoIterator<Item = &'e Event>,
) -> Result<EventResult, StoreError> {
    let mut contact = old.clone();
    let mut result = EventResult::Recorded;
    for e in events {
        w.add_event(e)?;
        let out = sequence::on_event(&contact, e, cfg);
        result = match (&contact.state, &out.contact.state) {
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
        super::record_effects(w, &out, e.at)?;
        contact = out.contact;
        // Daily revenue of reactivated contacts, the reactivating purchase included.
        if let (EventKind::Purchase, ContactState::Reactivated { at, .. }) = (&e.kind, &contact.state)
            && e.at >= *at
        {
            w.roll(e.at, crate::store::rollup::REVENUE, e.value.unwrap_or(0.0));
        }
    }
    if contact != old {
        w.put_contact(Some(&old), &contact)?;
    }
    Ok(result)
}
