//! What reports about our mail do to the store: bounces, complaints,
//! auto-replies and delivery notices that the inbound side has attributed
//! to a message winback sent, unsubscribes by mail or by link, and the
//! counting of reports that could not be attributed.
//!
//! Attribution is the caller's job ([`crate::inbound::process`]); what
//! arrives here is always about one sent message and its recipient:
//!
//! - hard bounce → suppressed at once (`hard_bounce`, with the diagnostic);
//! - complaint (`feedback`) → suppressed at once (`complaint`);
//! - sender-side reasons (blocked, badreputation, authfailure, …) never
//!   touch the recipient: an event `bounce_sender` feeds the reputation
//!   signals;
//! - other soft bounces are counted per address over a decaying window:
//!   [`SOFT_LIMIT`] bounces on different sends within [`SOFT_WINDOW_MS`],
//!   with no delivery in between, suppress (`soft_bounce`); a delivery
//!   report resets the count;
//! - auto-replies and delivery notices are recorded only;
//! - a delay notice (a recipient whose report says the message is still
//!   queued and retried) is recorded only (`delayed`): the message may yet
//!   arrive, and a server slow three times is no reason to stop mailing an
//!   address. The failure report that may follow counts as usual.
//!
//! Each sent message can cause each kind of action (hard, soft, recorded)
//! at most once ([`ReportMarks`]): a report delivered twice, or a second
//! report about the same message, changes nothing and says so
//! ([`Applied::Duplicate`]).

use crate::bounce::{Reason, Recipient};
use crate::clock::Millis;
use crate::domain::{Event, EventKind, Origin, SuppressionReason};
use crate::store::{MessageRecord, ReportMarks, StoreError, Writer};

/// Soft bounces (on different sends) that suppress an address.
pub const SOFT_LIMIT: usize = 3;
/// The window soft bounces are counted in: 30 days.
pub const SOFT_WINDOW_MS: Millis = 30 * 86_400_000;

/// What a report (or an unsubscribe by mail) did for the recipient of the
/// message it is about.
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
    /// A delay notice, recorded only.
    Delayed {
        /// The address (untouched).
        email: String,
        /// Why the message is still waiting.
        reason: Reason,
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
    /// A report about this message already took this kind of action.
    Duplicate {
        /// The address.
        email: String,
        /// The message.
        message: u64,
    },
}

impl Applied {
    /// Whether this changed anything (so the reputation signals hear of it).
    pub fn is_new(&self) -> bool {
        !matches!(self, Applied::Duplicate { .. } | Applied::AlreadySuppressed { .. })
    }
}

/// The kind of action a classified recipient asks for.
fn mark_of(r: &Recipient) -> u8 {
    match r.reason {
        Reason::Vacation | Reason::Delivered => ReportMarks::RECORDED,
        Reason::Feedback => ReportMarks::HARD,
        _ if r.is_delay() => ReportMarks::DELAYED,
        reason if r.hard || reason.is_sender_side() => ReportMarks::HARD,
        _ => ReportMarks::SOFT,
    }
}

/// Applies what a report says about `message`'s recipient (`r` is the
/// report's entry for that recipient). Acts at most once per message and
/// kind of action.
pub fn apply_report(
    w: &mut Writer<'_>,
    message: &MessageRecord,
    r: &Recipient,
    now: Millis,
) -> Result<Applied, StoreError> {
    let email = message.email.to_ascii_lowercase();
    let mark = mark_of(r);
    if w.report_marks(message.id)?.has(mark) {
        return Ok(Applied::Duplicate { email, message: message.id });
    }
    w.mark_report(message.id, mark)?;
    let detail = format!("{} {} {}", r.reason, r.status.as_deref().unwrap_or("-"), r.diagnostic);
    let report = ReportEvent { email: &email, message: message.id, now };
    match r.reason {
        Reason::Feedback => {
            report.add(w, EventKind::Complaint, detail.clone())?;
            suppress_for(w, &email, SuppressionReason::Complaint, &detail, now)
        }
        Reason::Vacation => {
            report.add(w, EventKind::AutoReply, r.reason.to_string())?;
            Ok(Applied::Recorded { email, reason: r.reason })
        }
        Reason::Delivered => {
            report.add(w, EventKind::Delivered, detail)?;
            w.put_soft_bounces(&email, &Default::default())?;
            Ok(Applied::Recorded { email, reason: r.reason })
        }
        reason if r.is_delay() => {
            report.add(w, EventKind::Delayed, detail)?;
            Ok(Applied::Delayed { email, reason })
        }
        reason if reason.is_sender_side() => {
            let domain = message.domain().to_ascii_lowercase();
            report.add(w, EventKind::BounceSender, format!("{reason} {domain}: {detail}"))?;
            Ok(Applied::SenderSide { email, domain, reason })
        }
        _ if r.hard => {
            report.add(w, EventKind::Bounce, detail.clone())?;
            suppress_for(w, &email, SuppressionReason::HardBounce, &detail, now)
        }
        _ => {
            report.add(w, EventKind::Bounce, detail.clone())?;
            count_soft_bounce(w, &email, message.id, &detail, now)
        }
    }
}

/// Counts a soft bounce of `send`; the [`SOFT_LIMIT`]th within the window
/// suppresses.
fn count_soft_bounce(
    w: &mut Writer<'_>,
    email: &str,
    send: u64,
    detail: &str,
    now: Millis,
) -> Result<Applied, StoreError> {
    let mut soft = w.soft_bounces(email)?;
    soft.entries.retain(|(_, at)| now.saturating_sub(*at) <= SOFT_WINDOW_MS);
    if !soft.entries.iter().any(|(s, _)| *s == send) {
        soft.entries.push((send, now));
    }
    let count = soft.entries.len();
    if count >= SOFT_LIMIT {
        w.put_soft_bounces(email, &Default::default())?;
        return suppress_for(w, email, SuppressionReason::SoftBounce, detail, now);
    }
    w.put_soft_bounces(email, &soft)?;
    Ok(Applied::SoftBounce { email: email.to_string(), count })
}

/// Suppresses through [`super::suppress`], so the contact also leaves its
/// sequence.
fn suppress_for(
    w: &mut Writer<'_>,
    email: &str,
    reason: SuppressionReason,
    detail: &str,
    now: Millis,
) -> Result<Applied, StoreError> {
    if super::suppress(w, email, reason, detail, now)? {
        Ok(Applied::Suppressed { email: email.to_string(), reason })
    } else {
        Ok(Applied::AlreadySuppressed { email: email.to_string() })
    }
}

/// The machine event a report leaves on the contact's timeline. Reports
/// are never engagement, so no state machine runs on them.
struct ReportEvent<'a> {
    email: &'a str,
    message: u64,
    now: Millis,
}

impl ReportEvent<'_> {
    fn add(&self, w: &mut Writer<'_>, kind: EventKind, reference: String) -> Result<(), StoreError> {
        let mut e = Event::new(self.email, kind, self.now);
        e.origin = Origin::Machine;
        e.message = Some(self.message);
        e.reference = Some(reference);
        w.add_event(&e).map(|_| ())
    }
}

/// Unsubscribes the recipient of `message` (one-click URL, the page's
/// button, or mail to the `List-Unsubscribe` address): suppressed as
/// `unsubscribed`, with an `unsubscribe` event the first time only.
/// Returns whether the suppression is new.
pub fn unsubscribe(w: &mut Writer<'_>, message: &MessageRecord, detail: &str, now: Millis) -> Result<bool, StoreError> {
    let email = message.email.to_ascii_lowercase();
    let new = super::suppress(w, &email, SuppressionReason::Unsubscribed, detail, now)?;
    if new {
        let mut e = Event::new(email, EventKind::Unsubscribe, now);
        e.message = Some(message.id);
        w.add_event(&e)?;
    }
    Ok(new)
}

/// The counter of unattributed reports of a kind (`dsn`, `feedback`,
/// `unsubscribe`, …) and reason.
pub fn unattributed_key(kind: &str, reason: &str) -> String {
    format!("{UNATTRIBUTED_PREFIX}{kind}:{reason}")
}

/// The prefix of the unattributed-report counters.
pub const UNATTRIBUTED_PREFIX: &str = "reports:unattributed:";

/// Counts a report that could not be attributed to a message we sent: it
/// changes nothing else.
pub fn count_unattributed(w: &mut Writer<'_>, kind: &str, reason: &str) -> Result<(), StoreError> {
    w.incr(&unattributed_key(kind, reason), 1)
}
