//! File modes of winback's state: everything it creates under `state_dir`
//! (the store, the event journal, the inbound spool, the Maildir outbox,
//! the token secret, the admin socket) is private to its user, files 0600
//! and directories 0700, whatever the umask it was started with.
//!
//! Two layers: [`restrict_umask`] at the start of every command (so a file
//! made by a library, like the redb store or the admin socket, is private
//! from the moment it exists, with no chmod race), and explicit modes
//! ([`create_dir_all`], [`options`]) where winback makes files itself.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Mode of the files winback creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the directories winback creates.
pub const DIR_MODE: u32 = 0o700;

/// Adds group and other to the process umask (never loosens it), so that
/// anything created from now on, by winback or a library, has no group or
/// other permissions.
#[allow(unsafe_code)]
pub fn restrict_umask() {
    // SAFETY: umask(2) cannot fail and touches no memory; it only sets the
    // process-wide creation mask, which is what this function is for.
    let old = unsafe { libc::umask(0o077) };
    let wanted = old | 0o077;
    if wanted != 0o077 {
        // SAFETY: as above.
        unsafe { libc::umask(wanted) };
    }
}

/// `create_dir_all` with every directory it creates at mode 0700.
pub fn create_dir_all(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(path)
}

/// Open options that create files at mode 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates `path` empty at mode 0600 if it does not exist yet (for files a
/// library opens afterwards with its own default mode).
pub fn precreate(path: &Path) -> std::io::Result<()> {
    match options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn explicit_modes_are_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&t.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("f");
        options().write(true).create(true).truncate(true).open(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let g = dir.join("g");
        precreate(&g).unwrap();
        precreate(&g).unwrap();
        assert_eq!(mode(&g), 0o600);
    }
}
