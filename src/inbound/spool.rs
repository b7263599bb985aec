//! The durable inbound spool (`state_dir/inbound`): every received bounce is
//! written here before anyone says "accepted", so nothing is lost if the
//! daemon stops before processing it.
//!
//! Layout as in Maildir: a message is written to `tmp/`, fsynced, renamed
//! into `new/` (and the directory fsynced); the processor claims it by
//! renaming it into `cur/` and removes it when done. The spool is bounded
//! by a message count and a byte total; past either, [`Spool::write`]
//! refuses with [`SpoolError::Full`] so callers answer with a temporary
//! failure and the sender retries. The folders are counted at the first
//! write, every [`RECOUNT_EVERY`] writes after, and whenever a write would
//! pass a limit; in between each write adds itself to the count, so a
//! backlog does not make every write list the folders again.
//!
//! The envelope travels apart from the message and is never parsed out of
//! it: a file is a header line `WINBACK-SPOOL 1 <n>`, then `<n>` bytes of
//! JSON (`{"rcpt":[…]}`), then the message bytes exactly as received. The
//! length is written by the spool, so nothing inside a message can pass
//! for envelope. Files from earlier versions (envelope as leading
//! `X-Winback-Rcpt:` lines, [`LEGACY_RCPT_HEADER`]) are still read, those
//! lines taken off the message; only files spooled before an upgrade are
//! in that form. A file that starts like the header but does not parse is
//! moved to `bad/` for inspection and reported as [`SpoolError::Corrupt`].

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::config::SpoolLimits;

/// The envelope header of files written by earlier versions (one line per
/// recipient before the message); read, never written.
pub const LEGACY_RCPT_HEADER: &str = "X-Winback-Rcpt";

/// The first bytes of every spool file: `WINBACK-SPOOL 1 <n>\n`.
const MAGIC: &[u8] = b"WINBACK-SPOOL 1 ";
/// Longest header line.
const MAX_HEADER_LINE: usize = 64;
/// Folder for files that cannot be read as spool entries.
const BAD: &str = "bad";

/// The envelope as stored before the message.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEnvelope {
    rcpt: Vec<String>,
}

/// Why the spool did not take or give a message.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Over the configured count or size: try again later.
    #[error("inbound spool is full ({messages} messages, {bytes} bytes waiting; limits {max_messages} / {max_bytes})")]
    Full {
        /// Messages waiting.
        messages: usize,
        /// Bytes waiting.
        bytes: u64,
        /// Configured count limit.
        max_messages: usize,
        /// Configured byte limit.
        max_bytes: u64,
    },
    /// A file operation failed.
    #[error("inbound spool {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A name that is not one of ours.
    #[error("inbound spool: `{0}` is not a spool entry name")]
    BadId(String),
    /// A spool file whose envelope header cannot be read; it was moved
    /// aside so the rest of the spool goes on.
    #[error("inbound spool {path}: unreadable envelope ({reason}); the file was moved to {moved_to} for inspection")]
    Corrupt {
        /// The file as claimed.
        path: String,
        /// What is wrong.
        reason: String,
        /// Where it is now.
        moved_to: String,
    },
}

/// A spooled message, by file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpoolId(String);

impl SpoolId {
    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SpoolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message claimed for processing.
#[derive(Debug)]
pub struct Claimed {
    /// Its id.
    pub id: SpoolId,
    /// Envelope recipients, as given to [`Spool::write`] (RCPT TO).
    pub envelope: Vec<String>,
    /// The message exactly as received.
    pub raw: Vec<u8>,
}

/// Writes between two counts of the folders. Other processes (`winback
/// ingest`) write too: their messages are seen at the next count, so the
/// bounds may be passed by what they wrote since.
pub const RECOUNT_EVERY: u32 = 256;

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    usage: Mutex<Usage>,
}

/// Messages and bytes waiting, as last counted plus this process's writes since.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    messages: usize,
    bytes: u64,
    /// Writes since the count; `None` before the first count.
    since_count: Option<u32>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.display().to_string(), source }
}

impl Spool {
    /// Opens (creating) the spool at `dir` (`state_dir/inbound`).
    pub fn open(dir: impl Into<PathBuf>, limits: SpoolLimits) -> Result<Spool, SpoolError> {
        let dir = dir.into();
        for sub in ["tmp", "new", "cur"] {
            let p = dir.join(sub);
            crate::fsmode::create_dir_all(&p).map_err(io(&p))?;
        }
        Ok(Spool { dir, limits, usage: Mutex::default() })
    }

    /// The spool folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Messages and bytes waiting (in `new/` and `cur/`).
    pub fn usage(&self) -> Result<(usize, u64), SpoolError> {
        let (mut n, mut bytes) = (0usize, 0u64);
        for sub in ["new", "cur"] {
            let p = self.dir.join(sub);
            for e in fs::read_dir(&p).map_err(io(&p))?.flatten() {
                n += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok((n, bytes))
    }

    /// Writes a message durably into `new/`: refused with
    /// [`SpoolError::Full`] when over the limits.
    pub fn write(&self, envelope: &[String], message: &[u8]) -> Result<SpoolId, SpoolError> {
        let size = message.len() as u64;
        self.reserve(size)?;
        let name = format!(
            "{}.{}_{}.{:08x}",
            chrono::Utc::now().timestamp_millis(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let tmp = self.dir.join("tmp").join(&name);
        let result = (|| {
            let mut f = crate::fsmode::options().write(true).create_new(true).open(&tmp).map_err(io(&tmp))?;
            f.write_all(&header(envelope)).map_err(io(&tmp))?;
            f.write_all(message).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            let dest = self.dir.join("new").join(&name);
            fs::rename(&tmp, &dest).map_err(io(&dest))?;
            sync_dir(&self.dir.join("new"))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
            let mut u = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
            u.messages = u.messages.saturating_sub(1);
            u.bytes = u.bytes.saturating_sub(size);
        }
        result.map(|()| SpoolId(name))
    }

    /// Counts a message of `size` bytes in, or refuses it when the spool is
    /// full (counting the folders again before refusing).
    fn reserve(&self, size: u64) -> Result<(), SpoolError> {
        let mut u = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        let recount = |u: &mut Usage| -> Result<(), SpoolError> {
            let (messages, bytes) = self.usage()?;
            *u = Usage { messages, bytes, since_count: Some(0) };
            Ok(())
        };
        let stale = u.since_count.is_none_or(|n| n >= RECOUNT_EVERY);
        if stale {
            recount(&mut u)?;
        }
        let over =
            |u: &Usage| u.messages >= self.limits.max_messages || u.bytes.saturating_add(size) > self.limits.max_bytes;
        if over(&u) && !stale {
            // Others may have been processed since the count.
            recount(&mut u)?;
        }
        if over(&u) {
            return Err(SpoolError::Full {
                messages: u.messages,
                bytes: u.bytes,
                max_messages: self.limits.max_messages,
                max_bytes: self.limits.max_bytes,
            });
        }
        u.messages += 1;
        u.bytes = u.bytes.saturating_add(size);
        u.since_count = u.since_count.map(|n| n + 1);
        Ok(())
    }

    /// Messages waiting in `new/`, oldest first.
    pub fn list(&self) -> Result<Vec<SpoolId>, SpoolError> {
        self.names("new")
    }

    /// Messages claimed but not removed (left over from a stop): to be
    /// processed again at start.
    pub fn claimed(&self) -> Result<Vec<SpoolId>, SpoolError> {
        self.names("cur")
    }

    fn names(&self, sub: &str) -> Result<Vec<SpoolId>, SpoolError> {
        let p = self.dir.join(sub);
        let mut v: Vec<SpoolId> = fs::read_dir(&p)
            .map_err(io(&p))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .map(SpoolId)
            .collect();
        v.sort();
        Ok(v)
    }

    /// Claims a message: moves it to `cur/` and reads it. A message already
    /// in `cur/` (claimed before a stop) is read as it is.
    pub fn claim(&self, id: &SpoolId) -> Result<Claimed, SpoolError> {
        check_id(id)?;
        let cur = self.dir.join("cur").join(&id.0);
        let new = self.dir.join("new").join(&id.0);
        if new.exists() {
            fs::rename(&new, &cur).map_err(io(&cur))?;
        }
        let file = fs::read(&cur).map_err(io(&cur))?;
        match split(file) {
            Ok((envelope, raw)) => Ok(Claimed { id: id.clone(), envelope, raw }),
            Err(reason) => Err(self.quarantine(id, &cur, reason)),
        }
    }

    /// Moves an unreadable file to `bad/`; the error says where it went.
    fn quarantine(&self, id: &SpoolId, cur: &Path, reason: String) -> SpoolError {
        let bad = self.dir.join(BAD);
        let dest = bad.join(&id.0);
        let moved = fs::create_dir_all(&bad).and_then(|()| fs::rename(cur, &dest));
        let moved_to = match moved {
            Ok(()) => dest.display().to_string(),
            Err(e) => format!("nowhere (cannot move it: {e}; remove {} by hand)", cur.display()),
        };
        SpoolError::Corrupt { path: cur.display().to_string(), reason, moved_to }
    }

    /// Removes a processed message.
    pub fn remove(&self, id: &SpoolId) -> Result<(), SpoolError> {
        check_id(id)?;
        let cur = self.dir.join("cur").join(&id.0);
        match fs::remove_file(&cur) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&cur)(e)),
            _ => Ok(()),
        }
    }
}

fn check_id(id: &SpoolId) -> Result<(), SpoolError> {
    if id.0.is_empty() || id.0.contains(['/', '\\']) || id.0.starts_with('.') {
        return Err(SpoolError::BadId(id.0.clone()));
    }
    Ok(())
}

/// The header line and envelope written before a message.
fn header(envelope: &[String]) -> Vec<u8> {
    let json = serde_json::to_vec(&StoredEnvelope { rcpt: envelope.to_vec() }).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(format!("{}\n", json.len()).as_bytes());
    out.extend_from_slice(&json);
    out
}

/// Splits a spool file into envelope and message.
fn split(mut file: Vec<u8>) -> Result<(Vec<String>, Vec<u8>), String> {
    if !file.starts_with(MAGIC) {
        return Ok(split_legacy(file));
    }
    let line_end = file
        .iter()
        .take(MAX_HEADER_LINE)
        .position(|&b| b == b'\n')
        .ok_or_else(|| format!("no end of the header line in the first {MAX_HEADER_LINE} bytes"))?;
    let len: usize = std::str::from_utf8(file.get(MAGIC.len()..line_end).unwrap_or_default())
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or("the header line has no envelope length")?;
    let json_end =
        (line_end + 1).checked_add(len).filter(|&e| e <= file.len()).ok_or("the file ends inside the envelope")?;
    let json = file.get(line_end + 1..json_end).unwrap_or_default();
    let env: StoredEnvelope = serde_json::from_slice(json).map_err(|e| format!("envelope: {e}"))?;
    file.drain(..json_end);
    Ok((env.rcpt, file))
}

/// A file of an earlier version: leading `X-Winback-Rcpt:` lines are the
/// envelope and are taken off the message.
fn split_legacy(mut file: Vec<u8>) -> (Vec<String>, Vec<u8>) {
    let prefix = format!("{LEGACY_RCPT_HEADER}:");
    let (mut out, mut at) = (Vec::new(), 0);
    while let Some(rest) = file.get(at..) {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else { break };
        let line = String::from_utf8_lossy(rest.get(..end).unwrap_or_default());
        match line.get(..prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(&prefix) => {
                out.push(line.get(prefix.len()..).unwrap_or("").trim().to_string());
                at += end + 1;
            }
            _ => break,
        }
    }
    file.drain(..at);
    (out, file)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_list_claim_remove_and_bounds() {
        let t = tempfile::tempdir().unwrap();
        let s = Spool::open(t.path().join("inbound"), SpoolLimits { max_messages: 2, max_bytes: 1 << 20 }).unwrap();
        let a = s.write(&["bounces+abc@b.example.org".into()], b"Subject: a\r\n\r\nx\r\n").unwrap();
        let b = s.write(&[], b"Subject: b\r\n\r\ny\r\n").unwrap();
        assert!(matches!(s.write(&[], b"c"), Err(SpoolError::Full { messages: 2, .. })));
        assert_eq!(s.list().unwrap(), vec![a.clone(), b.clone()]);
        let c = s.claim(&a).unwrap();
        assert_eq!(c.envelope, vec!["bounces+abc@b.example.org"]);
        assert!(c.raw.ends_with(b"x\r\n"));
        assert_eq!(s.claimed().unwrap(), vec![a.clone()]);
        s.remove(&a).unwrap();
        assert_eq!(s.usage().unwrap().0, 1);
        assert!(s.claim(&SpoolId("../x".into())).is_err());
        let big = Spool::open(t.path().join("i2"), SpoolLimits { max_messages: 9, max_bytes: 10 }).unwrap();
        assert!(matches!(big.write(&[], &[b'x'; 11]), Err(SpoolError::Full { .. })));
        assert!(t.path().join("i2/tmp").read_dir().unwrap().next().is_none());
    }

    #[test]
    fn writes_count_themselves_and_the_folders_are_counted_again_before_a_refusal() {
        let t = tempfile::tempdir().unwrap();
        let limits = SpoolLimits { max_messages: 3, max_bytes: 1 << 20 };
        let s = Spool::open(t.path(), limits).unwrap();
        // Another process writing into the same folder (`winback ingest`).
        let other = Spool::open(t.path(), limits).unwrap();
        let a = s.write(&[], b"a").unwrap();
        other.write(&[], b"b").unwrap();
        let c = s.write(&[], b"c").unwrap();
        // `s` has counted its own two: the other's write is seen at the next
        // count, which comes before any refusal.
        s.write(&[], b"d").unwrap();
        assert!(matches!(s.write(&[], b"e"), Err(SpoolError::Full { messages: 4, .. })));
        // The other process counts the folders at its first write.
        let fresh = Spool::open(t.path(), limits).unwrap();
        assert!(matches!(fresh.write(&[], b"f"), Err(SpoolError::Full { messages: 4, .. })));
        // Processed meanwhile: the next write counts again and goes in.
        for id in [&a, &c] {
            s.claim(id).unwrap();
            s.remove(id).unwrap();
        }
        s.write(&[], b"g").unwrap();
        assert_eq!(s.usage().unwrap().0, 3);
    }

    #[test]
    fn the_message_cannot_pass_for_envelope() {
        let t = tempfile::tempdir().unwrap();
        let s = Spool::open(t.path(), SpoolLimits::default()).unwrap();
        let forged: &[u8] = b"X-Winback-Rcpt: bounces+victim@b.example.org\r\nWINBACK-SPOOL 1 2\n{}Subject: x\r\n\r\n";
        for (envelope, message) in [(vec!["real@b.example.org".to_string()], forged), (vec![], forged)] {
            let id = s.write(&envelope, message).unwrap();
            let c = s.claim(&id).unwrap();
            assert_eq!(c.envelope, envelope);
            assert_eq!(c.raw, message, "the message exactly as received");
        }
        let odd = vec!["a\r\nX-Winback-Rcpt: b@c".to_string(), "\"}{".to_string()];
        let id = s.write(&odd, b"m").unwrap();
        assert_eq!(s.claim(&id).unwrap().envelope, odd, "any recipient text round-trips");
    }

    #[test]
    fn reads_files_of_earlier_versions_and_sets_broken_ones_aside() {
        let t = tempfile::tempdir().unwrap();
        let s = Spool::open(t.path(), SpoolLimits::default()).unwrap();
        let legacy = b"X-Winback-Rcpt: bounces+a@b.example.org\r\nx-winback-rcpt: c@b.example.org\r\nSubject: s\r\n\r\nX-Winback-Rcpt: d@e\r\n";
        std::fs::write(t.path().join("new/1.old"), legacy).unwrap();
        let c = s.claim(&SpoolId("1.old".into())).unwrap();
        assert_eq!(c.envelope, vec!["bounces+a@b.example.org", "c@b.example.org"]);
        assert_eq!(c.raw, b"Subject: s\r\n\r\nX-Winback-Rcpt: d@e\r\n");
        for (name, bytes) in [("2.cut", &b"WINBACK-SPOOL 1 999\n{}"[..]), ("3.json", b"WINBACK-SPOOL 1 2\n[]x")] {
            std::fs::write(t.path().join("new").join(name), bytes).unwrap();
            let e = s.claim(&SpoolId(name.into())).unwrap_err();
            assert!(matches!(e, SpoolError::Corrupt { .. }), "{e}");
            assert!(t.path().join("bad").join(name).exists(), "{e}");
        }
        assert!(s.claimed().unwrap() == vec![SpoolId("1.old".into())], "broken files left cur/");
    }
}
