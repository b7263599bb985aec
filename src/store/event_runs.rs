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

/// The index of stores before the runs: `(address, event id) → ()`.
const CONTACT_EVENTS: TableDefinition<(&str, u64), ()> = TableDefinition::new("contact_events");

/// The run of the latest events of one contact, not written yet.
#[derive(Debug, Default)]
pub(super) struct PendingRun(Option<(String, u64, u64)>);

impl PendingRun {
    /// Notes that event `id` of `email` was recorded; writes the run it
    /// ends, if any.
    pub(super) fn add(
        &mut self,
        runs: &mut Table<'_, (&'static str, u64), u64>,
        email: &str,
        id: u64,
    ) -> Result<(), StoreError> {
        if let Some((e, _, last)) = &mut self.0
            && e == email
            && id == *last + 1
        {
            *last = id;
            return Ok(());
        }
        self.write(runs)?;
        self.0 = Some((email.to_string(), id, id));
        Ok(())
    }

    /// Writes the run being extended.
    pub(super) fn write(&mut self, runs: &mut Table<'_, (&'static str, u64), u64>) -> Result<(), StoreError> {
        if let Some((email, first, last)) = self.0.take() {
            runs.insert((email.as_str(), first), last)?;
        }
        Ok(())
    }
}

/// Every event id of `email`, oldest first.
pub(super) fn ids<T>(runs: &T, email: &str) -> Result<Vec<u64>, StoreError>
where
    T: ReadableTable<(&'static str, u64), u64>,
{
    let mut out = Vec::new();
    for row in runs.range((email, 0)..=(email, u64::MAX))? {
        let (k, last) = row?;
        out.extend(k.value().1..=last.value());
    }
    Ok(out)
}

/// Removes every run of `email`; returns the event ids they held.
pub(super) fn remove(runs: &mut Table<'_, (&'static str, u64), u64>, email: &str) -> Result<Vec<u64>, StoreError> {
    let ids = ids(runs, email)?;
    runs.retain_in((email, 0)..=(email, u64::MAX), |_, _| false)?;
    Ok(ids)
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
        let mut pending = PendingRun::default();
        for row in old.iter()? {
            let row = row?;
            let (email, id) = row.0.value();
            pending.add(&mut runs, email, id)?;
        }
        pending.write(&mut runs)?;
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
        assert_eq!(ids(&runs, "a@x.org").unwrap(), vec![1, 3, 4, 9]);
        assert_eq!(ids(&runs, "b@x.org").unwrap(), vec![2, 5]);
        assert!(ids(&runs, "c@x.org").unwrap().is_empty());
        // 1, 3–4 and 9 for a; 2 and 5 for b.
        assert_eq!(redb::ReadableTableMetadata::len(&runs).unwrap(), 5);
        assert!(matches!(txn.open_table(CONTACT_EVENTS), Err(redb::TableError::TableDoesNotExist(_))));
        drop(txn);
        // Once done, nothing is left to do.
        migrate(&db).unwrap();
    }
}
