//! Turns spooled reports into actions in the store.
//!
//! Each spooled message is classified, attributed to one of our messages
//! (in order: the VERP token of the envelope recipient, our
//! `X-Winback-Token` header, the quoted `Message-ID`, else just the
//! recipient address), and applied in one store transaction:
//!
//! - hard bounce → suppressed at once (`hard_bounce`, with the diagnostic);
//! - complaint (`feedback`) → suppressed at once (`complaint`);
//! - sender-side reasons (blocked, badreputation, authfailure, …) never
//!   touch the recipient: an event `bounce_sender` naming the reason and
//!   the receiving domain feeds the reputation signals;
//! - other soft bounces are counted per address over a decaying window:
//!   [`SOFT_LIMIT`] bounces on different sends within [`SOFT_WINDOW_MS`],
//!   with no delivery in between, suppress (`soft_bounce`); a delivery
//!   report resets the count ([`reset_soft_bounces`]);
//! - vacation and delivered are recorded only.
//!
//! Mail to the `List-Unsubscribe` mailto address is no report: it
//! unsubscribes (see [`super::mailto`]).
//!
//! A message is removed from the spool only after its transaction
//! committed, so a crash in between processes it again; suppressing twice
//! keeps the first suppression, and a re-counted soft bounce of the same
//! send does not count twice.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::spool::{Spool, SpoolError};
use crate::bounce::{Reason, Recipient, Report, Rules, classify_with};
use crate::clock::{Clock, Millis};
use crate::domain::{Event, EventKind, Origin, SuppressionReason};
use crate::reputation::guard::Guard;
use crate::store::{MessageRecord, Store, StoreError, Writer};
use crate::token::{Keys, Purpose};

/// Soft bounces (on different sends) that suppress an address.
pub const SOFT_LIMIT: usize = 3;
/// The window soft bounces are counted in: 30 days.
pub const SOFT_WINDOW_MS: Millis = 30 * 86_400_000;

/// What processing did for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The address was suppressed now.
    Suppressed {
        /// The address.
        email: String,
        /// Why.
        reason: SuppressionReason,
    },
    /// It was suppressed before; the first suppression stands.
    AlreadySuppressed {
        /// The address.
        email: String,
    },
    /// A soft bounce was counted (not yet enough to suppress).
    SoftBounce {
        /// The address.
        email: String,
        /// Soft bounces in the window now.
        count: usize,
    },
    /// A sender-side refusal, recorded for the receiving domain.
    SenderSide {
        /// The address (untouched).
        email: String,
        /// The receiving domain.
        domain: String,
        /// The reason.
        reason: Reason,
    },
    /// Recorded only (vacation, delivered).
    Recorded {
        /// The address.
        email: String,
        /// The reason.
        reason: Reason,
    },
}

/// Why spool processing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Soft bounces of one address: `(send, when)`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SoftBounces {
    entries: Vec<(u64, Millis)>,
}

fn soft_key(email: &str) -> String {
    format!("softbounce:{email}")
}

/// Clears the soft-bounce count of an address (a delivery happened).
pub fn reset_soft_bounces(w: &mut Writer<'_>, email: &str) -> Result<(), StoreError> {
    if w.blob(&soft_key(email))?.is_some() {
        w.remove_blob(&soft_key(email))?;
    }
    Ok(())
}

/// Applies reports to the store.
#[derive(Clone)]
pub struct Processor {
    store: Store,
    keys: Keys,
    rules: &'static Rules,
    guard: Option<Arc<Guard>>,
}

impl Processor {
    /// With the embedded rules.
    pub fn new(store: Store, keys: Keys) -> Self {
        Processor { store, keys, rules: Rules::embedded(), guard: None }
    }

    /// With other rules (loaded once at start and kept for the process).
    pub fn with_rules(store: Store, keys: Keys, rules: &'static Rules) -> Self {
        Processor { store, keys, rules, guard: None }
    }

    /// Tells the reputation guard every bounce and complaint applied.
    pub fn with_guard(mut self, guard: Arc<Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Classifies and applies one message; `envelope` are its envelope
    /// recipients. A message that is no report changes nothing.
    pub fn process(&self, raw: &[u8], envelope: &[String], now: Millis) -> Result<Vec<Applied>, StoreError> {
        if let Some(token) = super::mailto::token(raw, envelope) {
            let done = self.store.write(|w| super::mailto::apply(w, &self.keys, &token, now))?;
            match (&done, &self.guard) {
                (None, _) => tracing::warn!("mail to an unsubscribe address with an invalid token: ignored"),
                (Some(Applied::Suppressed { email, .. }), Some(g)) => {
                    g.record_event(email, &EventKind::Unsubscribe, true)
                }
                _ => {}
            }
            return Ok(done.into_iter().collect());
        }
        let Some(report) = classify_with(self.rules, raw, envelope) else { return Ok(Vec::new()) };
        let original = self.attribute(&report)?;
        let out = self.store.write(|w| {
            let mut out = Vec::new();
            for r in &report.recipients {
                out.push(apply(w, &report, r, original.as_ref(), now)?);
            }
            Ok(out)
        })?;
        if let Some(g) = &self.guard {
            for r in &report.recipients {
                g.record_report(&r.recipient, r.reason, r.hard);
            }
        }
        Ok(out)
    }

    /// Our message the report is about, if it can be told.
    fn attribute(&self, report: &Report) -> Result<Option<MessageRecord>, StoreError> {
        let reader = self.store.read()?;
        let o = &report.original;
        let tokens = [("verp", &o.verp_token), ("token header", &o.token)];
        for (via, token) in tokens.into_iter().filter_map(|(via, t)| Some((via, t.as_ref()?))) {
            if let Some(data) = self.keys.verify(Purpose::Message, token)
                && let Some(m) = reader.message(data.message)?
            {
                tracing::debug!(message = m.id, via, "report attributed");
                return Ok(Some(m));
            }
        }
        let found = match &o.message_id {
            Some(mid) => reader.message_by_message_id(mid)?,
            None => None,
        };
        if let Some(m) = &found {
            tracing::debug!(message = m.id, via = "message-id", "report attributed");
        }
        Ok(found)
    }

    /// Processes every spooled message (left-over claims first); returns how
    /// many were processed.
    pub fn drain(&self, spool: &Spool, now: Millis) -> Result<usize, ProcessError> {
        let mut ids = spool.claimed()?;
        ids.extend(spool.list()?);
        let mut n = 0;
        for id in ids {
            let claimed = spool.claim(&id)?;
            let applied = self.process(&claimed.raw, &claimed.envelope, now)?;
            for a in &applied {
                tracing::info!(spool_id = %id, outcome = ?a, "bounce processed");
            }
            spool.remove(&id)?;
            n += 1;
        }
        Ok(n)
    }

    /// Drains the spool every `interval` until `cancel` fires.
    pub async fn run(self, spool: Arc<Spool>, clock: Clock, interval: Duration, cancel: CancellationToken) {
        loop {
            let (p, s, now) = (self.clone(), spool.clone(), clock.now());
            match tokio::task::spawn_blocking(move || p.drain(&s, now)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "bounce processing failed; retrying"),
                Err(e) => tracing::error!(error = %e, "bounce processing task failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Applies one recipient's classification.
fn apply(
    w: &mut Writer<'_>,
    report: &Report,
    r: &Recipient,
    original: Option<&MessageRecord>,
    now: Millis,
) -> Result<Applied, StoreError> {
    // The address we sent to, when the report is about that send.
    let email = match original {
        Some(m) if report.recipients.len() == 1 || m.email.eq_ignore_ascii_case(&r.recipient) => {
            m.email.to_ascii_lowercase()
        }
        _ => r.recipient.to_ascii_lowercase(),
    };
    let message = original.map(|m| m.id);
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d).to_string();
    let detail = format!("{} {} {}", r.reason, r.status.as_deref().unwrap_or("-"), r.diagnostic);
    let event = |w: &mut Writer<'_>, kind: EventKind, reference: String| -> Result<(), StoreError> {
        let mut e = Event::new(email.clone(), kind, now);
        e.origin = Origin::Machine;
        e.message = message;
        e.reference = Some(reference);
        w.add_event(&e).map(|_| ())
    };
    let suppress = |w: &mut Writer<'_>, reason: SuppressionReason| -> Result<Applied, StoreError> {
        // Through the engine, so the contact also leaves its sequence.
        if crate::engine::suppress(w, &email, reason, &detail, now)? {
            Ok(Applied::Suppressed { email: email.clone(), reason })
        } else {
            Ok(Applied::AlreadySuppressed { email: email.clone() })
        }
    };
    match r.reason {
        Reason::Feedback => {
            event(w, EventKind::Complaint, detail.clone())?;
            suppress(w, SuppressionReason::Complaint)
        }
        Reason::Vacation => {
            event(w, EventKind::AutoReply, r.reason.to_string())?;
            Ok(Applied::Recorded { email: email.clone(), reason: r.reason })
        }
        Reason::Delivered => {
            event(w, EventKind::Delivered, detail.clone())?;
            reset_soft_bounces(w, &email)?;
            Ok(Applied::Recorded { email: email.clone(), reason: r.reason })
        }
        reason if reason.is_sender_side() => {
            event(w, EventKind::BounceSender, format!("{reason} {domain}: {detail}"))?;
            Ok(Applied::SenderSide { email: email.clone(), domain: domain.clone(), reason })
        }
        _ if r.hard => {
            event(w, EventKind::Bounce, detail.clone())?;
            suppress(w, SuppressionReason::HardBounce)
        }
        _ => {
            event(w, EventKind::Bounce, detail.clone())?;
            // A send we cannot name counts as its own send.
            let send = message.unwrap_or(u64::MAX - now.unsigned_abs());
            let key = soft_key(&email);
            let mut soft: SoftBounces = w.blob(&key)?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            soft.entries.retain(|(_, at)| now.saturating_sub(*at) <= SOFT_WINDOW_MS);
            if !soft.entries.iter().any(|(s, _)| *s == send) {
                soft.entries.push((send, now));
            }
            let count = soft.entries.len();
            if count >= SOFT_LIMIT {
                w.remove_blob(&key)?;
                return suppress(w, SuppressionReason::SoftBounce);
            }
            w.put_blob(&key, &serde_json::to_vec(&soft).unwrap_or_default())?;
            Ok(Applied::SoftBounce { email: email.clone(), count })
        }
    }
}
