//! Work the recipients of one report share. A report may name thousands of
//! recipients against one failure text: the text is held once ([`Shared`],
//! cut to [`SHARED_LIMIT`] where it is only context), and recipients whose
//! evidence is the same get one decision, computed once ([`Memo`]), and
//! each shared text is read once ([`Readings`]) for every decision that
//! needs it. The cost of a report grows with its size, never with
//! recipients × text.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use super::classify::{Decision, Evidence, decide};
use super::ladder::SmtpCommand;
use super::reading::Readings;
use super::rules::Rules;

/// The most of a report's whole failure text, or of its preamble, that is
/// read as context for each recipient. Real notices state a failure in far
/// less; more is padding, and each recipient would read it again.
pub(crate) const SHARED_LIMIT: usize = 16 * 1024;

/// A text shared by many recipients: cloned by reference, compared by
/// reference first, hashed by its length and ends (so a key holding it
/// costs the same to hash however long the text is).
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared(Arc<str>);

impl Shared {
    /// `text` cut to [`SHARED_LIMIT`] bytes at a character boundary.
    pub fn capped(text: &str) -> Self {
        let end = text.floor_char_boundary(SHARED_LIMIT);
        Self(Arc::from(text.get(..end).unwrap_or(text)))
    }
}

impl From<String> for Shared {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl From<&str> for Shared {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Shared {}

impl Hash for Shared {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Equal texts have equal lengths and ends: consistent with `eq`.
        let b = self.0.as_bytes();
        b.len().hash(h);
        b.get(..b.len().min(64)).hash(h);
        b.get(b.len().saturating_sub(64)..).hash(h);
    }
}

/// Everything a decision depends on (not the recipient's address).
#[derive(PartialEq, Eq, Hash)]
struct Key {
    diagnostic: Shared,
    context: Shared,
    preamble: Shared,
    status: String,
    code: Option<u16>,
    action: String,
    diagnostic_type: String,
    command: Option<SmtpCommand>,
}

/// The most decisions a report keeps. Recipients share evidence in the
/// first few (a DSN's recipients under one reply); past this, each new
/// evidence is decided and not kept, so a report of a hundred thousand
/// different texts costs no memory for them.
const MEMO_LIMIT: usize = 1024;

/// The decisions already taken for one report, and what its texts say.
#[derive(Default)]
pub(crate) struct Memo {
    decisions: HashMap<Key, Decision>,
    readings: Readings,
}

impl Memo {
    /// [`decide`], once per distinct evidence.
    pub fn decide(&mut self, rules: &Rules, ev: &Evidence) -> Decision {
        let key = Key {
            diagnostic: ev.diagnostic.clone(),
            context: ev.context.clone(),
            preamble: ev.preamble.clone(),
            status: ev.status.clone(),
            code: ev.code,
            action: ev.action.clone(),
            diagnostic_type: ev.diagnostic_type.clone(),
            command: ev.command,
        };
        if let Some(d) = self.decisions.get(&key) {
            return d.clone();
        }
        let d = decide(rules, ev, &mut self.readings);
        if self.decisions.len() < MEMO_LIMIT {
            self.decisions.insert(key, d.clone());
        }
        d
    }

    /// Whether `text` says the message was given up for good, read once
    /// per distinct text: the report's preamble and whole text are read
    /// once, however many recipients share them.
    pub fn says_gave_up(&mut self, rules: &Rules, text: &Shared) -> bool {
        self.readings.of(text).gave_up(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(s: &Shared) -> u64 {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    }

    #[test]
    fn equal_texts_are_equal_and_hash_alike_whatever_their_allocation() {
        let long = "x".repeat(1000) + "middle" + &"y".repeat(1000);
        let (a, b) = (Shared::from(long.as_str()), Shared::from(long.clone()));
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        let other = Shared::from(long.replace("middle", "MIDDLE"));
        assert_ne!(a, other, "same length and ends, different middle");
    }

    #[test]
    fn capped_cuts_at_a_character_boundary() {
        let text = "é".repeat(SHARED_LIMIT);
        let capped = Shared::capped(&text);
        assert!(capped.len() <= SHARED_LIMIT && capped.len() >= SHARED_LIMIT - 1);
        assert!(capped.chars().all(|c| c == 'é'));
        assert_eq!(&*Shared::capped("short"), "short");
    }
}
