//! The event journal (`state_dir/events.journal`): where opens and clicks
//! become durable before the HTTP side answers.
//!
//! Applying an event to the store touches pages all over it (the event,
//! the per-contact index, the contact, the schedule), and a durable store
//! commit costs several times an append. So the tracking path appends
//! events to this journal, one `write` and one `fdatasync` per group of
//! requests, and a folder task applies them to the store afterwards, many
//! per transaction, through the group committer. Under a burst, the store
//! lags the journal by one fold (milliseconds to a fraction of a second);
//! when the journal is quiet, [`Journal::append`] also waits for the fold,
//! so a lone open is in the contact's state when it is answered.
//!
//! Every record carries a sequence number, and each fold stores the last
//! number it applied in the same transaction. At start-up, records past
//! that number are applied before anything else runs, so a crash between
//! the journal and the store loses nothing and applies nothing twice. A
//! torn record at the end (a write cut short by the crash, never
//! acknowledged) is dropped; a record that does not decode keeps the file
//! aside under a new name for the operator.
//!
//! Record: `u32` payload length, `u32` CRC-32 of the payload (both little
//! endian), payload = `u64` sequence number + the event as JSON.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use super::codec::{decode, encode};
use super::{Committer, Store, StoreError, Writer};
use crate::domain::Event;

/// Applies journalled events, in order, to the store.
pub type Apply = Arc<dyn Fn(&mut Writer<'_>, &[Event]) -> Result<(), StoreError> + Send + Sync>;

/// The journal's file name in the state directory.
pub const FILE: &str = "events.journal";
/// The blob holding the last sequence number applied to the store.
const FOLDED_KEY: &str = "journal:folded";
/// Most appends per write and sync.
const MAX_GROUP: usize = 1024;
/// Most events per fold transaction.
const MAX_FOLD: usize = 512;
/// Events handed to the folder and not yet applied; appends wait beyond
/// (about 20 MB). Counted in events, not groups: under a burst groups are
/// small and many, and a store commit that takes a while must not stop
/// the journal.
const MAX_BACKLOG: usize = 65_536;
/// A group and a backlog this small count as quiet: the append waits for its fold.
const QUIET: u64 = 8;
/// The file is emptied once everything in it is applied and it is this long.
const TRUNCATE_AT: u64 = 1 << 20;
/// Longest time folds stay without a durable commit under load.
const SYNC_EVERY: Duration = Duration::from_millis(1000);
/// First wait before retrying a fold the store refused.
const RETRY: Duration = Duration::from_millis(100);

/// A handle for appending events; cheap to clone. The writer thread ends
/// when the last handle is dropped, and the folder once it has applied
/// what the writer handed it.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Append>,
    folded: watch::Receiver<u64>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Journal")
    }
}

struct Append {
    event: Event,
    done: oneshot::Sender<Result<Ack, StoreError>>,
}

#[derive(Debug, Clone, Copy)]
struct Ack {
    seq: u64,
    quiet: bool,
}

fn io_error(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| StoreError::Db(format!("event journal {path}: cannot {what}: {e}"))
}

impl Journal {
    /// Opens the journal beside the store's file, applies to the store what a
    /// previous run journalled and did not apply, and starts the writer
    /// thread. Returns the journal and the folder, which the caller runs
    /// as a task (it needs the tokio runtime and ends after the journal).
    pub fn open(
        store: &Store,
        committer: Committer,
        queue: usize,
        apply: Apply,
    ) -> Result<(Journal, impl Future<Output = ()> + Send + 'static), StoreError> {
        let path = store.path().with_file_name(FILE);
        let folded = recover(&path, store, &apply)?;
        let file = crate::fsmode::options().create(true).append(true).open(&path).map_err(io_error(&path, "open"))?;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let (fold_tx, fold_rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Semaphore::new(MAX_BACKLOG));
        let (folded_tx, folded_rx) = watch::channel(folded);
        let (durable_tx, durable_rx) = watch::channel(folded);
        let writer = JournalWriter {
            path,
            file,
            len: 0,
            next_seq: folded + 1,
            folded: folded_rx.clone(),
            durable: durable_rx,
            fold_tx,
            budget: budget.clone(),
            waiter: tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| StoreError::Db(format!("cannot start the event journal: {e}")))?,
        };
        std::thread::Builder::new()
            .name("winback-journal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Db(format!("cannot start the event journal thread: {e}")))?;
        let folder = fold(fold_rx, budget, committer, apply, folded_tx, durable_tx);
        Ok((Journal { tx, folded: folded_rx }, folder))
    }

    /// Appends an event; returns once it is durable in the journal (and,
    /// when the journal is quiet, applied to the store).
    pub async fn append(&self, event: Event) -> Result<(), StoreError> {
        let (done, rx) = oneshot::channel();
        self.tx.send(Append { event, done }).await.map_err(|_| StoreError::Closed)?;
        let ack = rx.await.map_err(|_| StoreError::Closed)??;
        if ack.quiet {
            let mut folded = self.folded.clone();
            // The folder gone means shutdown: the event is durable anyway
            // and applied at the next start.
            let _ = folded.wait_for(|s| *s >= ack.seq).await;
        }
        Ok(())
    }
}

/// Applies journalled events past the store's mark; returns the mark.
fn recover(path: &Path, store: &Store, apply: &Apply) -> Result<u64, StoreError> {
    let folded = store.read()?.blob(FOLDED_KEY)?.map_or(0, |b| decode_seq(&b));
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(io_error(path, "read"))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(folded),
        Err(e) => return Err(io_error(path, "open")(e)),
    }
    let (records, end, bad) = parse(&bytes);
    if bad.is_none() && end < bytes.len() {
        tracing::warn!(
            "event journal {}: {} bytes at the end are an unfinished record (cut short by a crash, never acknowledged); dropped",
            path.display(),
            bytes.len() - end
        );
    }
    let (seqs, events): (Vec<u64>, Vec<Event>) = records.into_iter().filter(|(seq, _)| *seq > folded).unzip();
    for (seqs, events) in seqs.chunks(MAX_FOLD).zip(events.chunks(MAX_FOLD)) {
        let Some(&mark) = seqs.last() else { continue };
        store.write(|w| {
            apply(w, events)?;
            w.put_blob(FOLDED_KEY, &mark.to_le_bytes())
        })?;
    }
    let applied = events.len();
    let last = seqs.last().copied().unwrap_or(folded);
    if applied > 0 {
        tracing::info!(events = applied, "event journal: applied what the last run had not");
    }
    if let Some(offset) = bad {
        let aside = aside_name(path);
        tracing::error!(
            "event journal {}: the record at byte {offset} does not decode; the records before it are applied and the file is kept as {} for inspection",
            path.display(),
            aside.display()
        );
        std::fs::rename(path, &aside).map_err(io_error(path, "set aside"))?;
    } else {
        let f = OpenOptions::new().write(true).open(path).map_err(io_error(path, "open"))?;
        f.set_len(0).and_then(|()| f.sync_all()).map_err(io_error(path, "empty"))?;
    }
    Ok(last)
}

fn aside_name(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    path.with_extension(format!("journal.bad-{stamp}"))
}

fn decode_seq(b: &[u8]) -> u64 {
    b.try_into().map_or(0, u64::from_le_bytes)
}

/// The records of a journal file, where the intact ones end, and the
/// offset of a complete record that does not decode, if any.
fn parse(bytes: &[u8]) -> (Vec<(u64, Event)>, usize, Option<usize>) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc || payload.len() < 8 {
            // A torn write leaves a bad checksum; anything after it was
            // never acknowledged either.
            break;
        }
        let seq = decode_seq(&payload[..8]);
        match decode::<Event>("journal", &seq, &payload[8..]) {
            Ok(e) => out.push((seq, e)),
            Err(_) => return (out, at, Some(at)),
        }
        at += 8 + len;
    }
    (out, at, None)
}

fn push_record(buf: &mut Vec<u8>, seq: u64, e: &Event) {
    let mut payload = seq.to_le_bytes().to_vec();
    payload.extend_from_slice(&encode(e));
    buf.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
}

struct JournalWriter {
    path: PathBuf,
    file: File,
    len: u64,
    next_seq: u64,
    folded: watch::Receiver<u64>,
    /// The last sequence number the store has on disk.
    durable: watch::Receiver<u64>,
    fold_tx: mpsc::UnboundedSender<Vec<(u64, Event)>>,
    /// Room left in the folder's backlog, in events.
    budget: Arc<Semaphore>,
    /// Waits for `budget` on this thread.
    waiter: tokio::runtime::Runtime,
}

impl JournalWriter {
    fn run(mut self, mut rx: mpsc::Receiver<Append>) {
        let mut buf = Vec::new();
        while let Some(group) = super::group::recv_batch(&mut rx, MAX_GROUP) {
            self.write_group(group, &mut buf);
            self.maybe_truncate();
        }
    }

    fn write_group(&mut self, group: Vec<Append>, buf: &mut Vec<u8>) {
        buf.clear();
        let first = self.next_seq;
        for (i, a) in group.iter().enumerate() {
            push_record(buf, first + i as u64, &a.event);
        }
        let written = self.file.write_all(buf).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut off whatever part made it, so the file stays a clean
            // sequence of records; the callers see the error.
            let _ = self.file.set_len(self.len);
            let msg = format!("event journal {}: cannot write: {e}", self.path.display());
            tracing::error!("{msg}");
            for a in group {
                let _ = a.done.send(Err(StoreError::Db(msg.clone())));
            }
            return;
        }
        self.len += buf.len() as u64;
        self.next_seq += group.len() as u64;
        let last = self.next_seq - 1;
        let backlog = last - *self.folded.borrow();
        let quiet = group.len() as u64 <= QUIET && backlog <= QUIET;
        let mut events = Vec::with_capacity(group.len());
        let mut dones = Vec::with_capacity(group.len());
        for (i, a) in group.into_iter().enumerate() {
            events.push((first + i as u64, a.event));
            dones.push((first + i as u64, a.done));
        }
        // Waits while the folder is far behind: back-pressure on appends.
        let n = u32::try_from(events.len()).unwrap_or(u32::MAX);
        if let Ok(permit) = self.waiter.block_on(self.budget.acquire_many(n)) {
            permit.forget();
        }
        if self.fold_tx.send(events).is_err() {
            tracing::warn!("event journal: the folder has stopped; events stay in the journal for the next start");
        }
        for (seq, done) in dones {
            let _ = done.send(Ok(Ack { seq, quiet }));
        }
    }

    /// Empties the file once it has grown and everything in it is applied
    /// and on disk in the store.
    fn maybe_truncate(&mut self) {
        if self.len < TRUNCATE_AT || *self.durable.borrow() + 1 < self.next_seq {
            return;
        }
        // Not synced: if the truncation is lost in a crash, the records
        // are below the store's mark and skipped.
        match self.file.set_len(0) {
            Ok(()) => self.len = 0,
            Err(e) => tracing::warn!("event journal {}: cannot empty: {e}", self.path.display()),
        }
    }
}

/// Applies journalled groups to the store through the committer, as many
/// per transaction as have queued up, until the writer stops. Folds
/// commit without a sync of their own (the journal has the events); a
/// durable commit follows at least every [`SYNC_EVERY`] (sooner when the
/// journal goes idle), and only then may the journal be emptied.
async fn fold(
    mut rx: mpsc::UnboundedReceiver<Vec<(u64, Event)>>,
    budget: Arc<Semaphore>,
    committer: Committer,
    apply: Apply,
    folded: watch::Sender<u64>,
    durable: watch::Sender<u64>,
) {
    let mut synced = tokio::time::Instant::now();
    loop {
        let next = if *durable.borrow() < *folded.borrow() {
            let left = SYNC_EVERY.saturating_sub(synced.elapsed());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    sync(&committer, &folded, &durable).await;
                    synced = tokio::time::Instant::now();
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(mut events) = next else { break };
        while events.len() < MAX_FOLD {
            match rx.try_recv() {
                Ok(mut more) => events.append(&mut more),
                Err(_) => break,
            }
        }
        let Some(&(last, _)) = events.last() else { continue };
        let events: Arc<Vec<Event>> = Arc::new(events.into_iter().map(|(_, e)| e).collect());
        let mut wait = RETRY;
        loop {
            let (batch, apply) = (events.clone(), apply.clone());
            let job = committer.run_volatile(move |w| {
                apply(w, &batch)?;
                w.put_blob(FOLDED_KEY, &last.to_le_bytes())
            });
            match job.await {
                Ok(()) => break,
                Err(StoreError::Closed) => {
                    tracing::warn!("event journal: the store closed; unapplied events stay in the journal");
                    return;
                }
                Err(e) => {
                    tracing::error!(
                        "event journal: {} events not applied yet, retrying in {wait:?}: {e}",
                        events.len()
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
        folded.send_replace(last);
        budget.add_permits(events.len());
        if synced.elapsed() >= SYNC_EVERY {
            sync(&committer, &folded, &durable).await;
            synced = tokio::time::Instant::now();
        }
    }
    sync(&committer, &folded, &durable).await;
}

/// A durable commit: what was folded so far is on disk afterwards.
async fn sync(committer: &Committer, folded: &watch::Sender<u64>, durable: &watch::Sender<u64>) {
    let mark = *folded.borrow();
    if *durable.borrow() >= mark {
        return;
    }
    match committer.run(|_| Ok(())).await {
        Ok(()) => {
            durable.send_replace(mark);
        }
        Err(e) => tracing::warn!("event journal: store sync failed (retried with the next fold): {e}"),
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
