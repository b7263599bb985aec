//! Suppressions: addresses winback must never mail, and why.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// Permanent delivery failure for the address.
    HardBounce,
    /// Repeated temporary failures with no delivery in between.
    SoftBounce,
    /// A spam complaint (feedback loop, ARF).
    Complaint,
    /// The person unsubscribed.
    Unsubscribed,
    /// Sunset: no engagement within the grace period after the final message.
    Unengaged,
    /// Added by an operator.
    Manual,
    /// The person asked to be forgotten: everything about them was erased
    /// and the address is kept only as a keyed hash, never mailed again.
    Forgotten,
    /// The person said, answering the survey, that they left for good
    /// (a choice with `suppress = true`, like "moved away").
    Left,
}

impl SuppressionReason {
    /// All reasons, for reports.
    pub const ALL: [SuppressionReason; 8] = [
        SuppressionReason::HardBounce,
        SuppressionReason::SoftBounce,
        SuppressionReason::Complaint,
        SuppressionReason::Unsubscribed,
        SuppressionReason::Unengaged,
        SuppressionReason::Manual,
        SuppressionReason::Forgotten,
        SuppressionReason::Left,
    ];

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::SoftBounce => "soft_bounce",
            SuppressionReason::Complaint => "complaint",
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::Unengaged => "unengaged",
            SuppressionReason::Manual => "manual",
            SuppressionReason::Forgotten => "forgotten",
            SuppressionReason::Left => "left",
        }
    }

    /// Parses [`Self::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blob (in the store) holding the key of [`forgotten_hash`].
pub const FORGET_KEY_BLOB: &str = "secret:forget-key";

/// The keyed hash (HMAC-SHA256, hex) under which a forgotten address is
/// remembered: it can be checked against an address given again, but not
/// read back.
pub fn forgotten_hash(key: &[u8], email: &str) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else { return String::new() };
    mac.update(email.trim().to_ascii_lowercase().as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// One suppression entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Normalized address.
    pub email: String,
    /// Why.
    pub reason: SuppressionReason,
    /// When.
    pub at: Millis,
    /// Evidence: the diagnostic, the message, the operator's note.
    #[serde(default)]
    pub detail: String,
}
