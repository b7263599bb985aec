//! Promoting a step's winning variant (`auto_promote`): from then on every
//! new contact gets it. Recorded once, as the blob the scheduler reads
//! when it assigns variants and a counter the report shows.

use crate::domain::variant::promoted_key;
use crate::report::variants::promoted_counter;
use crate::store::{StoreError, Writer};

/// Promotes `variant` of step `step` (0-based) of `sequence`; returns
/// whether it was newly promoted (a step is promoted once, never changed).
pub fn promote_variant(w: &mut Writer<'_>, sequence: &str, step: usize, variant: &str) -> Result<bool, StoreError> {
    let key = promoted_key(sequence, step);
    if w.blob(&key)?.is_some() {
        return Ok(false);
    }
    w.put_blob(&key, variant.as_bytes())?;
    w.incr(&promoted_counter(sequence, step, variant), 1)?;
    Ok(true)
}
