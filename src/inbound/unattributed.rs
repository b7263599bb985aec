//! Reports that could not be attributed to a message winback sent, kept
//! for inspection (`state_dir/unattributed`) for `[inbound]
//! keep_unattributed`, then removed.
//!
//! Such a report acted on nothing: it may be forged, or about mail that
//! did not come from winback, or name a recipient other than the one we
//! sent to. Each is kept as two files: `ID.eml`, the message exactly as
//! received, and `ID.json`, what was read from it ([`Kept`]), including
//! the envelope. `winback reports` lists them.
//!
//! Anyone can send such reports, so the daemon's folder is bounded: at most
//! as many reports and bytes as the spool holds (`spool_max_messages`,
//! `spool_max_bytes`); past either, the oldest go first. What is kept is
//! read from the folder once and then tracked in memory, so keeping and
//! pruning never list the folder again.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::SpoolLimits;
use crate::clock::Millis;

/// Why a report was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// It carries no token, no token header and no Message-ID of ours.
    NoProof,
    /// It carries a token that does not verify (made up or altered).
    BadToken,
    /// Its token or Message-ID verifies but names no message in the store.
    UnknownMessage,
    /// It is about one of our messages but names another recipient.
    OtherRecipient,
}

impl Why {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::NoProof => "no_proof",
            Why::BadToken => "bad_token",
            Why::UnknownMessage => "unknown_message",
            Why::OtherRecipient => "other_recipient",
        }
    }
}

/// What was read from an unattributed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattributed {
    /// `dsn`, `free_text`, `feedback`, `ses_notification`, `auto_reply` or
    /// `unsubscribe`.
    pub kind: String,
    /// The classified reason of the first recipient (`-` for an unsubscribe).
    pub reason: String,
    /// Why it was not acted on.
    pub why: Why,
    /// The addresses the report names (acted on: none).
    pub named: Vec<String>,
}

/// One kept report, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// Its id (file name without extension).
    pub id: String,
    /// When it was received.
    pub received_at: Millis,
    /// Envelope recipients.
    pub envelope: Vec<String>,
    /// What it was.
    #[serde(flatten)]
    pub report: Unattributed,
}

/// The folder of kept reports.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
    keep: Duration,
    bound: Option<SpoolLimits>,
    /// The kept reports, oldest first; read from the folder at first use.
    index: Arc<Mutex<Option<Index>>>,
}

/// The kept reports as `(received_at, id, bytes)`, and their total bytes.
#[derive(Debug, Default)]
struct Index {
    kept: VecDeque<(Millis, String, u64)>,
    bytes: u64,
}

impl Quarantine {
    /// Opens (creating, mode 0700) `dir`; reports are kept for `keep`.
    pub fn open(dir: impl Into<PathBuf>, keep: Duration) -> std::io::Result<Quarantine> {
        let dir = dir.into();
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        Ok(Quarantine { dir, keep, bound: None, index: Arc::default() })
    }

    /// Keeps at most `bound.max_messages` reports of `bound.max_bytes` in
    /// all, removing the oldest past either.
    pub fn bounded(mut self, bound: SpoolLimits) -> Quarantine {
        self.bound = Some(bound);
        self
    }

    /// Runs `f` on the index, reading the folder first if not yet done.
    fn with_index<R>(&self, f: impl FnOnce(&mut Index) -> std::io::Result<R>) -> std::io::Result<R> {
        let mut guard = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut index = match guard.take() {
            Some(index) => index,
            None => self.load()?,
        };
        let result = f(&mut index);
        *guard = Some(index);
        result
    }

    /// The index of what the folder holds.
    fn load(&self) -> std::io::Result<Index> {
        let mut index = Index::default();
        for k in self.list()? {
            let bytes = self.files(&k.id).iter().filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).sum();
            index.bytes += bytes;
            index.kept.push_back((k.received_at, k.id, bytes));
        }
        Ok(index)
    }

    /// The two files of a kept report.
    fn files(&self, id: &str) -> [PathBuf; 2] {
        ["eml", "json"].map(|ext| self.dir.join(format!("{id}.{ext}")))
    }

    /// Removes the oldest report of the index, files first.
    fn remove_oldest(&self, index: &mut Index) -> std::io::Result<()> {
        let Some((_, id, bytes)) = index.kept.front() else { return Ok(()) };
        for path in self.files(id) {
            match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        index.bytes = index.bytes.saturating_sub(*bytes);
        index.kept.pop_front();
        Ok(())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps a report: the message first, then its description, each
    /// written whole (mode 0600) before it appears under its name.
    pub fn keep(
        &self,
        id: &str,
        envelope: &[String],
        raw: &[u8],
        report: &Unattributed,
        now: Millis,
    ) -> std::io::Result<()> {
        let id = safe_id(id);
        let kept = Kept { id: id.clone(), received_at: now, envelope: envelope.to_vec(), report: report.clone() };
        let json = serde_json::to_vec_pretty(&kept).unwrap_or_default();
        self.with_index(|index| {
            self.write(&format!("{id}.eml"), raw)?;
            self.write(&format!("{id}.json"), &json)?;
            let bytes = (raw.len() + json.len()) as u64;
            index.bytes += bytes;
            index.kept.push_back((now, id, bytes));
            let Some(bound) = self.bound else { return Ok(()) };
            let mut evicted = 0usize;
            while index.kept.len() > 1 && (index.kept.len() > bound.max_messages || index.bytes > bound.max_bytes) {
                self.remove_oldest(index)?;
                evicted += 1;
            }
            if evicted > 0 {
                tracing::warn!(
                    evicted,
                    kept = index.kept.len(),
                    "unattributed reports at their bound (spool_max_messages, spool_max_bytes): oldest removed"
                );
            }
            Ok(())
        })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join(name))
    }

    /// The kept reports, oldest first. A description that does not parse
    /// is listed by id with its reason `unreadable`, not skipped.
    pub fn list(&self) -> std::io::Result<Vec<Kept>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json").filter(|_| !name.starts_with('.')) else { continue };
            let kept = fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice::<Kept>(&b).ok());
            out.push(kept.unwrap_or_else(|| Kept {
                id: id.to_string(),
                received_at: 0,
                envelope: Vec::new(),
                report: Unattributed {
                    kind: "-".into(),
                    reason: "unreadable".into(),
                    why: Why::NoProof,
                    named: Vec::new(),
                },
            }));
        }
        out.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(out)
    }

    /// The message of a kept report.
    pub fn message(&self, id: &str) -> std::io::Result<Vec<u8>> {
        fs::read(self.dir.join(format!("{}.eml", safe_id(id))))
    }

    /// Removes reports received more than `keep` before `now`; returns how
    /// many.
    pub fn prune(&self, now: Millis) -> std::io::Result<usize> {
        let keep = i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX);
        self.with_index(|index| {
            let mut n = 0;
            while index.kept.front().is_some_and(|(at, _, _)| now.saturating_sub(*at) > keep) {
                self.remove_oldest(index)?;
                n += 1;
            }
            Ok(n)
        })
    }
}

/// An id usable as a file name: anything but letters, digits, `.`, `-`
/// and `_` becomes `_`, and it never starts with a dot.
fn safe_id(id: &str) -> String {
    let s: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    match s.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None if s.is_empty() => "_".into(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(why: Why) -> Unattributed {
        Unattributed { kind: "dsn".into(), reason: "userunknown".into(), why, named: vec!["v@example.net".into()] }
    }

    #[test]
    fn keeps_lists_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(dir.path().join("u"), Duration::from_secs(10)).unwrap();
        q.keep("1.a", &["postmaster@b.example".into()], b"raw one", &report(Why::NoProof), 1_000).unwrap();
        q.keep("../2", &[], b"raw two", &report(Why::BadToken), 5_000).unwrap();
        let l = q.list().unwrap();
        assert_eq!(l.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["1.a", "_._2"]);
        assert_eq!(l[0].envelope, ["postmaster@b.example"]);
        assert_eq!(l[1].report.why, Why::BadToken);
        assert_eq!(q.message("1.a").unwrap(), b"raw one");
        // 12 s after the first: only it is older than 10 s.
        assert_eq!(q.prune(12_000).unwrap(), 1);
        assert_eq!(q.list().unwrap().len(), 1);
        assert!(q.message("1.a").is_err());
    }

    #[test]
    fn a_bounded_folder_keeps_the_newest_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u");
        let bound = SpoolLimits { max_messages: 3, max_bytes: 1 << 20 };
        let q = Quarantine::open(&path, Duration::from_secs(3600)).unwrap().bounded(bound);
        for i in 0..5 {
            q.keep(&format!("m{i}"), &[], b"forged", &report(Why::NoProof), 1_000 + i).unwrap();
        }
        let ids = |q: &Quarantine| q.list().unwrap().into_iter().map(|k| k.id).collect::<Vec<_>>();
        assert_eq!(ids(&q), ["m2", "m3", "m4"]);
        assert!(q.message("m0").is_err() && q.message("m1").is_err(), "files of the evicted removed");
        // A new process reads what is there and goes on from it; bytes too.
        let tight = SpoolLimits { max_messages: 100, max_bytes: 1 };
        let q = Quarantine::open(&path, Duration::from_secs(3600)).unwrap().bounded(tight);
        q.keep("m5", &[], b"forged", &report(Why::NoProof), 2_000).unwrap();
        assert_eq!(ids(&q), ["m5"], "past the byte bound only the newest stays");
        // Pruning goes by the index, oldest first.
        assert_eq!(q.prune(2_000 + 3_600_001).unwrap(), 1);
        assert!(ids(&q).is_empty());
    }
}
