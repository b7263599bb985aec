//! Copies of the store and care of its file: a consistent copy taken
//! while the daemon runs (backups), the integrity check, and compaction.
//!
//! A copy reads one snapshot (a redb read transaction, which writers do
//! not disturb) and writes every table of [`super::tables`] into a new
//! file, so sending goes on while it runs. The check reads a snapshot too:
//! every record must decode and every index entry must point at a record
//! that exists; offline, redb's own page checksums are verified first.
//! Compaction needs the file to itself, so it runs only offline.

use std::path::{Path, PathBuf};

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, Value,
    WriteTransaction,
};
use serde::Serialize;

use super::codec::{decode, decode_events};
use super::records::{HistoryEntry, MessageRecord, Reactivation, SoftBounces};
use super::tables::*;
use super::{CACHE_BYTES, Store, StoreError};
use crate::domain::{Contact, Suppression};

/// Most problems a check lists one by one (the rest are counted).
const MAX_LISTED: usize = 50;

/// Rows per table, in the order of [`super::tables`].
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct TableRows(pub Vec<(String, u64)>);

impl TableRows {
    /// The rows of one table (0 when absent).
    pub fn get(&self, table: &str) -> u64 {
        self.0.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n)
    }
}

/// What a check found.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct CheckReport {
    /// Rows per table.
    pub rows: TableRows,
    /// Events in the `events` table's rows (a row holds one contact's
    /// events recorded one after another).
    #[serde(default)]
    pub events: u64,
    /// The first problems found, each naming the table and key.
    pub problems: Vec<String>,
    /// How many problems in all.
    pub problem_count: u64,
    /// redb's own check of the file's pages: `None` when it could not run
    /// (the daemon holds the file), `Some(false)` when it had to repair.
    pub pages_ok: Option<bool>,
}

impl CheckReport {
    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(text);
        }
    }

    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0 && self.pages_ok != Some(false)
    }
}

impl Store {
    /// Writes a consistent copy of the store into a new file `dest`, which
    /// must not exist yet; returns the rows copied per table.
    pub fn snapshot_to(&self, dest: &Path) -> Result<TableRows, StoreError> {
        if dest.exists() {
            return Err(StoreError::Db(format!("{} already exists; a copy never overwrites", dest.display())));
        }
        let src = self.database().begin_read()?;
        crate::fsmode::precreate(dest).map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dest.display())))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dest)
            .map_err(|e| StoreError::Db(format!("{}: {e}", dest.display())))?;
        let mut rows = Vec::new();
        macro_rules! copy {
            ($t:ident) => {
                let mut txn = db.begin_write()?;
                txn.set_durability(redb::Durability::Immediate)?;
                rows.push(($t.name().to_string(), copy_table(&src, &txn, $t)?));
                txn.commit()?;
            };
        }
        each_table!(copy);
        Ok(TableRows(rows))
    }

    /// Checks every record and index entry in one snapshot.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let txn = self.database().begin_read()?;
        let mut report = CheckReport::default();
        check_records(&txn, &mut report)?;
        check_indexes(&txn, &mut report)?;
        let mut rows = Vec::new();
        macro_rules! count {
            ($t:ident) => {
                rows.push(($t.name().to_string(), count_rows(&txn, $t)?));
            };
        }
        each_table!(count);
        report.rows = TableRows(rows);
        Ok(report)
    }
}

/// Opens the store file of `state_dir` alone (fails with
/// [`StoreError::Locked`] while a daemon has it), verifying its pages.
fn open_alone(state_dir: &Path) -> Result<(Database, PathBuf), StoreError> {
    let path = state_dir.join("winback.redb");
    if !path.exists() {
        return Err(StoreError::Db(format!("{}: no store here (check `state_dir`)", path.display())));
    }
    let db = Database::builder().set_cache_size(CACHE_BYTES).open(&path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.clone()),
        other => StoreError::Db(format!("{}: {other}", path.display())),
    })?;
    Ok((db, path))
}

/// redb's check of every page of the store in `state_dir`; `false` when it
/// found damage (and repaired what it could). Offline only.
pub fn check_pages(state_dir: &Path) -> Result<bool, StoreError> {
    let (mut db, path) = open_alone(state_dir)?;
    db.check_integrity().map_err(|e| StoreError::Db(format!("{}: integrity check: {e}", path.display())))
}

/// Compacts the store file in `state_dir`; returns its size before and after. Offline only.
pub fn compact(state_dir: &Path) -> Result<(u64, u64), StoreError> {
    let (mut db, path) = open_alone(state_dir)?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = size(&path);
    // One call compacts until nothing moves. The file, once closed, keeps
    // its free-space bookkeeping in a form a page check rebuilds (and so
    // would report as a repair): run that first check now.
    db.compact().map_err(|e| StoreError::Db(format!("{}: compaction: {e}", path.display())))?;
    drop(db);
    check_pages(state_dir)?;
    Ok((before, size(&path)))
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let Some(from) = open_opt(src, def)? else { return Ok(0) };
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

fn count_rows<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    use redb::ReadableTableMetadata;
    Ok(open_opt(txn, def)?.map(|t| t.len()).transpose()?.unwrap_or(0))
}

/// Every record must decode as what its table holds.
fn check_records(txn: &ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    macro_rules! decodes {
        ($t:ident, $decode:expr) => {
            if let Some(table) = open_opt(txn, $t)? {
                for row in table.iter()? {
                    let (k, v) = row?;
                    if let Err(e) = $decode(&DisplayKey(&k.value()), v.value()) {
                        report.problem(e.to_string());
                    }
                }
            }
        };
    }
    macro_rules! json {
        ($name:literal, $ty:ty) => {
            |k: &dyn std::fmt::Display, v: &[u8]| decode::<$ty>($name, k, v)
        };
    }
    decodes!(CONTACTS, json!("contacts", Contact));
    decodes!(SUPPRESSIONS, json!("suppressions", Suppression));
    decodes!(MESSAGES, json!("messages", MessageRecord));
    let mut events = 0u64;
    decodes!(EVENTS, |k: &DisplayKey<u64>, v: &[u8]| decode_events(*k.0, v).map(|es| events += es.len() as u64));
    report.events = events;
    decodes!(HISTORY, json!("history", HistoryEntry));
    decodes!(REACTIVATIONS, json!("reactivations", Reactivation));
    decodes!(SOFT_BOUNCES, json!("soft_bounces", SoftBounces));
    Ok(())
}

/// Every index entry must point at a record that exists.
fn check_indexes(txn: &ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    let (Some(contacts), Some(messages), Some(events)) =
        (open_opt(txn, CONTACTS)?, open_opt(txn, MESSAGES)?, open_opt(txn, EVENTS)?)
    else {
        return Ok(());
    };
    if let Some(schedule) = open_opt(txn, SCHEDULE)? {
        for row in schedule.iter()? {
            let row = row?;
            let (due, email) = row.0.value();
            let contact: Option<Contact> = match contacts.get(email)? {
                Some(v) => decode("contacts", &email, v.value()).ok(),
                None => None,
            };
            match contact {
                None => report.problem(format!("schedule: {email} at {due} names no contact")),
                Some(c) if c.due_at.map(key_time) != Some(due) => {
                    report.problem(format!("schedule: {email} at {due}, but the contact is due at {:?}", c.due_at))
                }
                Some(_) => {}
            }
        }
    }
    let mut message_refs = |name: &str, ids: Vec<u64>| -> Result<(), StoreError> {
        for id in ids {
            if messages.get(id)?.is_none() {
                report.problem(format!("{name}: names message {id}, which does not exist"));
            }
        }
        Ok(())
    };
    message_refs("outbox", keys_of(txn, OUTBOX, |k| k.1)?)?;
    message_refs("inflight", keys_of(txn, INFLIGHT, |k| k)?)?;
    message_refs("report_marks", keys_of(txn, REPORT_MARKS, |k| k)?)?;
    if let Some(ids) = open_opt(txn, MESSAGE_IDS)? {
        let mut targets = Vec::new();
        for row in ids.iter()? {
            targets.push(row?.1.value());
        }
        message_refs("message_ids", targets)?;
    }
    if let Some(index) = open_opt(txn, CONTACT_EVENT_RUNS)? {
        for row in index.iter()? {
            let (k, last) = row?;
            let (email, first) = k.value();
            if last.value() < first {
                report.problem(format!("contact_event_runs: {email} has a run from {first} back to {}", last.value()));
            }
            // The run's events, in rows (chunks or single events) from its
            // first id on, must be exactly first..=last.
            let mut missing = |from: u64, to: u64| {
                report.problem(format!("contact_event_runs: {email} names events {from} to {to}, which do not exist"))
            };
            let mut next = first;
            for row in events.range(first..=last.value())? {
                let (k, v) = row?;
                if k.value() > next {
                    missing(next, k.value() - 1);
                }
                next = k.value() + decode_events(k.value(), v.value()).map_or(1, |es| es.len() as u64);
            }
            if next <= last.value() {
                missing(next, last.value());
            }
        }
    }
    Ok(())
}

fn open_opt<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn keys_of<K: Key + 'static, V: Value + 'static, T>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
    f: impl Fn(K::SelfType<'_>) -> T,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    if let Some(t) = open_opt(txn, def)? {
        for row in t.iter()? {
            out.push(f(row?.0.value()));
        }
    }
    Ok(out)
}

/// Shows a key of any table in problem reports.
struct DisplayKey<'a, T: std::fmt::Debug>(&'a T);

impl<T: std::fmt::Debug> std::fmt::Display for DisplayKey<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
