//! Recording events: the one path every open, click, purchase, login,
//! reply or unsubscribe takes, whatever reported it.

use crate::config::Config;
use crate::domain::{Contact, ContactState, Event, sequence};
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
        None if create => {
            let c = Contact::new(e.email.clone(), e.at);
            w.put_contact(None, &c)?;
            c
        }
        None => return Ok(EventResult::UnknownContact),
    };
    w.add_event(e)?;
    let out = sequence::on_event(&contact, e, cfg);
    let reactivated = match (&contact.state, &out.contact.state) {
        (ContactState::Active { .. }, ContactState::Reactivated { sequence, after_step, at }) => {
            w.add_reactivation(&Reactivation {
                email: e.email.clone(),
                sequence: sequence.clone(),
                after_step: *after_step,
                at: *at,
            })?;
            true
        }
        _ => false,
    };
    super::apply(w, &contact, out, e.at)?;
    Ok(if reactivated { EventResult::Reactivated } else { EventResult::Recorded })
}
