//! The engine: every state change winback makes, as functions over one
//! store transaction ([`crate::store::Writer`]), the validated config and
//! the time. It joins the pure domain rules to the store and is the single
//! path for events, suppressions, scheduling and message outcomes, whoever
//! calls it: the CLI working directly on the store, the admin API, the
//! scheduler, the sender, the HTTP side or the bounce processor
//! ([`reports`]: what attributed reports and unsubscribes do).

mod customers;
mod events;
mod forget;
mod promote;
pub mod reports;
mod schedule;
mod sending;
mod suppress;
mod survey;

pub use customers::score_contacts;
pub use events::{EventResult, record_batch, record_event, record_events};
pub use forget::forget;
pub use promote::promote_variant;
pub use reports::{Applied, apply_report, count_unattributed, unsubscribe};
pub use schedule::{RULES_KEY, TickResult, recompute_due, rules_fingerprint, tick};
pub use sending::{Attempt, BeginSend, begin_send, finish_send, postpone, recover_inflight};
pub use suppress::{suppress, unsuppress};
pub use survey::{SurveyOutcome, survey_answer};

use std::sync::Arc;

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::sequence::Outcome;
use crate::store::{Apply, Committer, Journal, Store, StoreError, Writer};

/// Opens the event journal with the engine's event path as what applies
/// journalled events (see [`Journal`]); returns it and the folder task.
/// `cfg` is an `Arc<Config>` or, in the daemon, the live configuration.
pub fn journal(
    store: &Store,
    committer: Committer,
    cfg: impl Into<crate::config::live::Live<Config>>,
    queue: usize,
) -> Result<(Journal, impl std::future::Future<Output = ()> + Send + 'static), StoreError> {
    // The configuration in force when a batch is applied (reload).
    let cfg = cfg.into();
    let apply: Apply = Arc::new(move |w, events| record_events(w, &cfg.get(), events));
    Journal::open(store, committer, queue, apply)
}

/// Applies a state-machine outcome: stores the contact, writes history and
/// the suppression it asks for. Returns the outcome's `send` for the caller.
fn apply(
    w: &mut Writer<'_>,
    old: &crate::domain::Contact,
    out: Outcome,
    now: Millis,
) -> Result<Option<(String, u32)>, StoreError> {
    record_effects(w, &out, now)?;
    if &out.contact != old {
        w.put_contact(Some(old), &out.contact)?;
    }
    Ok(out.send)
}

/// Writes what an outcome says besides the contact itself: its history
/// line and the suppression it asks for.
fn record_effects(w: &mut Writer<'_>, out: &Outcome, now: Millis) -> Result<(), StoreError> {
    let email = &out.contact.email;
    if let Some(text) = &out.history {
        w.add_history(email, now, text.clone())?;
    }
    if let Some(reason) = &out.suppress {
        w.suppress(&crate::domain::Suppression {
            email: email.clone(),
            reason: *reason,
            at: now,
            detail: out.history.clone().unwrap_or_default(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
