//! The life of one message around its SMTP transaction: the durable
//! "sending" mark before, the outcome after, and recovery of messages a
//! crash caught in between.
//!
//! Policy for a message caught mid-transaction (found in `Sending` at
//! start-up): it becomes `Interrupted` and is not sent again. The relay may
//! or may not have taken it; sending it twice would mail a lapsed contact
//! twice, which harms the sender more than one missing win-back message.
//! The sequence goes on as if it had been sent, and `status` counts it.

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::sequence::{self, Settled};
use crate::domain::{ContactState, SuppressionReason};
use crate::store::{MessageRecord, MessageState, StoreError, Writer};

/// What the sender should do with a ready message.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginSend {
    /// Marked `Sending`: compose and send it.
    Go(Box<(MessageRecord, crate::domain::Contact)>),
    /// The contact is no longer waiting for it (engaged, suppressed, left): cancelled.
    Cancelled,
    /// Not in a sendable state (already handled, or not ready yet).
    Skip,
}

/// Marks a ready message as being sent, after checking its contact still
/// wants it. Must commit before the SMTP transaction starts.
pub fn begin_send(w: &mut Writer<'_>, cfg: &Config, id: u64, now: Millis) -> Result<BeginSend, StoreError> {
    let Some(m) = w.message(id)? else { return Ok(BeginSend::Skip) };
    if m.state.ready_at().is_none_or(|t| t > now) {
        return Ok(BeginSend::Skip);
    }
    let contact = w.contact(&m.email)?;
    let suppressed = w.suppression(&m.email)?.is_some();
    let wanted =
        matches!(&contact, Some(c) if matches!(&c.state, ContactState::Active { awaiting: Some(a), .. } if *a == id));
    let Some(contact) = contact.filter(|_| wanted && !suppressed) else {
        settle(w, cfg, m, MessageState::Cancelled, Settled::Cancelled, None, now)?;
        return Ok(BeginSend::Cancelled);
    };
    let mut next = m.clone();
    next.state = MessageState::Sending { since: now };
    next.attempts += 1;
    next.first_attempt_at.get_or_insert(now);
    w.put_message(Some(&m), &next)?;
    Ok(BeginSend::Go(Box::new((next, contact))))
}

/// Moves a waiting message's send time to `until` (its provider is
/// suspended): it keeps its place in its sequence and goes out then.
/// Returns whether it was moved (a message no longer waiting is left alone).
pub fn postpone(w: &mut Writer<'_>, id: u64, until: Millis) -> Result<bool, StoreError> {
    let Some(m) = w.message(id)? else { return Ok(false) };
    let mut next = m.clone();
    next.state = match m.state {
        MessageState::Queued { ready_at } if ready_at < until => MessageState::Queued { ready_at: until },
        MessageState::Deferred { ready_at } if ready_at < until => MessageState::Deferred { ready_at: until },
        _ => return Ok(false),
    };
    w.put_message(Some(&m), &next)?;
    Ok(true)
}

/// The result of one delivery attempt, as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: accepted.
    Accepted {
        /// The reply text.
        reply: String,
    },
    /// 4xx or a connection problem: retry later.
    TempFail {
        /// The reply or error text.
        reply: String,
    },
    /// 5xx: refused for good.
    PermFail {
        /// Reply code.
        code: u16,
        /// RFC 3463 status, if given.
        enhanced: Option<String>,
        /// The reply text.
        reply: String,
        /// Whether the refusal means the address does not exist (suppress it).
        hard_bounce: bool,
    },
}

/// Records the outcome of an attempt. `retry_at` is when a temporary
/// failure is tried again; `expired` says the message has been retried
/// long enough. `message_id` is the header it went out with.
#[allow(clippy::too_many_arguments)]
pub fn finish_send(
    w: &mut Writer<'_>,
    cfg: &Config,
    id: u64,
    attempt: &Attempt,
    message_id: Option<String>,
    links: Vec<String>,
    retry_at: Millis,
    expired: bool,
    now: Millis,
) -> Result<(), StoreError> {
    let Some(m) = w.message(id)? else { return Ok(()) };
    let mut m2 = m.clone();
    if message_id.is_some() {
        m2.message_id = message_id;
    }
    if !links.is_empty() {
        m2.links = links;
    }
    match attempt {
        Attempt::Accepted { reply } => {
            m2.sent_at = Some(now);
            m2.last_reply = Some(reply.clone());
            settle_from(w, cfg, &m, m2, MessageState::Sent, Settled::Sent, now)?;
            w.add_history(&m.email, now, format!("sent step {} of {} (message {id})", m.step + 1, m.sequence))?;
        }
        Attempt::TempFail { reply } => {
            m2.last_reply = Some(reply.clone());
            w.incr("messages:deferrals", 1)?;
            if expired {
                settle_from(w, cfg, &m, m2, MessageState::Expired, Settled::Failed, now)?;
                w.add_history(&m.email, now, format!("message {id} expired after retries: {reply}"))?;
            } else {
                // A retry falls inside the sequence's send window too.
                let ready_at = match w.contact(&m.email)? {
                    Some(c) => super::schedule::window_open(cfg, &m.sequence, &c, retry_at),
                    None => retry_at,
                };
                m2.state = MessageState::Deferred { ready_at };
                w.put_message(Some(&m), &m2)?;
                if ready_at > retry_at {
                    let until = crate::clock::rfc3339(ready_at);
                    w.add_history(
                        &m.email,
                        now,
                        format!("message {id} deferred; retry held for the send window until {until}"),
                    )?;
                }
            }
        }
        Attempt::PermFail { code, enhanced, reply, hard_bounce } => {
            m2.last_reply = Some(reply.clone());
            settle_from(w, cfg, &m, m2, MessageState::Failed, Settled::Failed, now)?;
            let status = enhanced.as_deref().unwrap_or("");
            w.add_history(&m.email, now, format!("message {id} refused: {code} {status} {reply}"))?;
            if *hard_bounce {
                super::suppress(w, &m.email, SuppressionReason::HardBounce, &format!("{code} {status} {reply}"), now)?;
            }
        }
    }
    Ok(())
}

/// At start-up: every message still marked `Sending` was caught by a crash
/// mid-transaction. Returns how many were found.
pub fn recover_inflight(w: &mut Writer<'_>, cfg: &Config, now: Millis) -> Result<usize, StoreError> {
    let ids = w.inflight()?;
    for &id in &ids {
        if let Some(m) = w.message(id)? {
            let email = m.email.clone();
            settle(w, cfg, m, MessageState::Interrupted, Settled::Sent, None, now)?;
            w.add_history(&email, now, format!("message {id} interrupted mid-transaction by a restart; not resent"))?;
        }
    }
    Ok(ids.len())
}

fn settle(
    w: &mut Writer<'_>,
    cfg: &Config,
    m: MessageRecord,
    state: MessageState,
    how: Settled,
    reply: Option<String>,
    now: Millis,
) -> Result<(), StoreError> {
    let mut m2 = m.clone();
    if reply.is_some() {
        m2.last_reply = reply;
    }
    settle_from(w, cfg, &m, m2, state, how, now)
}

/// Stores the final state of a message and lets the contact's sequence move on.
fn settle_from(
    w: &mut Writer<'_>,
    cfg: &Config,
    old: &MessageRecord,
    mut new: MessageRecord,
    state: MessageState,
    how: Settled,
    now: Millis,
) -> Result<(), StoreError> {
    new.state = state;
    w.put_message(Some(old), &new)?;
    if how == Settled::Sent {
        w.incr(&format!("kpi:sent:{}:{}", new.sequence, new.step), 1)?;
    }
    if let Some(c) = w.contact(&new.email)? {
        let out = sequence::on_message_settled(&c, new.id, how, cfg, now);
        super::apply(w, &c, out, now)?;
    }
    Ok(())
}
