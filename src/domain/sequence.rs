//! The win-back state machine, as pure functions from (contact, input,
//! config, now) to an [`Outcome`] the caller applies to the store.
//!
//! ```text
//!   Idle ──lapsed──▶ Active{step 0} ──due──▶ send step ──settled──▶ Active{step 1} … final sent
//!     ▲                 │ engagement                                        │ grace over
//!     │                 ▼                                                   ▼
//!     └──reentry── Reactivated                                    Sunset (suppressed: unengaged)
//! ```
//!
//! A step's delay counts from when the previous message actually went out
//! (the send can be held back by rate limits or a relay outage), and the
//! grace period from when the final message went out. While a message is
//! awaiting its fate the contact has nothing else scheduled, so a contact
//! can never have two messages in flight.

use crate::clock::{Millis, ms};
use crate::config::{Config, SequenceConfig};
use crate::customers::lapse::{self, Stage};
use crate::customers::segments;

use super::contact::{Contact, ContactState};
use super::event::Event;
use super::suppression::SuppressionReason;

/// What the caller must do besides storing the new contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The contact after the transition (its `due_at` says when to look again).
    pub contact: Contact,
    /// Queue this step of this sequence (then set `awaiting` to the message id).
    pub send: Option<(String, u32)>,
    /// Suppress the address for this reason.
    pub suppress: Option<SuppressionReason>,
    /// A line for the contact's history.
    pub history: Option<String>,
}

impl Outcome {
    fn unchanged(contact: &Contact) -> Self {
        Outcome { contact: contact.clone(), send: None, suppress: None, history: None }
    }
}

/// When an idle (or reactivated) contact becomes eligible for a sequence:
/// lapsed under the `[lapse] mode` (with `fixed`, `inactive_after` past its
/// last engagement, at once if it never engaged), and not before
/// `reentry_after` past the end of its last sequence.
pub fn lapse_at(c: &Contact, cfg: &Config) -> Millis {
    let base = lapse::lapsed_at(c, cfg.lapse.mode, cfg.lapse.inactive_after);
    base.max(reentry_at(c, cfg))
}

fn reentry_at(c: &Contact, cfg: &Config) -> Millis {
    c.last_sequence_end.map_or(i64::MIN, |t| t.saturating_add(ms(cfg.lapse.reentry_after)))
}

/// When the contact becomes at risk, if an `at_risk` sequence exists, the
/// contact has a typical gap between orders and the at-risk time comes
/// before it lapses.
pub fn at_risk_at(c: &Contact, cfg: &Config) -> Option<Millis> {
    let factor = cfg.lapse.at_risk_factor?;
    if !cfg.sequences.iter().any(|s| s.stage == Stage::AtRisk) {
        return None;
    }
    let at = lapse::at_risk_at(c, factor)?.max(reentry_at(c, cfg));
    (at < lapse_at(c, cfg)).then_some(at)
}

/// The first sequence of `stage` that takes this contact (sleeper or never
/// engaged, and in one of its segments when it names some), with the
/// segment it was taken under: the sequence's segment that matched, else
/// the contact's first `[[segment]]`.
pub fn pick_sequence<'a>(
    c: &Contact,
    cfg: &'a Config,
    stage: Stage,
    now: Millis,
) -> Option<(&'a SequenceConfig, Option<String>)> {
    let cu = &cfg.customers;
    cfg.sequences
        .iter()
        .filter(|s| s.stage == stage && if c.ever_engaged() { s.sleepers } else { s.never_engaged })
        .find_map(|s| {
            if s.segments.is_empty() {
                return Some((s, segments::first_segment(cu, c, now).map(String::from)));
            }
            let hit = s.segments.iter().find(|name| segments::is_in(cu, name, c, now))?;
            Some((s, Some(hit.clone())))
        })
}

/// When the scheduler should next look at a contact that is not in a
/// sequence, or `None` if never (not enrolled, sunset).
pub fn idle_due(c: &Contact, cfg: &Config) -> Option<Millis> {
    match c.state {
        ContactState::Idle | ContactState::Reactivated { .. } if c.enrolled => {
            let lapse = lapse_at(c, cfg);
            Some(at_risk_at(c, cfg).map_or(lapse, |r| r.min(lapse)))
        }
        _ => None,
    }
}

/// An idle contact is due: the stage it has reached, or when it reaches one.
fn stage_at(c: &Contact, cfg: &Config, now: Millis) -> Result<Stage, Millis> {
    let lapse = lapse_at(c, cfg);
    if lapse <= now {
        return Ok(Stage::Lapsed);
    }
    match at_risk_at(c, cfg) {
        Some(r) if r <= now => Ok(Stage::AtRisk),
        Some(r) => Err(r.min(lapse)),
        None => Err(lapse),
    }
}

/// The scheduler found the contact due at `now`.
pub fn on_due(c: &Contact, suppressed: bool, cfg: &Config, now: Millis) -> Outcome {
    let mut out = Outcome::unchanged(c);
    if suppressed {
        out.contact.due_at = None;
        return out;
    }
    match &c.state {
        ContactState::Idle | ContactState::Reactivated { .. } => {
            if !c.enrolled {
                out.contact.due_at = None;
                return out;
            }
            let stage = match stage_at(c, cfg, now) {
                Ok(stage) => stage,
                Err(at) => {
                    out.contact.due_at = Some(at);
                    return out;
                }
            };
            let Some((seq, segment)) = pick_sequence(c, cfg, stage, now) else {
                if stage == Stage::AtRisk {
                    // No retention sequence takes it: wait for the lapse.
                    out.contact.customer.retention_at = Some(now);
                    out.contact.due_at = idle_due(&out.contact, cfg);
                    return out;
                }
                // No sequence takes this segment now; look again later in
                // case the configuration changes.
                out.contact.due_at = Some(now.saturating_add(ms(cfg.lapse.inactive_after)));
                return out;
            };
            if stage == Stage::AtRisk {
                out.contact.customer.retention_at = Some(now);
            }
            out.contact.customer.segment = segment.clone();
            out.contact.state = ContactState::Active {
                sequence: seq.name.clone(),
                next_step: 0,
                entered_at: now,
                awaiting: None,
                control: false,
            };
            out.contact.due_at = Some(now.saturating_add(ms(seq.steps[0].after)));
            out.history = Some(format!(
                "entered sequence {} ({}{}{})",
                seq.name,
                if c.ever_engaged() { "sleeper" } else { "never engaged" },
                if stage == Stage::AtRisk { ", at risk" } else { "" },
                segment.map(|s| format!(", segment {s}")).unwrap_or_default()
            ));
        }
        ContactState::Active { sequence, control: true, .. } => {
            // A control contact's span is over without engagement: it
            // leaves as it entered, sent nothing and never sunset.
            out.contact.state = ContactState::Idle;
            // Leaving a retention sequence does not delay the lapse stage.
            if cfg.sequence(sequence).is_none_or(|s| s.stage == Stage::Lapsed) {
                out.contact.last_sequence_end = Some(now);
            }
            out.contact.due_at = idle_due(&out.contact, cfg);
            out.history = Some(format!("left sequence {sequence}: control group, no engagement"));
        }
        ContactState::Active { sequence, next_step, entered_at, awaiting, .. } => {
            if awaiting.is_some() {
                // Nothing is scheduled while a message is in flight.
                out.contact.due_at = None;
                return out;
            }
            let Some(seq) = cfg.sequence(sequence) else {
                // The sequence was removed from the config: leave it cleanly.
                out.contact.state = ContactState::Idle;
                out.contact.last_sequence_end = Some(now);
                out.contact.due_at = idle_due(&out.contact, cfg);
                out.history = Some(format!("left sequence {sequence}: no longer configured"));
                return out;
            };
            let step = *next_step as usize;
            if step < seq.steps.len() {
                out.send = Some((sequence.clone(), *next_step));
                out.contact.state = ContactState::Active {
                    sequence: sequence.clone(),
                    next_step: next_step + 1,
                    entered_at: *entered_at,
                    awaiting: None,
                    control: false,
                };
                out.contact.due_at = None;
            } else if seq.stage == Stage::AtRisk {
                // A retention sequence ends without sunset: the contact is
                // not lapsed yet, and the lapse stage takes it from here.
                out.contact.state = ContactState::Idle;
                out.contact.due_at = idle_due(&out.contact, cfg);
                out.history = Some(format!("left retention sequence {sequence}: no engagement"));
            } else {
                out.contact.state = ContactState::Sunset { sequence: sequence.clone(), at: now };
                out.contact.last_sequence_end = Some(now);
                out.contact.due_at = None;
                out.suppress = Some(SuppressionReason::Unengaged);
                out.history = Some(format!("sunset: no engagement within the grace period of {sequence}"));
            }
        }
        ContactState::Sunset { .. } => out.contact.due_at = None,
    }
    out
}

/// Makes an outcome that enters `seq` an entry into its control group:
/// nothing is sent, and the contact leaves after the sequence's span
/// unless it engages first.
pub fn enter_as_control(out: &mut Outcome, seq: &SequenceConfig, now: Millis) {
    if let ContactState::Active { control, .. } = &mut out.contact.state {
        *control = true;
        out.send = None;
        out.contact.due_at = Some(now.saturating_add(ms(seq.span())));
        out.history = Some(format!("entered sequence {} in its control group: sent nothing", seq.name));
    }
}

/// Whether an address falls in a sequence's control group: a keyed hash of
/// the address and the sequence, so the split is stable across re-imports
/// and restarts, and the same address is not always control everywhere.
pub fn in_holdout(key: &[u8], email: &str, sequence: &str, share: f64) -> bool {
    use hmac::{Hmac, Mac};
    if share <= 0.0 {
        return false;
    }
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else { return false };
    mac.update(sequence.as_bytes());
    mac.update(b"\0");
    mac.update(email.trim().to_ascii_lowercase().as_bytes());
    let bytes = mac.finalize().into_bytes();
    let x = u64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    (x as f64 / u64::MAX as f64) < share
}

/// How a queued message ended, for [`on_message_settled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// It went out (or may have: interrupted mid-transaction, see the store).
    Sent,
    /// It could not be delivered (permanent failure or retries expired).
    Failed,
    /// It was not sent because the contact was no longer eligible.
    Cancelled,
}

/// A message for this contact reached its end at `at`.
pub fn on_message_settled(c: &Contact, message: u64, how: Settled, cfg: &Config, at: Millis) -> Outcome {
    let mut out = Outcome::unchanged(c);
    let ContactState::Active { sequence, next_step, entered_at, awaiting, control } = &c.state else {
        return out;
    };
    if *awaiting != Some(message) {
        return out;
    }
    out.contact.state = ContactState::Active {
        sequence: sequence.clone(),
        next_step: *next_step,
        entered_at: *entered_at,
        awaiting: None,
        control: *control,
    };
    let Some(seq) = cfg.sequence(sequence) else {
        out.contact.due_at = Some(at);
        return out;
    };
    if how == Settled::Cancelled {
        out.contact.due_at = None;
        return out;
    }
    // Failed messages still advance: the sequence keeps its rhythm, and the
    // bounce handling decides whether the address stays mailable.
    let delay = match seq.steps.get(*next_step as usize) {
        Some(step) => step.after,
        None => seq.grace,
    };
    out.contact.due_at = Some(at.saturating_add(ms(delay)));
    out
}

/// An event arrived for the contact. Returns the outcome, which reactivates
/// an active contact when the event counts as engagement and happened after
/// it entered the sequence.
pub fn on_event(c: &Contact, e: &Event, cfg: &Config) -> Outcome {
    let mut out = Outcome::unchanged(c);
    if e.kind == crate::domain::EventKind::Purchase {
        out.contact.last_purchase_at = Some(out.contact.last_purchase_at.map_or(e.at, |t| t.max(e.at)));
        out.contact.customer.purchases.add(e.at, e.value);
    }
    if !e.is_engagement(&cfg.lapse) {
        return out;
    }
    out.contact.last_engaged_at = Some(out.contact.last_engaged_at.map_or(e.at, |t| t.max(e.at)));
    match &c.state {
        ContactState::Active { sequence, next_step, entered_at, awaiting, control } if e.at >= *entered_at => {
            // A queued-but-unsent message counts as not sent: the sender
            // cancels it when it sees the contact is no longer active.
            let sent = if awaiting.is_some() { next_step.saturating_sub(1) } else { *next_step };
            out.contact.state = ContactState::Reactivated { sequence: sequence.clone(), after_step: sent, at: e.at };
            out.contact.last_sequence_end = Some(e.at);
            out.history = Some(if *control {
                format!("reactivated by {} in the control group of {sequence} (sent nothing)", e.kind)
            } else {
                format!("reactivated by {} after {sent} message(s) of {sequence}", e.kind)
            });
            out.contact.due_at = idle_due(&out.contact, cfg);
        }
        ContactState::Active { .. } | ContactState::Sunset { .. } => {}
        ContactState::Idle | ContactState::Reactivated { .. } => out.contact.due_at = idle_due(&out.contact, cfg),
    }
    out
}

/// The address was suppressed (bounce, complaint, unsubscribe, operator):
/// a contact in a sequence leaves it.
pub fn on_suppressed(c: &Contact, now: Millis) -> Outcome {
    let mut out = Outcome::unchanged(c);
    out.contact.due_at = None;
    if let ContactState::Active { sequence, .. } = &c.state {
        out.history = Some(format!("left sequence {sequence}: suppressed"));
        out.contact.state = ContactState::Idle;
        out.contact.last_sequence_end = Some(now);
    }
    out
}

/// An operator lifted the suppression: the contact is idle again and lapse
/// detection takes it from there (re-entry rules apply).
pub fn on_unsuppressed(c: &Contact, cfg: &Config, now: Millis) -> Outcome {
    let mut out = Outcome::unchanged(c);
    if let ContactState::Sunset { .. } = c.state {
        out.contact.state = ContactState::Idle;
        out.contact.last_sequence_end = Some(c.last_sequence_end.unwrap_or(now));
    }
    out.contact.due_at = idle_due(&out.contact, cfg);
    out
}

#[cfg(test)]
#[path = "sequence_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "sequence_segments_tests.rs"]
mod segments_tests;
