//! Contacts: an address, its personalization fields, its engagement
//! history in brief, and where it stands in the win-back flow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// Where a contact stands. Suppression is kept apart (it outlives
/// re-imports and can be lifted), but a sunset contact is also `Sunset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContactState {
    /// Not in a sequence; waiting to lapse (or not enrolled).
    Idle,
    /// In a sequence. `next_step` is the index of the next message; when it
    /// equals the number of steps, the final message is out and the grace
    /// period runs.
    Active {
        /// Sequence name.
        sequence: String,
        /// Index of the next step to send.
        next_step: u32,
        /// When the contact entered.
        entered_at: Millis,
        /// A message queued and not yet settled (sent, failed, cancelled);
        /// while set, nothing else is scheduled for the contact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        awaiting: Option<u64>,
        /// In the control group: sent nothing, measured like the others,
        /// leaves after the sequence's span.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        control: bool,
    },
    /// Engaged during a sequence.
    Reactivated {
        /// Sequence name.
        sequence: String,
        /// How many steps had been sent when the contact engaged.
        after_step: u32,
        /// When.
        at: Millis,
    },
    /// Ignored the final message through the grace period; suppressed.
    Sunset {
        /// Sequence name.
        sequence: String,
        /// When.
        at: Millis,
    },
}

impl ContactState {
    /// A short label for counts: `idle`, `active:SEQ:STEP`, `grace:SEQ`,
    /// `reactivated`, `sunset`. `steps` is the length of the sequence.
    pub fn label(&self, steps: impl Fn(&str) -> u32) -> String {
        match self {
            ContactState::Idle => "idle".into(),
            ContactState::Active { sequence, next_step, .. } => {
                if *next_step >= steps(sequence) {
                    format!("grace:{sequence}")
                } else {
                    format!("step:{sequence}:{}", next_step + 1)
                }
            }
            ContactState::Reactivated { .. } => "reactivated".into(),
            ContactState::Sunset { .. } => "sunset".into(),
        }
    }
}

/// A contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Normalized address: the key.
    pub email: String,
    /// Display name, used in templates as `{{ name }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other import columns, used in templates by column name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// When first imported.
    pub created_at: Millis,
    /// Last counted engagement of any kind (purchases included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_engaged_at: Option<Millis>,
    /// Last purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase_at: Option<Millis>,
    /// When the last sequence ended (reactivated or sunset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sequence_end: Option<Millis>,
    /// A role account (postmaster@, noreply@ …).
    #[serde(default)]
    pub role: bool,
    /// At a disposable-mailbox domain.
    #[serde(default)]
    pub disposable: bool,
    /// Whether lapse detection may put the contact in a sequence.
    pub enrolled: bool,
    /// Where it stands.
    pub state: ContactState,
    /// When the scheduler next looks at it (mirrors the schedule index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Millis>,
    /// The contact as a customer: purchase summary, scores, segment.
    #[serde(default, skip_serializing_if = "crate::customers::Customer::is_empty")]
    pub customer: crate::customers::Customer,
}

impl Contact {
    /// A fresh idle contact.
    pub fn new(email: impl Into<String>, now: Millis) -> Self {
        Contact {
            email: email.into(),
            name: None,
            fields: BTreeMap::new(),
            created_at: now,
            last_engaged_at: None,
            last_purchase_at: None,
            last_sequence_end: None,
            role: false,
            disposable: false,
            enrolled: true,
            state: ContactState::Idle,
            due_at: None,
            customer: Default::default(),
        }
    }

    /// Whether the contact ever engaged ("sleeper") or not ("never engaged").
    pub fn ever_engaged(&self) -> bool {
        self.last_engaged_at.is_some()
    }

    /// The recipient domain (after `@`).
    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map_or("", |(_, d)| d)
    }
}
