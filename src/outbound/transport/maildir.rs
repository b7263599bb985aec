//! `kind = "maildir"`: each message becomes one file in a Maildir, the way
//! an MDA delivers: written to `tmp/`, fsynced, renamed into `new/`, and
//! the directory fsynced, so a reader never sees half a message and a
//! crash never loses an accepted one.
//!
//! Like an MDA, the file starts with `Return-Path:` (the VERP envelope
//! sender) and `Delivered-To:` (the recipient), and uses LF line ends.
//! Names are `SECONDS.MMICROS_PPID_QCOUNT_RRANDOM.HOST`, unique within the
//! process by the counter and across processes by the pid and randomness.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::{SendOutcome, TransportError, envelope_address};

/// A Maildir destination.
#[derive(Debug)]
pub struct MaildirTransport {
    root: PathBuf,
    host: String,
    counter: AtomicU64,
}

impl MaildirTransport {
    /// Creates `root/{tmp,new,cur}` as needed.
    pub fn new(root: &Path, host: &str) -> Result<Self, TransportError> {
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            crate::fsmode::create_dir_all(&dir)
                .map_err(|source| TransportError::Maildir { path: dir.display().to_string(), source })?;
        }
        // `/` and `:` have meanings in Maildir names; the spec's escapes.
        let host = host.replace('/', "\\057").replace(':', "\\072");
        Ok(MaildirTransport { root: root.to_path_buf(), host, counter: AtomicU64::new(0) })
    }

    /// Delivers one message into `new/`.
    pub async fn send(&self, envelope_from: &str, recipient: &str, bytes: &[u8]) -> SendOutcome {
        // Both addresses go into header lines: only well-formed ones.
        if let Err(outcome) = envelope_address(envelope_from, true).and(envelope_address(recipient, false)) {
            return outcome;
        }
        let mut content = format!("Return-Path: <{envelope_from}>\nDelivered-To: {recipient}\n").into_bytes();
        content.reserve(bytes.len());
        content.extend(crlf_to_lf(bytes));
        let name = self.unique_name();
        let root = self.root.clone();
        match tokio::task::spawn_blocking(move || deliver(&root, &name, &content).map(|()| name)).await {
            Ok(Ok(name)) => SendOutcome::Sent { reply: format!("maildir new/{name}") },
            Ok(Err(e)) => SendOutcome::deferred(format!("maildir {}: {e}", self.root.display())),
            Err(e) => SendOutcome::deferred(format!("maildir {}: writer task failed: {e}", self.root.display())),
        }
    }

    fn unique_name(&self) -> String {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        format!(
            "{}.M{}P{}Q{}R{:08x}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.counter.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>(),
            self.host
        )
    }
}

fn crlf_to_lf(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().enumerate().filter(|&(i, &b)| !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n'))).map(|(_, &b)| b)
}

fn deliver(root: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
    let tmp = root.join("tmp").join(name);
    let result = (|| {
        let mut f = crate::fsmode::options().write(true).create_new(true).open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, root.join("new").join(name))?;
        std::fs::File::open(root.join("new"))?.sync_all()
    })();
    if result.is_err() {
        // Leave no partial file behind in tmp/.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::transport::Transport;

    const MSG: &[u8] =
        b"From: a@shop.example\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nline 1\r\n.dot\r\nbare\rcr\r\n";

    #[tokio::test]
    async fn writes_readable_files_into_new() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("outbox");
        let t = Transport::maildir(&root, "mail.shop:example/x").unwrap();
        let mut replies = Vec::new();
        for i in 0..5 {
            match t.send("bounces+tok@bounces.shop.example", &format!("u{i}@example.org"), MSG).await {
                SendOutcome::Sent { reply } => replies.push(reply),
                other => panic!("not sent: {other:?}"),
            }
        }
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0, "tmp/ is left empty");
        let mut files: Vec<_> = std::fs::read_dir(root.join("new")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert_eq!(files.len(), 5, "unique names: {files:?}");
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(name.ends_with(".mail.shop\\072example\\057x"), "{name}");
            assert!(replies.contains(&format!("maildir new/{name}")));
        }
        let mut rcpts = Vec::new();
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(!bytes.windows(2).any(|w| w == b"\r\n"), "LF line ends");
            let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            assert_eq!(m.return_address(), Some("bounces+tok@bounces.shop.example"));
            assert_eq!(m.subject(), Some("hi"));
            assert_eq!(m.body_text(0).unwrap(), "line 1\n.dot\nbare\rcr\n");
            rcpts.push(m.header_raw("Delivered-To").unwrap().trim().to_string());
        }
        rcpts.sort();
        assert_eq!(rcpts, ["u0@example.org", "u1@example.org", "u2@example.org", "u3@example.org", "u4@example.org"]);
    }

    #[tokio::test]
    async fn problems_are_outcomes_or_construction_errors() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::maildir(dir.path(), "h").unwrap();
        let out = t.send("bounces+x@b.example", "bad\r\nX-Injected: 1", MSG).await;
        assert!(matches!(&out, SendOutcome::Failed { code: 553, enhanced: Some(e), .. } if e == "5.1.3"), "{out:?}");
        let out = t.send("", "ok@example.org", MSG).await;
        assert!(
            matches!(&out, SendOutcome::Deferred { code: None, text, .. } if text.contains("bounce_domain")),
            "{out:?}"
        );

        // new/ replaced by a file: delivery cannot complete, so it defers.
        std::fs::remove_dir(dir.path().join("new")).unwrap();
        std::fs::write(dir.path().join("new"), b"").unwrap();
        let out = t.send("bounces+x@b.example", "ok@example.org", MSG).await;
        assert!(matches!(&out, SendOutcome::Deferred { code: None, text, .. } if text.contains("maildir")), "{out:?}");
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "no partial file left");

        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let err = Transport::maildir(&file, "h").unwrap_err();
        assert!(err.to_string().contains("[transport] maildir"), "{err}");
    }
}
