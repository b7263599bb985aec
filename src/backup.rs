//! Backups of a state directory, and restoring one.
//!
//! A backup is a directory holding what a daemon needs to go on where the
//! backup was taken: the event journal (copied first), a consistent copy
//! of the store (one snapshot, taken while sending goes on), the signing
//! keys (so links in mail already sent keep working), the inbound spool
//! and the quarantine of unattributed reports, and a manifest
//! (`BACKUP.json`). The journal is copied before the snapshot, so every
//! event acknowledged before the backup started is in one or the other;
//! at the restored daemon's start the journal applies what the snapshot
//! lacks, and nothing twice (its records carry sequence numbers).
//!
//! A restore refuses while a daemon runs on the state directory, checks
//! the backup's store first, and moves what the state directory held
//! aside (`replaced-<time>/`) instead of deleting it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError, TableRows};

/// The manifest's file name in a backup.
pub const MANIFEST: &str = "BACKUP.json";
/// The store's file name (in a state directory and in a backup).
const STORE_FILE: &str = "winback.redb";
/// Files copied as they are, when present.
const FILES: [&str; 2] = [crate::store::JOURNAL_FILE, crate::token::keyring::KEYS_FILE];
/// Directories copied as they are, when present.
const DIRS: [&str; 2] = ["inbound", "unattributed"];

/// Backup and restore failures.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store could not be copied or checked.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be copied.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The destination or source is not usable; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version of the backup.
    pub format: u32,
    /// winback's version that wrote it.
    pub version: String,
    /// When the backup started (Unix milliseconds).
    pub taken_at: i64,
    /// Rows copied per store table.
    pub rows: TableRows,
    /// Other files copied (relative paths).
    pub files: Vec<String>,
}

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::Io { path, what, source }
}

/// Takes a backup of `state_dir`, whose store is `store`, into `dest`
/// (a new directory, or an empty one).
pub fn backup(store: &Store, state_dir: &Path, dest: &Path, now: i64) -> Result<Manifest, BackupError> {
    prepare_dest(dest)?;
    let mut files = Vec::new();
    // The journal first: see the module documentation.
    for name in FILES {
        if copy_file(&state_dir.join(name), &dest.join(name))? {
            files.push(name.to_string());
        }
    }
    let rows = store.snapshot_to(&dest.join(STORE_FILE))?;
    for name in DIRS {
        copy_dir(&state_dir.join(name), &dest.join(name), name, &mut files)?;
    }
    let manifest = Manifest { format: 1, version: env!("CARGO_PKG_VERSION").into(), taken_at: now, rows, files };
    let path = dest.join(MANIFEST);
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    write_synced(&path, &body)?;
    Ok(manifest)
}

/// Reads a backup's manifest.
pub fn manifest(src: &Path) -> Result<Manifest, BackupError> {
    let path = src.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| {
        BackupError::Refused(format!(
            "{}: not a winback backup ({}: {e}); give the directory `winback backup` wrote",
            src.display(),
            MANIFEST
        ))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::Refused(format!("{}: unreadable manifest: {e}", path.display())))
}

/// Restores the backup `src` into `state_dir`, which no daemon may be
/// using (the caller holds the instance lock). What `state_dir` held is
/// moved into a `replaced-<now>` directory inside it, which is returned.
pub fn restore(src: &Path, state_dir: &Path, now: i64) -> Result<(Manifest, Option<PathBuf>), BackupError> {
    let manifest = manifest(src)?;
    let report = Store::open(src)?.check()?;
    if !report.is_clean() {
        return Err(BackupError::Refused(format!(
            "{}: the backup's store has {} problems (first: {}); nothing restored",
            src.display(),
            report.problem_count,
            report.problems.first().map_or("", String::as_str)
        )));
    }
    crate::fsmode::create_dir_all(state_dir).map_err(io(state_dir, "create"))?;
    let aside = state_dir.join(format!("replaced-{now}"));
    let mut moved = false;
    for name in [STORE_FILE].into_iter().chain(FILES).chain(DIRS) {
        let from = state_dir.join(name);
        if from.exists() {
            crate::fsmode::create_dir_all(&aside).map_err(io(&aside, "create"))?;
            std::fs::rename(&from, aside.join(name)).map_err(io(&from, "move aside"))?;
            moved = true;
        }
    }
    copy_file(&src.join(STORE_FILE), &state_dir.join(STORE_FILE))?;
    for name in FILES {
        copy_file(&src.join(name), &state_dir.join(name))?;
    }
    let mut files = Vec::new();
    for name in DIRS {
        copy_dir(&src.join(name), &state_dir.join(name), name, &mut files)?;
    }
    Ok((manifest, moved.then_some(aside)))
}

/// Refuses a destination that exists and is not an empty directory.
pub fn check_dest(dest: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(dest).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(BackupError::Refused(format!(
            "{}: not empty; a backup goes into a new or empty directory",
            dest.display()
        ))),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(dest, "open")(e)),
    }
}

fn prepare_dest(dest: &Path) -> Result<(), BackupError> {
    check_dest(dest)?;
    crate::fsmode::create_dir_all(dest).map_err(io(dest, "create"))
}

/// Copies a regular file with a private mode and syncs it; `false` when
/// `from` does not exist.
fn copy_file(from: &Path, to: &Path) -> Result<bool, BackupError> {
    let bytes = match std::fs::read(from) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(from, "read")(e)),
    };
    write_synced(to, &bytes)?;
    Ok(true)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let mut f = crate::fsmode::options().write(true).create_new(true).open(path).map_err(io(path, "create"))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(path, "write"))
}

/// Copies a directory tree of regular files (files that vanish meanwhile,
/// like a spool entry just processed, are skipped).
fn copy_dir(from: &Path, to: &Path, rel: &str, files: &mut Vec<String>) -> Result<(), BackupError> {
    let entries = match std::fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(from, "list")(e)),
    };
    crate::fsmode::create_dir_all(to).map_err(io(to, "create"))?;
    for entry in entries {
        let entry = entry.map_err(io(from, "list"))?;
        let name = entry.file_name();
        let sub = format!("{rel}/{}", name.to_string_lossy());
        let kind = entry.file_type().map_err(io(&entry.path(), "stat"))?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(&name), &sub, files)?;
        } else if kind.is_file() && copy_file(&entry.path(), &to.join(&name))? {
            files.push(sub);
        }
    }
    Ok(())
}
