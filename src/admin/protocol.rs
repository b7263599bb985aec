//! Requests and responses of the admin API (JSON, one per line).

use serde::{Deserialize, Serialize};

use super::status::Status;
pub use crate::domain::import::ImportContact;
use crate::domain::{Contact, Event, Suppression, SuppressionReason};
use crate::store::{HistoryEntry, MessageRecord};

/// An operator request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Counts per state, messages, queue, and the KPIs.
    Status,
    /// The KPIs per sequence and step.
    Report,
    /// One contact with its history.
    ContactShow {
        /// Address (normalized by the caller).
        email: String,
    },
    /// Everything held about a person (data-protection access request).
    ContactExport {
        /// Address (normalized by the caller).
        email: String,
    },
    /// Erase a person; the address stays suppressed as a keyed hash.
    ContactForget {
        /// Address (normalized by the caller).
        email: String,
    },
    /// Fit the customer models (BG/NBD, Gamma–Gamma) on the purchases.
    CustomersModel {
        /// Fit on purchases up to this time (default: now); later ones are
        /// the holdout.
        as_of: Option<crate::clock::Millis>,
        /// The models' time unit.
        unit: crate::customers::Unit,
        /// CLV horizon, in `unit`s.
        horizon: f64,
        /// Annual discount rate of the CLV.
        discount: f64,
        /// End of the holdout period (default: now).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<crate::clock::Millis>,
    },
    /// Refresh every customer's scores now.
    CustomersRefresh,
    /// Segment sizes, revenue, CLV, lapsed and at-risk counts.
    Customers,
    /// Record events.
    EventsAdd {
        /// The events (addresses normalized).
        events: Vec<Event>,
        /// Create unknown contacts instead of reporting them.
        create: bool,
    },
    /// Suppress an address by hand.
    SuppressAdd {
        /// Address.
        email: String,
        /// Operator's note.
        note: String,
    },
    /// Lift a suppression.
    SuppressRemove {
        /// Address.
        email: String,
    },
    /// List suppressions, optionally of one reason.
    SuppressList {
        /// Filter.
        reason: Option<SuppressionReason>,
    },
    /// Store a batch of imported contacts (already checked by the CLI).
    Import {
        /// The contacts.
        contacts: Vec<ImportContact>,
        /// Report only; change nothing.
        dry_run: bool,
    },
    /// Lift a reputation pause.
    Resume,
    /// The token signing keys, after starting a new one if `rotate`.
    Keys {
        /// Start a new signing key first (`winback keys rotate`).
        rotate: bool,
    },
    /// A consistent backup of the state directory while sending goes on.
    Backup {
        /// A new or empty directory (absolute: the daemon's working
        /// directory is not the caller's).
        dest: std::path::PathBuf,
    },
    /// Check every record and index entry of the store.
    StoreCheck,
    /// Read the configuration, templates and data files again and put
    /// them in force (a running daemon only).
    Reload,
    /// One page of the event export (`winback export events`).
    EventsPage {
        /// Continue after this event id (`None`: from the first).
        after: Option<u64>,
        /// Only events at or after this time.
        since: Option<crate::clock::Millis>,
        /// Most events in the page.
        limit: usize,
    },
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventItemResult {
    /// Recorded.
    Recorded,
    /// Recorded and reactivated the contact.
    Reactivated,
    /// No such contact; not recorded.
    UnknownContact,
}

/// What importing one contact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// New contact.
    Created,
    /// Existing contact updated.
    Updated,
    /// The address is suppressed; stays suppressed (fields updated).
    Suppressed {
        /// Why it is suppressed.
        reason: SuppressionReason,
    },
}

/// A contact as shown to operators.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactView {
    /// The record.
    pub contact: Contact,
    /// Its suppression, if any.
    pub suppression: Option<Suppression>,
    /// Its history.
    pub history: Vec<HistoryEntry>,
    /// Its events.
    pub events: Vec<Event>,
    /// Its messages.
    pub messages: Vec<MessageRecord>,
}

/// Everything the store holds about one address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonExport {
    /// The address.
    pub email: String,
    /// The contact record with its imported fields, if any.
    pub contact: Option<Contact>,
    /// Its suppression, if any.
    pub suppression: Option<Suppression>,
    /// Its history.
    pub history: Vec<HistoryEntry>,
    /// Its events.
    pub events: Vec<Event>,
    /// The messages sent (or queued) to it.
    pub messages: Vec<MessageRecord>,
    /// Its reactivations.
    pub reactivations: Vec<crate::store::Reactivation>,
    /// Soft bounces counted toward suppression.
    pub soft_bounces: crate::store::SoftBounces,
    /// Whether it was forgotten on request (then nothing else is held).
    pub forgotten: bool,
}

/// A response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    /// Status.
    Status(Box<Status>),
    /// KPIs.
    Report(Box<crate::report::Report>),
    /// A contact, or none.
    Contact {
        /// The view.
        view: Option<Box<ContactView>>,
    },
    /// Everything held about a person.
    Export {
        /// The export.
        export: Box<PersonExport>,
    },
    /// The customer models.
    CustomersModel {
        /// The fit and its check.
        report: Box<crate::customers::ModelReport>,
    },
    /// A refresh of the scores finished.
    CustomersRefreshed {
        /// What it did.
        refreshed: Box<crate::customers::refresh::Refreshed>,
    },
    /// The customers overview.
    Customers {
        /// The overview.
        overview: Box<crate::customers::overview::Overview>,
    },
    /// A person was erased.
    Forgotten {
        /// What was erased.
        erased: crate::store::Erased,
    },
    /// Per-event outcomes, in request order.
    Events {
        /// Outcomes.
        results: Vec<EventItemResult>,
    },
    /// Whether a suppression was added (false: already suppressed).
    Suppressed {
        /// New?
        added: bool,
        /// The entry now in force.
        entry: Option<Suppression>,
    },
    /// The lifted suppression, if there was one.
    Unsuppressed {
        /// What was lifted.
        lifted: Option<Suppression>,
    },
    /// Suppressions.
    Suppressions {
        /// Entries.
        entries: Vec<Suppression>,
    },
    /// Per-contact import outcomes, in request order.
    Imported {
        /// Outcomes.
        outcomes: Vec<ImportOutcome>,
    },
    /// The reputation pause lifted, if there was one.
    Resumed {
        /// What was lifted.
        lifted: Option<crate::reputation::Pause>,
    },
    /// The token signing keys, oldest first (the last one signs).
    Keys {
        /// The keys.
        keys: Vec<crate::token::KeyInfo>,
    },
    /// A backup was taken.
    Backup {
        /// What it holds.
        manifest: Box<crate::backup::Manifest>,
    },
    /// What the store check found.
    StoreCheck {
        /// The findings.
        report: Box<crate::store::CheckReport>,
    },
    /// One page of the event export, with the event ids.
    EventsPage {
        /// The events in recording order.
        events: Vec<(u64, Event)>,
        /// The id to ask after for the next page; `None` at the end.
        next: Option<u64>,
    },
    /// The new configuration is in force.
    Reloaded {
        /// What changed, and what needs a restart.
        report: Box<crate::daemon::reload::Reloaded>,
    },
    /// The new configuration is invalid; the one in force is unchanged.
    ReloadRefused {
        /// What is wrong, where, and how to fix it.
        message: String,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}
