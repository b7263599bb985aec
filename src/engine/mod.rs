//! The engine: every state change winback makes, as functions over one
//! store transaction ([`crate::store::Writer`]), the validated config and
//! the time. It joins the pure domain rules to the store and is the single
//! path for events, suppressions, scheduling and message outcomes, whoever
//! calls it: the CLI working directly on the store, the admin API, the
//! scheduler, the sender, the HTTP side or the bounce processor.

mod events;
mod schedule;
mod sending;
mod suppress;

pub use events::{EventResult, record_event};
pub use schedule::{TickResult, tick};
pub use sending::{Attempt, BeginSend, begin_send, finish_send, postpone, recover_inflight};
pub use suppress::{suppress, unsuppress};

use crate::clock::Millis;
use crate::domain::sequence::Outcome;
use crate::store::{StoreError, Writer};

/// Applies a state-machine outcome: stores the contact, writes history and
/// the suppression it asks for. Returns the outcome's `send` for the caller.
fn apply(
    w: &mut Writer<'_>,
    old: &crate::domain::Contact,
    out: Outcome,
    now: Millis,
) -> Result<Option<(String, u32)>, StoreError> {
    let email = out.contact.email.clone();
    if let Some(text) = &out.history {
        w.add_history(&email, now, text.clone())?;
    }
    if let Some(reason) = out.suppress {
        w.suppress(&crate::domain::Suppression {
            email: email.clone(),
            reason,
            at: now,
            detail: out.history.clone().unwrap_or_default(),
        })?;
    }
    if &out.contact != old {
        w.put_contact(Some(old), &out.contact)?;
    }
    Ok(out.send)
}

#[cfg(test)]
mod tests;
