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
}

impl SuppressionReason {
    /// All reasons, for reports.
    pub const ALL: [SuppressionReason; 6] = [
        SuppressionReason::HardBounce,
        SuppressionReason::SoftBounce,
        SuppressionReason::Complaint,
        SuppressionReason::Unsubscribed,
        SuppressionReason::Unengaged,
        SuppressionReason::Manual,
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
