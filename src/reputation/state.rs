//! The durable part of reputation: a pause, per-provider reductions and
//! suspensions, and warm-up progress. It is one serde value the store keeps
//! as a blob, so a restart neither lifts a pause nor restarts a warm-up.
//! The rolling counters are stored apart ([`super::persist::COUNTERS_KEY`]),
//! less often: losing their last minute to a crash costs little.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::adaptive::ProviderState;
use super::policy::Breach;
use super::provider::ProviderKey;
use super::warmup::WarmupState;
use crate::clock::Millis;

/// Format version of [`ReputationState`].
pub const STATE_VERSION: u32 = 1;

/// All sending stopped because a pause threshold was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    /// When it began.
    pub since: Millis,
    /// The sending domain whose rates paused it, or `all` for the total.
    pub scope: String,
    /// A sentence for people.
    pub reason: String,
    /// The thresholds that were reached.
    pub breaches: Vec<Breach>,
    /// When it lifts by itself (with a configured cool-down).
    pub until: Option<Millis>,
}

impl Pause {
    /// Whether it is in force at `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// Everything reputation must remember across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReputationState {
    /// [`STATE_VERSION`] when written.
    pub version: u32,
    /// The pause in force, if any.
    pub pause: Option<Pause>,
    /// Signals before this time no longer count toward a pause (set when a pause is lifted).
    pub evaluate_from: Option<Millis>,
    /// Providers with a reduced rate, a suspension or recent blocks.
    pub providers: BTreeMap<ProviderKey, ProviderState>,
    /// Warm-up progress by sending domain.
    pub warmup: BTreeMap<String, WarmupState>,
}

/// A stored state that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not valid JSON for this type.
    #[error("the stored reputation state is unreadable ({0}); `winback resume` replaces it with a fresh state")]
    Corrupt(#[from] serde_json::Error),
    /// Written by a newer winback.
    #[error("the stored reputation state has version {0}, newer than this winback ({STATE_VERSION}); upgrade winback")]
    TooNew(u32),
}

impl ReputationState {
    /// The state as JSON bytes, for the store.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.version = STATE_VERSION;
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(&s).unwrap_or_default()
    }

    /// Reads [`Self::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<Self, StateError> {
        let s: ReputationState = serde_json::from_slice(b)?;
        if s.version > STATE_VERSION {
            return Err(StateError::TooNew(s.version));
        }
        Ok(s)
    }

    /// Lifts the pause (if any): signals before `now` no longer count
    /// toward a new one. Returns the pause lifted.
    pub fn resume(&mut self, now: Millis) -> Option<Pause> {
        self.evaluate_from = Some(now);
        self.pause.take()
    }

    /// The pause in force at `now`.
    pub fn paused(&self, now: Millis) -> Option<&Pause> {
        self.pause.as_ref().filter(|p| p.active(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(matches!(ReputationState::from_bytes(b"{nope"), Err(StateError::Corrupt(_))));
        assert!(matches!(ReputationState::from_bytes(b"{\"version\": 99}"), Err(StateError::TooNew(99))));
        // Older or partial states read with defaults.
        let s = ReputationState::from_bytes(b"{}").unwrap();
        assert_eq!(s, ReputationState::default());
    }

    #[test]
    fn a_pause_with_a_cool_down_ends() {
        let p = Pause { since: 10, scope: "all".into(), reason: "x".into(), breaches: vec![], until: Some(20) };
        assert!(p.active(19));
        assert!(!p.active(20));
        let s = ReputationState { pause: Some(p), ..Default::default() };
        assert!(s.paused(15).is_some());
        assert!(s.paused(25).is_none());
    }
}
