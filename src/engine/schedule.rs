//! One scheduler pass: take the contacts that are due, run the state
//! machine on each, and queue the messages it asks for. Costs O(due
//! contacts): the schedule is a time-ordered index.

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::{ContactState, sequence};
use crate::store::{MessageRecord, MessageState, StoreError, Writer};

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickResult {
    /// Due contacts looked at.
    pub examined: usize,
    /// Contacts that entered a sequence.
    pub entered: usize,
    /// Messages queued (ids).
    pub queued: Vec<u64>,
    /// Contacts sunset (suppressed as unengaged).
    pub sunset: usize,
}

/// Advances up to `limit` due contacts at `now`.
pub fn tick(w: &mut Writer<'_>, cfg: &Config, now: Millis, limit: usize) -> Result<TickResult, StoreError> {
    let mut result = TickResult::default();
    for email in w.due_contacts(now, limit)? {
        let Some(mut c) = w.contact(&email)? else { continue };
        result.examined += 1;
        let suppressed = w.suppression(&email)?.is_some();
        // Entering and a zero-delay first step happen in the same pass;
        // the bound keeps a misconfiguration from looping.
        for _ in 0..4 {
            if c.due_at.is_none_or(|due| due > now) {
                break;
            }
            let out = sequence::on_due(&c, suppressed, cfg, now);
            if let (ContactState::Active { sequence, .. }, false) =
                (&out.contact.state, matches!(c.state, ContactState::Active { .. }))
            {
                result.entered += 1;
                w.incr(&format!("kpi:entered:{sequence}"), 1)?;
            }
            if out.suppress.is_some() {
                result.sunset += 1;
                if let ContactState::Sunset { sequence, .. } = &out.contact.state {
                    w.incr(&format!("kpi:sunset:{sequence}"), 1)?;
                }
            }
            let mut next = out.contact.clone();
            let send = super::apply(w, &c, out, now)?;
            if let Some((seq, step)) = send {
                let id = w.next_id("message")?;
                let m = MessageRecord {
                    id,
                    email: email.clone(),
                    sequence: seq.clone(),
                    step,
                    created_at: now,
                    state: MessageState::Queued { ready_at: now },
                    attempts: 0,
                    first_attempt_at: None,
                    sent_at: None,
                    message_id: None,
                    last_reply: None,
                    links: Vec::new(),
                };
                w.put_message(None, &m)?;
                let before = next.clone();
                if let ContactState::Active { awaiting, .. } = &mut next.state {
                    *awaiting = Some(id);
                }
                w.put_contact(Some(&before), &next)?;
                w.add_history(&email, now, format!("queued step {} of {seq} (message {id})", step + 1))?;
                result.queued.push(id);
            }
            c = next;
        }
    }
    Ok(result)
}
