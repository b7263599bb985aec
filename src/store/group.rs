//! Group commit: many small writes from concurrent tasks share one durable
//! commit, so the daemon keeps every state change on disk before it is
//! acknowledged and still sustains thousands of changes per second.
//!
//! Jobs queue on a bounded channel (back-pressure instead of growth); a
//! dedicated thread takes whatever has queued up, runs the jobs in one
//! transaction and commits. A batch is atomic: if any job in it fails, the
//! whole transaction is dropped and every job in it gets the error, so a
//! job never needs to undo partial writes.

use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, Writer};

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;
type Work = Box<dyn FnOnce(&mut Writer<'_>) -> (bool, Done) + Send>;

struct Job {
    /// Must be on disk when it returns; a batch of jobs that need not be
    /// skips the sync (a later durable commit carries it).
    durable: bool,
    work: Work,
}

/// Most jobs per transaction.
const MAX_BATCH: usize = 512;

/// A handle for submitting writes to the group committer; cheap to clone.
/// The committer thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    pub(super) fn start(store: Store, queue: usize) -> Committer {
        let (tx, mut rx) = mpsc::channel::<Job>(queue.max(1));
        let spawned = std::thread::Builder::new().name("winback-commit".into()).spawn(move || {
            while let Some(batch) = recv_batch(&mut rx, MAX_BATCH) {
                run_batch(&store, batch);
            }
        });
        if let Err(e) = spawned {
            // Without the thread every submit fails with `Closed`, which the
            // callers report; nothing is silently lost.
            tracing::error!("cannot start the store commit thread: {e}");
        }
        Committer { tx }
    }

    /// Resolves when the commit thread has stopped (it could not start, or
    /// it panicked): from then on every write fails with [`StoreError::Closed`].
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Runs `f` inside a shared transaction and returns its result once
    /// the transaction is durably committed.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// Like [`Self::run`], but returns once the transaction is committed
    /// and visible, without waiting for the disk: for writes that can be
    /// redone after a crash (the event journal's folds). The next durable
    /// commit, whoever makes it, puts them on disk.
    pub async fn run_volatile<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<R, F>(&self, durable: bool, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel();
        let work: Work = Box::new(move |w| {
            let result = f(w);
            let ok = result.is_ok();
            let done: Done = Box::new(move |commit| {
                let out = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(StoreError::Db(e)),
                };
                let _ = otx.send(out);
            });
            (ok, done)
        });
        self.tx.send(Job { durable, work }).await.map_err(|_| StoreError::Closed)?;
        orx.await.map_err(|_| StoreError::Closed)?
    }
}

/// Waits for the next item on a store thread's queue, then takes what else
/// is already queued, up to `max` in all; `None` once every sender is gone.
pub(super) fn recv_batch<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![rx.blocking_recv()?];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run_batch(store: &Store, batch: Vec<Job>) {
    let durable = batch.iter().any(|j| j.durable);
    let attempt = || -> Result<(Vec<Done>, bool, redb::WriteTransaction), StoreError> {
        let mut txn = store.database().begin_write()?;
        txn.set_durability(if durable { redb::Durability::Immediate } else { redb::Durability::None })?;
        Ok((Vec::new(), true, txn))
    };
    let (mut dones, mut all_ok, txn) = match attempt() {
        Ok(t) => t,
        Err(e) => {
            // The jobs cannot run at all; their callers see the error.
            let msg = e.to_string();
            drop(batch);
            tracing::error!("store: cannot begin a transaction: {msg}");
            return;
        }
    };
    let opened = Writer::open(&txn).and_then(|mut w| {
        for job in batch {
            let (ok, done) = (job.work)(&mut w);
            all_ok &= ok;
            dones.push(done);
        }
        w.flush()
    });
    let outcome = match (opened, all_ok) {
        (Err(e), _) => Err(e.to_string()),
        (Ok(()), false) => {
            drop(txn);
            Err("another write in the same batch failed; nothing of the batch was kept".to_string())
        }
        (Ok(()), true) => txn.commit().map_err(|e| e.to_string()),
    };
    if let Err(e) = &outcome {
        tracing::error!("store: batch of {} writes not committed: {e}", dones.len());
    }
    for done in dones {
        done(outcome.clone());
    }
}
