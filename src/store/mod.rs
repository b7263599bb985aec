//! All durable state, in one redb file (`state_dir/winback.redb`), behind a
//! domain-level API: contacts, the schedule, messages and the outbox,
//! events, suppressions, history, counters and small state blobs.
//!
//! Nothing outside this module names a redb table. Writes go through a
//! [`Writer`] inside one transaction, either directly ([`Store::write`],
//! for the CLI) or batched by the [`Committer`] (group commit, for the
//! daemon), and every commit is durable (fsync) before it returns, but the
//! event journal's folds, which the journal can redo. Indexes
//! (schedule, outbox, in-flight, `Message-ID`, per-contact events,
//! counters) are kept by the writer itself, so they can never drift from
//! the records. Opens and clicks reach the store through the event
//! [`Journal`] beside it, which makes them durable with an append.
//! Daily [`rollup`]s of the same writes feed time series.

mod codec;
pub mod event_codec;
mod event_runs;
mod group;
mod journal;
mod reader;
mod records;
pub mod rollup;
mod snapshot;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase};

pub use group::Committer;
pub use journal::{Apply, FILE as JOURNAL_FILE, Journal};
pub use reader::Reader;
pub use records::{Counts, HistoryEntry, MessageRecord, MessageState, Reactivation, ReportMarks, SoftBounces};
pub use snapshot::{CheckReport, TableRows, check_pages, compact};
pub use writer::{Erased, Writer};

/// Store failures. Domain outcomes (not found, already suppressed) are
/// values returned by the API, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the database open.
    #[error(
        "the store {0} is in use by another process (is `winback serve` running? then the CLI talks to it over the admin socket)"
    )]
    Locked(PathBuf),
    /// The database could not be opened, read or written.
    #[error("store error: {0}")]
    Db(String),
    /// A record could not be decoded.
    #[error("damaged record in {table} for key {key}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The key.
        key: String,
        /// The decoder's message.
        detail: String,
    },
    /// The group committer has stopped (shutdown).
    #[error("the store is shutting down")]
    Closed,
}

macro_rules! db_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_error!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError, redb::SetDurabilityError);

/// Memory redb may use to cache pages (its default is 1 GiB). The file's
/// pages stay in the kernel's page cache anyway, so a larger cache of our
/// own buys little speed but counts fully in the daemon's resident set: a
/// store of a million contacts would otherwise hold several hundred MB.
const CACHE_BYTES: usize = 64 << 20;

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) `state_dir/winback.redb`. Fails with
    /// [`StoreError::Locked`] while another process has it open.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        crate::fsmode::create_dir_all(state_dir)
            .map_err(|e| StoreError::Db(format!("cannot create state directory {}: {e}", state_dir.display())))?;
        let path = state_dir.join("winback.redb");
        // redb creates its file with the default mode: make it private first.
        crate::fsmode::precreate(&path)
            .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", path.display())))?;
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.clone()),
            other => StoreError::Db(format!("{}: {other}", path.display())),
        })?;
        event_runs::migrate(&db)?;
        let store = Store { db: Arc::new(db), path };
        store.write(|w| w.ensure_tables())?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one durable write transaction. If `f` fails, nothing of
    /// it is kept.
    pub fn write<R>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.commit(redb::Durability::Immediate, f)
    }

    /// Like [`Store::write`], but the commit does not wait for the disk: it
    /// becomes durable with the next durable commit, and a crash before
    /// that loses it (the store stays consistent, as of the last durable
    /// commit). Only for work that is simply done again, such as the pages
    /// of a score refresh, whose end is marked by a durable write.
    pub fn write_unsynced<R>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.commit(redb::Durability::None, f)
    }

    fn commit<R>(
        &self,
        durability: redb::Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(durability)?;
        let r = {
            let mut w = Writer::open(&txn)?;
            let r = f(&mut w)?;
            w.flush()?;
            r
        };
        txn.commit()?;
        Ok(r)
    }

    /// A consistent read-only view.
    pub fn read(&self) -> Result<Reader, StoreError> {
        Reader::open(self.db.begin_read()?)
    }

    /// Starts a group committer on its own thread; see [`Committer`].
    pub fn committer(&self, queue: usize) -> Committer {
        Committer::start(self.clone(), queue)
    }

    fn database(&self) -> &Database {
        &self.db
    }
}

#[cfg(test)]
mod tests;
