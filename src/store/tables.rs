//! Table definitions: the only place that knows the on-disk layout.
//!
//! Values are JSON (small, self-describing, easy to inspect and to evolve
//! with `#[serde(default)]`); keys are chosen so the scans the daemon needs
//! are range scans: the schedule and the outbox are ordered by time.

use redb::TableDefinition;

/// email → Contact
pub const CONTACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("contacts");
/// (due_at, email) → () — the time-ordered schedule.
pub const SCHEDULE: TableDefinition<(u64, &str), ()> = TableDefinition::new("schedule");
/// email → Suppression
pub const SUPPRESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("suppressions");
/// message id → MessageRecord
pub const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// `Message-ID` (see [`message_id_key`]) → message id: attribution of
/// reports that quote only the header.
pub const MESSAGE_IDS: TableDefinition<&str, u64> = TableDefinition::new("message_ids");
/// (ready_at, message id) → () — queued and deferred messages.
pub const OUTBOX: TableDefinition<(u64, u64), ()> = TableDefinition::new("outbox");
/// message id → () — messages between "sending" and their outcome.
pub const INFLIGHT: TableDefinition<u64, ()> = TableDefinition::new("inflight");
/// event id → Event
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (email, first event id) → last event id: a contact's events as runs of
/// consecutive ids (see [`super::event_runs`]).
pub const CONTACT_EVENT_RUNS: TableDefinition<(&str, u64), u64> = TableDefinition::new("contact_event_runs");
/// (email, seq) → HistoryEntry
pub const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// id → Reactivation (for KPIs: retention, revenue)
pub const REACTIVATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("reactivations");
/// email → SoftBounces: the soft bounces counted toward suppression.
pub const SOFT_BOUNCES: TableDefinition<&str, &[u8]> = TableDefinition::new("soft_bounces");
/// message id → ReportMarks bits: which actions reports about that
/// message have already taken (each at most once).
pub const REPORT_MARKS: TableDefinition<u64, u8> = TableDefinition::new("report_marks");
/// keyed hash of an address → when it was forgotten: addresses erased on
/// request, never imported or mailed again.
pub const FORGOTTEN: TableDefinition<&str, i64> = TableDefinition::new("forgotten");
/// name → count
pub const COUNTERS: TableDefinition<&str, i64> = TableDefinition::new("counters");
/// name → opaque state (reputation, soft-bounce windows, …)
pub const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// (day number since 1970 in UTC, figure) → value: the daily rollups the
/// dashboard draws (see [`super::rollup`]).
pub const ROLLUPS: TableDefinition<(i64, &str), f64> = TableDefinition::new("rollups");

/// Calls `$m!(TABLE)` for every table. Copies ([`super::snapshot`]) go
/// through this list, so a new table is added here too; a test checks that
/// a store holds no table the list misses.
macro_rules! each_table {
    ($m:ident) => {
        $m!(CONTACTS);
        $m!(SCHEDULE);
        $m!(SUPPRESSIONS);
        $m!(MESSAGES);
        $m!(MESSAGE_IDS);
        $m!(OUTBOX);
        $m!(INFLIGHT);
        $m!(EVENTS);
        $m!(CONTACT_EVENT_RUNS);
        $m!(HISTORY);
        $m!(REACTIVATIONS);
        $m!(SOFT_BOUNCES);
        $m!(REPORT_MARKS);
        $m!(FORGOTTEN);
        $m!(COUNTERS);
        $m!(BLOBS);
        $m!(ROLLUPS);
    };
}
pub(super) use each_table;

/// Clamps a timestamp into the unsigned key space (times before 1970 sort first).
pub fn key_time(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// The key of a `Message-ID` header value in [`MESSAGE_IDS`]: without the
/// angle brackets and lower-case, because bounces quote it either way.
pub fn message_id_key(value: &str) -> String {
    value.trim().trim_start_matches('<').trim_end_matches('>').trim().to_ascii_lowercase()
}
