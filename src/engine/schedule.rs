//! One scheduler pass: take the contacts that are due, run the state
//! machine on each, and queue the messages it asks for. Costs O(due
//! contacts): the schedule is a time-ordered index. A step with variants
//! gets one per message ([`crate::domain::variant`]).

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::{ContactState, sequence, variant};
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

/// The variant of step `step` of `sequence` for `email`: the promoted one
/// when the step promotes and a winner was found, else the keyed-hash
/// draw; `None` for a step without variants.
fn assign_variant(
    w: &mut Writer<'_>,
    cfg: &Config,
    email: &str,
    sequence: &str,
    step: usize,
) -> Result<Option<String>, StoreError> {
    let Some(st) = cfg.sequence(sequence).and_then(|s| s.steps.get(step)).filter(|s| !s.variants.is_empty()) else {
        return Ok(None);
    };
    if st.auto_promote
        && let Some(name) = w.blob(&variant::promoted_key(sequence, step))?
        && let Some(v) = st.variants.iter().find(|v| v.name.as_bytes() == name.as_slice())
    {
        return Ok(Some(v.name.clone()));
    }
    let x = variant::draw(&holdout_key(w)?, email, sequence, step);
    Ok(variant::pick(&st.variants, x).map(|v| v.name.clone()))
}

/// When a message of `sequence` for `contact` queued at `now` may go:
/// now, or the next opening of the sequence's send window in the
/// contact's zone.
pub(super) fn window_open(cfg: &Config, sequence: &str, contact: &crate::domain::Contact, now: Millis) -> Millis {
    match cfg.sequence(sequence).and_then(|s| s.send_window.as_ref()) {
        Some(w) => w.next_open(now, w.zone_for(contact)),
        None => now,
    }
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
                    state: MessageState::Queued { ready_at: window_open(cfg, &seq, &next, now) },
                    attempts: 0,
                    first_attempt_at: None,
                    sent_at: None,
                    message_id: None,
                    last_reply: None,
                    links: Vec::new(),
                    variant: assign_variant(w, cfg, &email, &seq, step as usize)?,
                };
                w.put_message(None, &m)?;
                let before = next.clone();
                if let ContactState::Active { awaiting, .. } = &mut next.state {
                    *awaiting = Some(id);
                }
                w.put_contact(Some(&before), &next)?;
                let variant = m.variant.as_deref().map(|v| format!(", variant {v}")).unwrap_or_default();
                let held = match m.state {
                    MessageState::Queued { ready_at } if ready_at > now => {
                        format!(", held for the send window until {}", crate::clock::rfc3339(ready_at))
                    }
                    _ => String::new(),
                };
                w.add_history(&email, now, format!("queued step {} of {seq}{variant} (message {id}){held}", step + 1))?;
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
    text += &format!("mode {:?} at_risk {:?}\n", l.mode, l.at_risk_factor);
    for s in &cfg.sequences {
        text += &format!("sequence {:?} {} {} {}\n", s.name, s.sleepers, s.never_engaged, s.steps.len());
        text += &format!("  stage {} segments {:?}\n", s.stage.as_str(), s.segments);
    }
    for s in &cfg.customers.segments {
        text += &format!("segment {:?} {:?}\n", s.name, s.source);
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
