//! Sorting an events file by contact before it is recorded.
//!
//! Shop exports list orders by date, so one customer's orders are spread
//! through the file. Recorded in that order, every batch would read and
//! rewrite a contact for nearly every row, all over the store. Sorted by
//! address (each contact's events kept in file order), a contact is read
//! and written once, and the store's per-address tables are written front
//! to back.
//!
//! Up to [`ByContact::new`]'s limit of events are sorted in memory; a
//! larger file is cut into sorted runs written to unnamed temporary files
//! (in `$TMPDIR`, removed as soon as they are created, so nothing is left
//! behind even by a crash) and merged.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use crate::domain::Event;
use crate::store::event_codec;

/// Events gathered in file order, handed back by address.
pub struct ByContact {
    chunk: Vec<Event>,
    limit: usize,
    runs: Vec<BufReader<File>>,
    dir: PathBuf,
}

impl ByContact {
    /// Keeps at most `limit` events in memory.
    pub fn new(limit: usize) -> Self {
        ByContact { chunk: Vec::new(), limit: limit.max(1), runs: Vec::new(), dir: std::env::temp_dir() }
    }

    /// Adds the next event of the file.
    pub fn push(&mut self, e: Event) -> io::Result<()> {
        self.chunk.push(e);
        if self.chunk.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// How many runs went to disk (0: the file was sorted in memory).
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Every event, by address; each contact's in the order pushed.
    pub fn finish(mut self) -> io::Result<Merged> {
        let chunk = by_address(std::mem::take(&mut self.chunk));
        let mut sources: Vec<Source> = self.runs.into_iter().map(Source::Run).collect();
        sources.push(Source::Memory(chunk.into_iter()));
        let mut merged = Merged { heads: sources.iter().map(|_| None).collect(), sources, heap: BinaryHeap::new() };
        for i in 0..merged.sources.len() {
            let head = merged.sources[i].next()?;
            merged.set_head(i, head);
        }
        Ok(merged)
    }

    /// Sorts the events in memory (stable: a contact's keep their order)
    /// and writes them to a new run.
    fn spill(&mut self) -> io::Result<()> {
        let chunk = by_address(std::mem::take(&mut self.chunk));
        let mut file = temp_file(&self.dir)?;
        {
            let mut out = BufWriter::new(&mut file);
            let mut buf = Vec::with_capacity(128);
            for e in chunk {
                buf.clear();
                event_codec::encode_into(&e, &mut buf);
                let len = u32::try_from(buf.len())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "an event of over 4 GiB"))?;
                out.write_all(&len.to_le_bytes())?;
                out.write_all(&buf)?;
            }
            out.flush()?;
        }
        file.rewind()?;
        self.runs.push(BufReader::with_capacity(64 << 10, file));
        Ok(())
    }
}

/// The events sorted by address, each contact's in the order given. Sorts
/// positions, not the events themselves, which are large to move.
fn by_address(chunk: Vec<Event>) -> Vec<Event> {
    let mut order: Vec<usize> = (0..chunk.len()).collect();
    order.sort_unstable_by(|&a, &b| chunk[a].email.cmp(&chunk[b].email).then(a.cmp(&b)));
    let mut slots: Vec<Option<Event>> = chunk.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// A new file in `dir` that has no name: it lives as long as the handle.
fn temp_file(dir: &std::path::Path) -> io::Result<File> {
    for attempt in 0u32..100 {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(".winback-events-{}-{nanos}-{attempt}", std::process::id()));
        match OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("temporary file in {}: {e}", dir.display()))),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("no free temporary file name in {}", dir.display())))
}

enum Source {
    Run(BufReader<File>),
    Memory(std::vec::IntoIter<Event>),
}

impl Source {
    fn next(&mut self) -> io::Result<Option<Event>> {
        match self {
            Source::Memory(it) => Ok(it.next()),
            Source::Run(r) => {
                let mut len = [0u8; 4];
                match r.read_exact(&mut len) {
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                    other => other?,
                }
                let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
                r.read_exact(&mut buf)?;
                event_codec::decode(&buf).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
}

/// The sorted runs merged: events by address, ties in run order (runs
/// follow the file), so each contact's events come in file order.
pub struct Merged {
    sources: Vec<Source>,
    heads: Vec<Option<Event>>,
    heap: BinaryHeap<Reverse<(String, usize)>>,
}

impl Merged {
    fn set_head(&mut self, i: usize, head: Option<Event>) {
        if let Some(e) = &head {
            self.heap.push(Reverse((e.email.clone(), i)));
        }
        self.heads[i] = head;
    }
}

impl Iterator for Merged {
    type Item = io::Result<Event>;

    fn next(&mut self) -> Option<io::Result<Event>> {
        let Reverse((_, i)) = self.heap.pop()?;
        let e = self.heads[i].take()?;
        match self.sources[i].next() {
            Ok(head) => self.set_head(i, head),
            Err(err) => return Some(Err(err)),
        }
        Some(Ok(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventKind;

    fn ev(email: &str, at: i64) -> Event {
        Event {
            value: Some(at as f64 / 2.0),
            reference: Some(format!("o{at}")),
            ..Event::new(email, EventKind::Purchase, at)
        }
    }

    /// The same events through memory only and through many small runs.
    #[test]
    fn sorts_by_address_keeping_each_contacts_order() {
        // Addresses cycle, times rise through the file: a date-sorted export.
        let names = ["d@x.org", "a@x.org", "c@x.org", "a@x.org", "b@x.org", "d@x.org", "a@x.org"];
        let events: Vec<Event> = (0..700).map(|i| ev(names[i % names.len()], i as i64)).collect();
        for limit in [1, 3, 64, 10_000] {
            let mut s = ByContact::new(limit);
            for e in events.iter().cloned() {
                s.push(e).unwrap();
            }
            assert_eq!(s.runs() > 0, limit < events.len(), "limit {limit}");
            let out: Vec<Event> = s.finish().unwrap().map(Result::unwrap).collect();
            // Nothing lost or added, and every field kept.
            let mut want = events.clone();
            want.sort_by(|a, b| a.email.cmp(&b.email).then(a.at.cmp(&b.at)));
            assert_eq!(out, want, "limit {limit}");
        }
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert_eq!(ByContact::new(5).finish().unwrap().count(), 0);
    }
}
