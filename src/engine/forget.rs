//! Data-protection requests: erasing a person ("right to be forgotten")
//! while making sure the address is never mailed again.
//!
//! [`forget`] erases the contact, its events, history, soft bounces and
//! suppression, keeps its messages and reactivations for the KPIs under an
//! alias, and remembers only a keyed hash of the address
//! ([`forgotten_hash`], with a random key kept in the store, so the list
//! cannot be read back or checked without the store). A later import or
//! event naming the address is refused (`is_forgotten` on the store).

use crate::clock::Millis;
use crate::domain::SuppressionReason;
use crate::domain::suppression::{FORGET_KEY_BLOB, forgotten_hash};
use crate::store::{Erased, StoreError, Writer};

/// Erases everything about `email` and remembers its keyed hash. Returns
/// what was erased; forgetting twice (or an address never seen) still
/// leaves the hash, so it is never imported again.
pub fn forget(w: &mut Writer<'_>, email: &str, now: Millis) -> Result<Erased, StoreError> {
    let email = email.trim().to_ascii_lowercase();
    let key = match w.blob(FORGET_KEY_BLOB)? {
        Some(k) => k,
        None => {
            let k: [u8; 32] = rand::random();
            w.put_blob(FORGET_KEY_BLOB, &k)?;
            k.to_vec()
        }
    };
    let already = w.is_forgotten(&email)?;
    let h = forgotten_hash(&key, &email);
    let alias = format!("forgotten:{}", h.get(..16).unwrap_or(&h));
    let erased = w.erase_person(&email, &alias, &h, now)?;
    if !already {
        w.incr(&format!("suppressed:{}", SuppressionReason::Forgotten), 1)?;
    }
    Ok(erased)
}
