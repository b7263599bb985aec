//! Records the store keeps besides the domain types: messages, history
//! lines and counter snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// Where a message stands.
///
/// `Sending` is written (durably) before the SMTP transaction starts and
/// replaced by the outcome after it; a message found in `Sending` at start-up
/// was caught mid-transaction by a crash and becomes `Interrupted`: it is
/// never sent again (at most once: a duplicate win-back mail costs more
/// than a lost one), counts as sent for the sequence, and is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting to be sent at or after `ready_at`.
    Queued {
        /// Earliest send time.
        ready_at: Millis,
    },
    /// Handed to the transport; outcome pending.
    Sending {
        /// Since when.
        since: Millis,
    },
    /// Temporarily refused; retried at `ready_at`.
    Deferred {
        /// Next attempt.
        ready_at: Millis,
    },
    /// Accepted by the next hop.
    Sent,
    /// Permanently refused.
    Failed,
    /// Retried until `max_retry_age` without success.
    Expired,
    /// Not sent: the contact engaged, was suppressed, or the message could not be composed.
    Cancelled,
    /// Caught mid-transaction by a crash; not retried (see above).
    Interrupted,
}

impl MessageState {
    /// Stable lower-case name, used in counters.
    pub fn name(&self) -> &'static str {
        match self {
            MessageState::Queued { .. } => "queued",
            MessageState::Sending { .. } => "sending",
            MessageState::Deferred { .. } => "deferred",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
            MessageState::Cancelled => "cancelled",
            MessageState::Interrupted => "interrupted",
        }
    }

    /// When the message waits in the outbox, its ready time.
    pub fn ready_at(&self) -> Option<Millis> {
        match self {
            MessageState::Queued { ready_at } | MessageState::Deferred { ready_at } => Some(*ready_at),
            _ => None,
        }
    }

    /// Whether no further attempt will be made.
    pub fn is_final(&self) -> bool {
        self.ready_at().is_none() && !matches!(self, MessageState::Sending { .. })
    }
}

/// One win-back message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Our id (also inside every token).
    pub id: u64,
    /// Recipient.
    pub email: String,
    /// Sequence name.
    pub sequence: String,
    /// Step index.
    pub step: u32,
    /// When it was queued.
    pub created_at: Millis,
    /// Where it stands.
    #[serde(flatten)]
    pub state: MessageState,
    /// Delivery attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// First attempt (retry age counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_at: Option<Millis>,
    /// When it was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Millis>,
    /// The `Message-ID` header it went out with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The last SMTP reply (or transport error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<String>,
    /// Original URLs of the tracked links, by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The step variant it carries (`[[sequence.step.variant]]`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl MessageRecord {
    /// The recipient domain.
    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// The soft bounces counted for one address: `(message id, when)`, one
/// entry per send, within the counting window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftBounces {
    /// The counted sends, oldest first.
    pub entries: Vec<(u64, Millis)>,
}

/// Which actions reports about one sent message have taken: each kind of
/// action happens at most once per message, however often (or by whom) a
/// report about it is delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportMarks(pub u8);

impl ReportMarks {
    /// A hard action: hard-bounce or complaint suppression, or a
    /// sender-side refusal counted for the provider.
    pub const HARD: u8 = 1;
    /// A soft bounce counted.
    pub const SOFT: u8 = 2;
    /// Recorded only: a delivery report or an auto-reply.
    pub const RECORDED: u8 = 4;
    /// Recorded only: a delay notice (the message was still being retried).
    pub const DELAYED: u8 = 8;

    /// Whether the action `bit` was taken.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One line of a contact's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Millis,
    /// What happened, in words.
    pub text: String,
}

/// Counters by name (`contacts:idle`, `suppressed:complaint`,
/// `messages:sent`, `events:open:machine`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts(pub BTreeMap<String, i64>);

impl Counts {
    /// A counter's value (0 when absent).
    pub fn get(&self, key: &str) -> i64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// The counters under `prefix:` with the prefix stripped.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, i64)> + 'a {
        self.0
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).and_then(|r| r.strip_prefix(':')).map(|r| (r, *v)))
    }
}

/// A contact engaged during a sequence (kept for KPIs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactivation {
    /// The contact.
    pub email: String,
    /// The sequence.
    pub sequence: String,
    /// Messages sent before the engagement.
    pub after_step: u32,
    /// When.
    pub at: Millis,
    /// In the sequence's control group (sent nothing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control: bool,
}
