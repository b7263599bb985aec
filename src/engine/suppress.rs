//! Adding and lifting suppressions, with the contact leaving (or being
//! free to re-enter) its sequence in the same transaction.

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::{Suppression, SuppressionReason, sequence};
use crate::store::{StoreError, Writer};

/// Suppresses an address (whether or not it is a known contact). Returns
/// whether the suppression is new (an existing one keeps its first reason).
pub fn suppress(
    w: &mut Writer<'_>,
    email: &str,
    reason: SuppressionReason,
    detail: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let new = w.suppress(&Suppression { email: email.to_string(), reason, at: now, detail: detail.to_string() })?;
    if new {
        w.add_history(
            email,
            now,
            format!("suppressed: {reason}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") }),
        )?;
        if let Some(c) = w.contact(email)? {
            let out = sequence::on_suppressed(&c, now);
            super::apply(w, &c, out, now)?;
        }
    }
    Ok(new)
}

/// Lifts a suppression; lapse detection takes the contact from there.
/// Returns the lifted entry, `None` if the address was not suppressed.
pub fn unsuppress(
    w: &mut Writer<'_>,
    cfg: &Config,
    email: &str,
    now: Millis,
) -> Result<Option<Suppression>, StoreError> {
    let Some(old) = w.unsuppress(email)? else {
        return Ok(None);
    };
    w.add_history(email, now, format!("suppression ({}) lifted by an operator", old.reason))?;
    if let Some(c) = w.contact(email)? {
        let out = sequence::on_unsuppressed(&c, cfg, now);
        super::apply(w, &c, out, now)?;
    }
    Ok(Some(old))
}
