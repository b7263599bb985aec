//! Events: what a contact did (opened, clicked, bought, logged in, replied,
//! unsubscribed …) and who did it (a person, a machine, an application).

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// Who caused an open or click, as far as the request shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A person (or asserted by an operator or an application).
    Human,
    /// A privacy proxy, security scanner or link checker.
    Machine,
    /// Not decidable from the request.
    Unknown,
}

impl Origin {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Human => "human",
            Origin::Machine => "machine",
            Origin::Unknown => "unknown",
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Normalized address of the contact.
    pub email: String,
    /// Lower-case kind: `open`, `click`, `purchase`, `login`, `reply`, …
    pub kind: String,
    /// When it happened.
    pub at: Millis,
    /// Who caused it.
    pub origin: Origin,
    /// Monetary value (purchases), in the shop's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Application reference (order number …).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The message it relates to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<u64>,
}

impl Event {
    /// A human event of a kind at a time, with nothing else attached.
    pub fn new(email: impl Into<String>, kind: impl Into<String>, at: Millis) -> Self {
        Event {
            email: email.into(),
            kind: kind.into(),
            at,
            origin: Origin::Human,
            value: None,
            reference: None,
            message: None,
        }
    }

    /// Whether this event counts as engagement under the lapse settings:
    /// its kind is an engagement kind, and a machine never counts; an
    /// unknown origin counts only when configured.
    pub fn is_engagement(&self, cfg: &crate::config::LapseConfig) -> bool {
        cfg.engagement_kinds.contains(&self.kind)
            && match self.origin {
                Origin::Human => true,
                Origin::Machine => false,
                Origin::Unknown => cfg.count_unknown,
            }
    }
}
