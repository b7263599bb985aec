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

/// What an event is. The kinds winback itself records are variants;
/// application events (`login`, `reply`, `visit`, …) keep their configured
/// lower-case name. Stored and shown as that name, so the store's format is
/// the plain string it always was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum EventKind {
    /// A tracked open.
    Open,
    /// A tracked click.
    Click,
    /// A purchase (with a value when known).
    Purchase,
    /// An unsubscribe, by link, one-click POST or mailto.
    Unsubscribe,
    /// A spam complaint (ARF report).
    Complaint,
    /// A bounce about the recipient (hard or soft).
    Bounce,
    /// A sender-side refusal (block, reputation, policy), not the recipient's fault.
    BounceSender,
    /// An auto-reply (vacation).
    AutoReply,
    /// A positive delivery report.
    Delivered,
    /// Engagement the shop's own data asserts (a newer `last_engaged_at`
    /// in an import): always counts as engagement.
    Engaged,
    /// An answer to the reasons-for-leaving survey (`ref`: the choice key
    /// and any free text, see [`crate::domain::survey`]): always counts as
    /// engagement.
    Survey,
    /// A delay notice about the recipient: the message is still queued
    /// and retried (never counted as a bounce).
    Delayed,
    /// Any other kind, by its lower-case name.
    App(String),
}

impl EventKind {
    /// The kinds with variants of their own, in a stable order.
    pub const BUILT_IN: [EventKind; 12] = [
        EventKind::Open,
        EventKind::Click,
        EventKind::Purchase,
        EventKind::Unsubscribe,
        EventKind::Complaint,
        EventKind::Bounce,
        EventKind::BounceSender,
        EventKind::AutoReply,
        EventKind::Delivered,
        EventKind::Engaged,
        EventKind::Survey,
        // Appended: stored events name kinds by their position here.
        EventKind::Delayed,
    ];

    /// The lower-case name.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Open => "open",
            EventKind::Click => "click",
            EventKind::Purchase => "purchase",
            EventKind::Unsubscribe => "unsubscribe",
            EventKind::Complaint => "complaint",
            EventKind::Bounce => "bounce",
            EventKind::BounceSender => "bounce_sender",
            EventKind::AutoReply => "auto_reply",
            EventKind::Delivered => "delivered",
            EventKind::Engaged => "engaged",
            EventKind::Survey => "survey",
            EventKind::Delayed => "delayed",
            EventKind::App(name) => name,
        }
    }

    /// Whether only winback records this kind (tracking, unsubscribes,
    /// bounce and complaint reports): the events API refuses it, so an
    /// application cannot fake one. Purchases come from applications.
    pub fn is_reserved(&self) -> bool {
        !matches!(self, EventKind::Purchase | EventKind::Engaged | EventKind::App(_))
    }

    /// The kind of a name (trimmed and lower-cased).
    pub fn parse(name: &str) -> EventKind {
        let name = name.trim().to_ascii_lowercase();
        EventKind::BUILT_IN.into_iter().find(|k| k.as_str() == name).unwrap_or(EventKind::App(name))
    }
}

impl From<String> for EventKind {
    fn from(s: String) -> Self {
        EventKind::parse(&s)
    }
}

impl From<&str> for EventKind {
    fn from(s: &str) -> Self {
        EventKind::parse(s)
    }
}

impl From<EventKind> for String {
    fn from(k: EventKind) -> String {
        match k {
            EventKind::App(name) => name,
            k => k.as_str().to_string(),
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Normalized address of the contact.
    pub email: String,
    /// What happened.
    pub kind: EventKind,
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
    pub fn new(email: impl Into<String>, kind: impl Into<EventKind>, at: Millis) -> Self {
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
    /// its kind is an engagement kind (or engagement asserted by the shop's
    /// data, or a survey answer), and a machine never counts; an unknown
    /// origin counts only when configured.
    pub fn is_engagement(&self, cfg: &crate::config::LapseConfig) -> bool {
        (matches!(self.kind, EventKind::Engaged | EventKind::Survey)
            || cfg.engagement_kinds.contains(self.kind.as_str()))
            && match self.origin {
                Origin::Human => true,
                Origin::Machine => false,
                Origin::Unknown => cfg.count_unknown,
            }
    }
}
