//! One daemon per state directory: `winback serve` takes an exclusive lock
//! on `state_dir/winback.pid` before it binds a socket or opens the store,
//! and writes its PID there. A second instance (started by hand next to
//! the systemd one, say) finds the lock held, names the running daemon's
//! PID and stops, having touched nothing. The lock goes with the process,
//! however it ends; the file stays (its PID is stale then, and harmless).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "winback.pid";

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds it.
    #[error(
        "another winback daemon{} is running on state directory {dir}; stop it first (systemctl stop winback), or give this one another state_dir",
        .pid.as_ref().map(|p| format!(" (PID {p})")).unwrap_or_default()
    )]
    Held {
        /// The state directory.
        dir: String,
        /// The running daemon's PID, as it wrote it.
        pid: Option<String>,
    },
    /// The file could not be made or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The held lock: released when dropped (or when the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the lock of `state_dir` (created, mode 0700, if missing) and
/// writes this process's PID into it.
pub fn acquire(state_dir: &Path) -> Result<InstanceLock, LockError> {
    let path = state_dir.join(LOCK_FILE);
    let io = |source| LockError::Io { path: path.display().to_string(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(state_dir).map_err(io)?;
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file.read_to_string(&mut text).ok().map(|_| text.trim().to_string()).filter(|p| !p.is_empty());
            return Err(LockError::Held { dir: state_dir.display().to_string(), pid });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).and_then(|_| file.seek(SeekFrom::Start(0))).map_err(io)?;
    writeln!(file, "{}", std::process::id()).and_then(|_| file.sync_all()).map_err(io)?;
    Ok(InstanceLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var");
        let held = acquire(&state).unwrap();
        let pid = std::process::id().to_string();
        assert_eq!(std::fs::read_to_string(held.path()).unwrap().trim(), pid);
        match acquire(&state) {
            Err(LockError::Held { pid: Some(p), .. }) => assert_eq!(p, pid),
            other => panic!("want Held with the PID, got {other:?}"),
        }
        drop(held);
        acquire(&state).expect("free again once released");
    }
}
