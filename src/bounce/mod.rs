//! Bounce, complaint and auto-reply classification. Pure: bytes in,
//! classified recipients out; no I/O.
//!
//! [`classify`] reads one message and says, for every recipient it
//! reports on, what happened ([`Reason`]), whether the address is
//! permanently unusable (hard bounce), the status and reply codes, the
//! diagnostic, and which of our messages it is about ([`Original`]).
//!
//! Formats understood: RFC 3464 delivery status notifications, free-text
//! bounces (Exim, qmail, Sendmail, Postfix, Exchange, Gmail, Yahoo,
//! Courier, Domino, …), RFC 5965 feedback reports and similar complaint
//! notices, Amazon SES JSON notifications, and RFC 3834 auto-replies.
//! The reason comes from an evidence ladder: phrase rules ([`Rules`],
//! data compiled from `config/bounce-rules.toml`), then the enhanced status
//! code, the reply code with its SMTP command, and the DSN fields
//! ([`ladder`]); each recipient says which rung decided. [`classify_reply`]
//! (and [`classify_smtp_reply`]) apply the same ladder to a reply received
//! during our own SMTP transactions.

mod arf;
mod classify;
pub(crate) mod codes;
pub mod config;
mod dsn;
mod fold;
mod freetext;
pub mod ladder;
mod mbox;
mod memo;
mod mime;
mod multiline;
mod names;
mod origin;
mod parts;
mod prefilter;
mod reading;
mod reason;
mod rules;
mod rules_file;
mod scan;
mod ses;
mod status_pattern;

use serde::Serialize;

pub use classify::{
    Verdict, classify, classify_reply, classify_reply_with, classify_smtp_reply, classify_smtp_reply_with,
    classify_with,
};
pub use ladder::{DecidedBy, SmtpCommand};
pub use mbox::split_mbox;
pub use origin::tagged_token;
pub use reason::Reason;
pub use rules::{EMBEDDED_RULES, Rules, RulesError, Signals};

/// The local-part prefix of our VERP return path: `bounces+TOKEN@domain`.
pub const VERP_PREFIX: &str = "bounces+";

/// The local-part prefix of the mailto address in `List-Unsubscribe`:
/// `unsubscribe+TOKEN@domain`.
pub const UNSUBSCRIBE_PREFIX: &str = "unsubscribe+";

/// Our token header in every message we send.
pub const TOKEN_HEADER: &str = "X-Winback-Token";

/// What kind of report a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// RFC 3464 multipart/report with delivery-status fields.
    Dsn,
    /// A bounce written as free text.
    FreeText,
    /// A complaint (RFC 5965 feedback report or a provider's notice).
    Feedback,
    /// An Amazon SES JSON notification.
    SesNotification,
    /// An RFC 3834 automatic reply (vacation, out of office).
    AutoReply,
}

/// What the report says happened to the message for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not delivered and will not be.
    Failed,
    /// Not delivered yet; the reporting MTA keeps trying.
    Delayed,
    /// Delivered (a success DSN).
    Delivered,
    /// Relayed to a system that sends no DSN.
    Relayed,
    /// Delivered to a list or alias that expanded it.
    Expanded,
    /// A complaint about the message.
    Complained,
    /// An automatic reply.
    AutoReplied,
}

impl Action {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
            Action::Complained => "complained",
            Action::AutoReplied => "auto_replied",
        }
    }
}

/// The classification of one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The address the report is about, lower-cased.
    pub recipient: String,
    /// `Original-Recipient` when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_recipient: Option<String>,
    /// RFC 3463 enhanced status code, like `5.1.1`, when the message has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// SMTP reply code, like 550, when the message has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_code: Option<u16>,
    /// Why.
    pub reason: Reason,
    /// A hard bounce: the address is permanently unusable.
    pub hard: bool,
    /// Which rung of the evidence ladder decided the reason: a phrase
    /// rule's name, `enhanced-status`, `reply-code`, `dsn-action`,
    /// `report-format` or `none` (see [`DecidedBy`]).
    pub decided_by: String,
    /// What happened.
    pub action: Action,
    /// The diagnostic text: one line, at most about 2,000 bytes (a longer
    /// one ends with " …").
    pub diagnostic: String,
    /// The MTA that answered, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
    /// `Last-Attempt-Date` as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<String>,
}

impl Recipient {
    /// Whether this is a delay notice: the message is still queued and
    /// retried. Never one that proves the address dead (a hard bounce), nor
    /// a complaint, an auto-reply or a delivery report.
    pub fn is_delay(&self) -> bool {
        self.action == Action::Delayed
            && !self.hard
            && !matches!(self.reason, Reason::Feedback | Reason::Vacation | Reason::Delivered)
    }
}

/// What identifies the original message, when the report quotes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Original {
    /// The token of a `bounces+TOKEN@…` address (envelope or quoted Return-Path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verp_token: Option<String>,
    /// The value of the quoted `X-Winback-Token` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The quoted `Message-ID`, without angle brackets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// The most recipients read from one report. Real reports name at most a
/// few thousand (the recipients of one SMTP transaction: Postfix accepts
/// 1,000 by default, Exim 50,000); a message built to name hundreds of
/// thousands would otherwise cost memory in proportion (a 10 MB notice
/// listing 450,000 addresses: about 250 MB). Recipients past this many are
/// not read; [`Report::capped`] says when a report reached it.
pub const MAX_RECIPIENTS: usize = 100_000;

/// One classified report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What kind of message it is.
    pub format: Format,
    /// One entry per recipient, in the order the message names them.
    pub recipients: Vec<Recipient>,
    /// The original message, as far as it is identifiable.
    pub original: Original,
    /// `Reporting-MTA`, or the host in the bounce's `From`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_mta: Option<String>,
}

impl Report {
    /// Whether the report named [`MAX_RECIPIENTS`] recipients or more:
    /// any past the first [`MAX_RECIPIENTS`] were not read.
    pub fn capped(&self) -> bool {
        self.recipients.len() >= MAX_RECIPIENTS
    }
}
