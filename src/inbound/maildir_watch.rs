//! Watches a Maildir where bounces are delivered (for setups whose bounce
//! address is an ordinary mailbox): each file in `new/` is copied durably
//! into the spool, then moved to `cur/` so it is taken only once. Polling
//! at a configured interval; a full spool leaves files in `new/` for the
//! next round; a Maildir whose `new/` is not made yet is empty. A file
//! larger than `[inbound] max_message_size` is never read: it is moved to
//! `too-large/` beside `new/` with a warning, as the SMTP listener would
//! have refused it, so that it cannot hold up the files behind it. A Maildir
//! or spool that stays unusable for [`GIVE_UP_AFTER`] rounds in a row ends
//! the watch with an error, for the daemon's supervisor.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::spool::{Spool, SpoolError};
use crate::rounds::{GaveUp, Rounds};

/// The folder, beside `new/` and `cur/`, for files over the size limit.
pub const TOO_LARGE: &str = "too-large";

/// Moves every message in `maildir/new` into the spool; returns how many.
/// Stops early (keeping the rest) when the spool is full. Files over
/// `max_size` bytes go to [`TOO_LARGE`] unread.
pub fn scan_once(maildir: &Path, spool: &Spool, max_size: u64) -> Result<usize, SpoolError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| SpoolError::Io { path, source }
    };
    let new = maildir.join("new");
    let cur = maildir.join("cur");
    crate::fsmode::create_dir_all(&cur).map_err(io(&cur))?;
    let entries = match std::fs::read_dir(&new) {
        Ok(d) => d,
        // Not made yet (an MDA makes it at the first delivery): nothing to take.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(&new)(e)),
    };
    let mut names: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    names.sort();
    let mut moved = 0;
    for name in names {
        let src = new.join(&name);
        let mut file = match std::fs::File::open(&src) {
            Ok(f) => f,
            // Taken by another reader meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&src)(e)),
        };
        let size = file.metadata().map_err(io(&src))?.len();
        if size > max_size {
            let aside = maildir.join(TOO_LARGE);
            crate::fsmode::create_dir_all(&aside).map_err(io(&aside))?;
            let dest = aside.join(&name);
            std::fs::rename(&src, &dest).map_err(io(&dest))?;
            tracing::warn!(
                file = %dest.display(), size, max_message_size = max_size,
                "Maildir watch: message larger than [inbound] max_message_size, moved aside unread"
            );
            continue;
        }
        let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut raw).map_err(io(&src))?;
        spool.write(&[], &raw)?;
        let mut seen = name.clone();
        seen.push(":2,S");
        let dest = cur.join(seen);
        std::fs::rename(&src, &dest).map_err(io(&dest))?;
        moved += 1;
    }
    if moved > 0 {
        // The messages read (up to max_size each) go back to the kernel.
        crate::memory::release_freed();
    }
    Ok(moved)
}

/// Failed rounds in a row after which the watch gives up.
pub const GIVE_UP_AFTER: u32 = 5;

/// Polls `maildir` every `interval` until `cancel` fires. A failed round
/// is retried at the next; [`GIVE_UP_AFTER`] in a row end the watch.
pub async fn watch(
    maildir: std::path::PathBuf,
    spool: Arc<Spool>,
    interval: Duration,
    max_size: u64,
    cancel: CancellationToken,
) -> Result<(), GaveUp<SpoolError>> {
    let mut rounds = Rounds::new(GIVE_UP_AFTER);
    loop {
        let (dir, sp) = (maildir.clone(), spool.clone());
        let round = match tokio::task::spawn_blocking(move || scan_once(&dir, &sp, max_size)).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => return Ok(()),
        };
        match round {
            Ok(0) => rounds.ok(),
            Ok(n) => {
                rounds.ok();
                tracing::info!(count = n, maildir = %maildir.display(), "bounces taken from Maildir")
            }
            Err(e @ SpoolError::Full { .. }) => {
                rounds.ok();
                tracing::warn!(error = %e, "Maildir watch: spool full, retrying later")
            }
            Err(e) => {
                let error = e.to_string();
                let round = rounds.failed(e)?;
                tracing::error!(%error, round, "Maildir watch failed; retrying");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::config::SpoolLimits;

    #[test]
    fn moves_new_into_spool_and_cur() {
        let t = tempfile::tempdir().unwrap();
        let md = t.path().join("Maildir");
        std::fs::create_dir_all(md.join("new")).unwrap();
        std::fs::write(md.join("new/1.a.host"), b"Subject: x\n\nbody\n").unwrap();
        std::fs::write(md.join("new/2.b.host"), b"Subject: y\n\nbody\n").unwrap();
        let spool = Spool::open(t.path().join("inbound"), SpoolLimits { max_messages: 1, max_bytes: 1 << 20 }).unwrap();
        assert!(matches!(scan_once(&md, &spool, 1 << 20), Err(SpoolError::Full { .. })));
        assert_eq!(spool.list().unwrap().len(), 1);
        assert!(md.join("cur/1.a.host:2,S").exists());
        assert!(md.join("new/2.b.host").exists(), "a full spool leaves the rest for later");
    }

    #[test]
    fn a_maildir_not_made_yet_is_empty_and_a_file_in_its_place_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let spool = Spool::open(t.path().join("inbound"), SpoolLimits { max_messages: 9, max_bytes: 1 << 20 }).unwrap();
        assert_eq!(scan_once(&t.path().join("not-yet"), &spool, 1 << 20).unwrap(), 0);
        let file = t.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(scan_once(&file, &spool, 1 << 20), Err(SpoolError::Io { .. })));
    }

    #[test]
    fn a_file_over_the_size_limit_goes_aside_unread_and_holds_up_nothing() {
        let t = tempfile::tempdir().unwrap();
        let md = t.path().join("Maildir");
        std::fs::create_dir_all(md.join("new")).unwrap();
        // First in order, and larger than the limit (and than the spool).
        std::fs::write(md.join("new/1.big.host"), vec![b'x'; 4096]).unwrap();
        std::fs::write(md.join("new/2.a.host"), b"Subject: x\n\nbody\n").unwrap();
        std::fs::write(md.join("new/3.b.host"), b"Subject: y\n\nbody\n").unwrap();
        let spool = Spool::open(t.path().join("inbound"), SpoolLimits { max_messages: 9, max_bytes: 2048 }).unwrap();
        assert_eq!(scan_once(&md, &spool, 1024).unwrap(), 2);
        assert_eq!(spool.list().unwrap().len(), 2);
        assert_eq!(std::fs::read(md.join("too-large/1.big.host")).unwrap().len(), 4096, "kept whole for inspection");
        assert!(!md.join("new/1.big.host").exists());
        assert!(md.join("cur/2.a.host:2,S").exists() && md.join("cur/3.b.host:2,S").exists());
    }
}
