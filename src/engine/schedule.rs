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

/// The key of the control-group split (made once, kept in the store).
fn holdout_key(w: &mut Writer<'_>) -> Result<Vec<u8>, StoreError> {
    const KEY: &str = "secret:holdout-key";
    if let Some(k) = w.blob(KEY)? {
        return Ok(k);
    }
    let k: [u8; 32] = rand::random();
    w.put_blob(KEY, &k)?;
    Ok(k.to_vec())
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
            let mut out = sequence::on_due(&c, suppressed, cfg, now);
            if let (ContactState::Active { sequence, .. }, false) =
                (&out.contact.state, matches!(c.state, ContactState::Active { .. }))
            {
                let seq = cfg.sequence(sequence).filter(|s| s.holdout > 0.0);
                if let Some(seq) = seq
                    && sequence::in_holdout(&holdout_key(w)?, &email, &seq.name, seq.holdout)
                {
                    sequence::enter_as_control(&mut out, seq, now);
                    w.incr(&format!("kpi:control:entered:{}", seq.name), 1)?;
                } else {
                    result.entered += 1;
                    w.incr(&format!("kpi:entered:{sequence}"), 1)?;
                }
            }
            if let (ContactState::Active { sequence, control: true, .. }, ContactState::Idle) =
                (&c.state, &out.contact.state)
            {
                w.incr(&format!("kpi:control:finished:{sequence}"), 1)?;
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

/// The blob holding the fingerprint of the rules the stored due times
/// were computed under ([`rules_fingerprint`]).
pub const RULES_KEY: &str = "schema:due-rules";

/// The fingerprint of everything an idle contact's due time depends on:
/// the lapse rules and which sequences take which segments. A change
/// (at start or reload) means every due time is recomputed once.
pub fn rules_fingerprint(cfg: &Config) -> String {
    use sha2::{Digest, Sha256};
    let mut kinds: Vec<&str> = cfg.lapse.engagement_kinds.iter().map(String::as_str).collect();
    kinds.sort_unstable();
    let l = &cfg.lapse;
    let mut text = format!(
        "lapse {} {} {} {:?}\n",
        l.inactive_after.as_millis(),
        l.reentry_after.as_millis(),
        l.count_unknown,
        kinds
    );
    for s in &cfg.sequences {
        text += &format!("sequence {:?} {} {} {}\n", s.name, s.sleepers, s.never_engaged, s.steps.len());
    }
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Recomputes the due time of every idle or reactivated contact among
/// `emails` under `cfg` (suppressed and unenrolled contacts are never
/// due). Contacts in a sequence keep theirs. Returns how many changed.
pub fn recompute_due(w: &mut Writer<'_>, cfg: &Config, emails: &[String]) -> Result<usize, StoreError> {
    let mut changed = 0;
    for email in emails {
        let Some(c) = w.contact(email)? else { continue };
        if !matches!(c.state, ContactState::Idle | ContactState::Reactivated { .. }) {
            continue;
        }
        let due = if w.suppression(email)?.is_some() { None } else { sequence::idle_due(&c, cfg) };
        if due != c.due_at {
            let mut new = c.clone();
            new.due_at = due;
            w.put_contact(Some(&c), &new)?;
            changed += 1;
        }
    }
    Ok(changed)
}
