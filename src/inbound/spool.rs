//! The durable inbound spool (`state_dir/inbound`): every received bounce is
//! written here before anyone says "accepted", so nothing is lost if the
//! daemon stops before processing it.
//!
//! Layout as in Maildir: a message is written to `tmp/`, fsynced, renamed
//! into `new/` (and the directory fsynced); the processor claims it by
//! renaming it into `cur/` and removes it when done. The envelope
//! recipients travel inside the file as prepended `X-Winback-Rcpt:` header
//! lines. The spool is bounded by a message count and a byte total; past
//! either, [`Spool::write`] refuses with [`SpoolError::Full`] so callers
//! answer with a temporary failure and the sender retries.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::config::SpoolLimits;

/// The header prepended for each envelope recipient.
pub const RCPT_HEADER: &str = "X-Winback-Rcpt";

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
    /// Envelope recipients from the `X-Winback-Rcpt` lines.
    pub envelope: Vec<String>,
    /// The whole file (with the `X-Winback-Rcpt` lines).
    pub raw: Vec<u8>,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
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
        Ok(Spool { dir, limits })
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
        let (messages, bytes) = self.usage()?;
        let size = message.len() as u64;
        if messages >= self.limits.max_messages || bytes.saturating_add(size) > self.limits.max_bytes {
            return Err(SpoolError::Full {
                messages,
                bytes,
                max_messages: self.limits.max_messages,
                max_bytes: self.limits.max_bytes,
            });
        }
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
            let mut head = String::new();
            for r in envelope {
                // Header injection guard: one clean address per line.
                let clean: String = r.chars().filter(|c| !c.is_control()).collect();
                head.push_str(&format!("{RCPT_HEADER}: {clean}\r\n"));
            }
            f.write_all(head.as_bytes()).map_err(io(&tmp))?;
            f.write_all(message).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            let dest = self.dir.join("new").join(&name);
            fs::rename(&tmp, &dest).map_err(io(&dest))?;
            sync_dir(&self.dir.join("new"))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| SpoolId(name))
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
        let raw = fs::read(&cur).map_err(io(&cur))?;
        Ok(Claimed { id: id.clone(), envelope: envelope_of(&raw), raw })
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

/// The `X-Winback-Rcpt` values at the top of a spooled file.
pub fn envelope_of(raw: &[u8]) -> Vec<String> {
    let prefix = format!("{RCPT_HEADER}:");
    let mut out = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        match line.get(..prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(&prefix) => {
                out.push(line.get(prefix.len()..).unwrap_or("").trim().to_string());
            }
            _ => break,
        }
    }
    out
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
}
