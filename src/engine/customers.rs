//! Writing a refresh's scores: each contact of a page gets its new scores
//! (none for a contact that never bought) and, when it waits to lapse, the
//! due time they lead to.

use crate::config::Config;
use crate::customers::Scores;
use crate::domain::{Contact, ContactState, sequence};
use crate::store::{StoreError, Writer};

/// Scores the contacts among `emails` with `score` and recomputes the due
/// time of those waiting to lapse; `seen` gets every contact as stored
/// after. Returns (contacts scored, due times changed).
pub fn score_contacts(
    w: &mut Writer<'_>,
    cfg: &Config,
    emails: &[String],
    score: &dyn Fn(&Contact) -> Option<Scores>,
    seen: &mut dyn FnMut(&Contact),
) -> Result<(usize, usize), StoreError> {
    let (mut scored, mut moved) = (0, 0);
    for email in emails {
        let Some(old) = w.contact(email)? else { continue };
        let mut c = old.clone();
        c.customer.scores = score(&c);
        scored += usize::from(c.customer.scores.is_some());
        if matches!(c.state, ContactState::Idle | ContactState::Reactivated { .. }) {
            let due = if w.suppression(email)?.is_some() { None } else { sequence::idle_due(&c, cfg) };
            moved += usize::from(due != c.due_at);
            c.due_at = due;
        }
        if c != old {
            w.put_contact(Some(&old), &c)?;
        }
        seen(&c);
    }
    Ok((scored, moved))
}
