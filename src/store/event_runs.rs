//! The per-contact index of events as runs of ids.
//!
//! The events a contact gets in one go (a batch of an import, a tracking
//! hit) are recorded one after another and get consecutive ids, so the
//! index keeps one entry per run, `(address, first id) → last id`, not one
//! per event: an order history writes a contact's index entry once. The
//! writer holds the run being extended ([`PendingRun`]) and writes it when
//! another contact's event comes or the transaction ends.
//!
//! Stores from before the runs had one `(address, id)` entry per event in
//! `contact_events`; [`migrate`] turns them into runs once, when the store
//! is opened.

use redb::{Database, ReadableTable, Table, TableDefinition};

use super::StoreError;
use super::tables::CONTACT_EVENT_RUNS;
use crate::domain::Event;

/// The index of stores before the runs: `(address, event id) → ()`.
const CONTACT_EVENTS: TableDefinition<(&str, u64), ()> = TableDefinition::new("contact_events");

/// The run of the latest events of one contact, not written yet: its
/// address, first and last id, and the events' bodies for its chunk (see
/// [`super::event_codec`]).
#[derive(Debug, Default)]
pub(super) struct PendingRun(Option<(String, u64, u64, Vec<u8>)>);

/// The two tables a run is written to.
pub(super) type RunTables<'a, 'txn> =
    (&'a mut Table<'txn, (&'static str, u64), u64>, &'a mut Table<'txn, u64, &'static [u8]>);

impl PendingRun {
    /// Notes that `e` was recorded as event `id`; writes the run it ends,
    /// if any.
    pub(super) fn add(&mut self, tables: RunTables<'_, '_>, e: &Event, id: u64) -> Result<(), StoreError> {
        if let Some((email, _, last, bodies)) = &mut self.0
            && *email == e.email
            && id == *last + 1
        {
            *last = id;
            super::event_codec::encode_body(e, bodies);
            return Ok(());
        }
        self.write(tables)?;
        let mut bodies = Vec::with_capacity(64);
        super::event_codec::encode_body(e, &mut bodies);
        self.0 = Some((e.email.clone(), id, id, bodies));
        Ok(())
    }

    /// Writes the run being extended: its index entry and its chunk.
    pub(super) fn write(&mut self, (runs, events): RunTables<'_, '_>) -> Result<(), StoreError> {
        if let Some((email, first, last, bodies)) = self.0.take() {
            runs.insert((email.as_str(), first), last)?;
            let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
            events.insert(first, super::event_codec::chunk(&email, count, &bodies).as_slice())?;
        }
        Ok(())
    }
}

/// Removes every run of `email` and its events; returns how many events
/// there were.
pub(super) fn remove((runs, events): RunTables<'_, '_>, email: &str) -> Result<usize, StoreError> {
    let mut n = 0;
    for (first, last) in spans(runs, email)? {
        n += usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        events.retain_in(first..=last, |_, _| false)?;
    }
    runs.retain_in((email, 0)..=(email, u64::MAX), |_, _| false)?;
    Ok(n)
}

/// The (first, last) ids of every run of `email`, oldest first.
pub(super) fn spans<T>(runs: &T, email: &str) -> Result<Vec<(u64, u64)>, StoreError>
where
    T: ReadableTable<(&'static str, u64), u64>,
{
    let mut out = Vec::new();
    for row in runs.range((email, 0)..=(email, u64::MAX))? {
        let (k, last) = row?;
        out.push((k.value().1, last.value()));
    }
    Ok(out)
}

/// Turns the per-event index of an older store into runs, in one
/// transaction, and drops it. Does nothing on a store that has none.
pub(super) fn migrate(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let old = match txn.open_table(CONTACT_EVENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut runs = txn.open_table(CONTACT_EVENT_RUNS)?;
        // The old rows stay as they are (one event each); only the index
        // changes.
        let mut run: Option<(String, u64, u64)> = None;
        for row in old.iter()? {
            let row = row?;
            let (email, id) = row.0.value();
            match &mut run {
                Some((e, _, last)) if e == email && id == *last + 1 => *last = id,
                _ => {
                    if let Some((e, first, last)) = run.replace((email.to_string(), id, id)) {
                        runs.insert((e.as_str(), first), last)?;
                    }
                }
            }
        }
        if let Some((e, first, last)) = run {
            runs.insert((e.as_str(), first), last)?;
        }
    }
    txn.delete_table(CONTACT_EVENTS)?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableDatabase;

    use super::*;

    #[test]
    fn an_older_per_event_index_becomes_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut old = txn.open_table(CONTACT_EVENTS).unwrap();
            for (e, id) in
                [("a@x.org", 1), ("b@x.org", 2), ("a@x.org", 3), ("a@x.org", 4), ("b@x.org", 5), ("a@x.org", 9)]
            {
                old.insert((e, id), ()).unwrap();
            }
        }
        txn.commit().unwrap();
        migrate(&db).unwrap();
        let txn = db.begin_read().unwrap();
        let runs = txn.open_table(CONTACT_EVENT_RUNS).unwrap();
        assert_eq!(spans(&runs, "a@x.org").unwrap(), vec![(1, 1), (3, 4), (9, 9)]);
        assert_eq!(spans(&runs, "b@x.org").unwrap(), vec![(2, 2), (5, 5)]);
        assert!(spans(&runs, "c@x.org").unwrap().is_empty());
        // 1, 3–4 and 9 for a; 2 and 5 for b.
        assert_eq!(redb::ReadableTableMetadata::len(&runs).unwrap(), 5);
        assert!(matches!(txn.open_table(CONTACT_EVENTS), Err(redb::TableError::TableDoesNotExist(_))));
        drop(txn);
        // Once done, nothing is left to do.
        migrate(&db).unwrap();
    }
}
