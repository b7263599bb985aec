//! The real daemon as an operator's system sees it: everything under
//! `state_dir` is private whatever the umask it starts with; a supervised
//! task that fails makes `winback serve` exit non-zero (so systemd restarts
//! it); a name with a line break in the CSV reaches the message cleaned.

mod support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::daemon::{ONE_MESSAGE, Winback, config_with};
use support::smtp_sink::free_port;

/// Mail into the Maildir outbox `state_dir/outbox`, the SMTP listener on
/// a free port, then `extra` (the `[inbound]` section goes on).
fn config(extra: &str) -> String {
    let inbound = format!("[inbound]\nlisten = \"127.0.0.1:{}\"\n{extra}\n{ONE_MESSAGE}", free_port());
    config_with("kind = \"maildir\"", &inbound)
}

/// Imports `csv` (with its header line) through the CLI; returns stdout.
fn import(wb: &Winback, csv: &str) -> String {
    std::fs::write(wb.path("contacts.csv"), csv).expect("write CSV");
    wb.ok(&["contacts", "import", "contacts.csv"])
}

/// Every entry under `root` (itself included) with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, std::fs::FileType, u32)> {
    let meta = std::fs::symlink_metadata(root).expect("stat");
    let mut out = vec![(root.to_path_buf(), meta.file_type(), meta.permissions().mode() & 0o777)];
    if meta.is_dir() {
        for e in std::fs::read_dir(root).expect("read_dir").flatten() {
            out.extend(modes(&e.path()));
        }
    }
    out
}

/// Asserts 0700 directories, 0600 files and no group/other bits on sockets.
fn assert_private(root: &Path) {
    let all = modes(root);
    for (path, kind, mode) in &all {
        let ok = if kind.is_dir() {
            *mode == 0o700
        } else if kind.is_socket() {
            mode & 0o077 == 0
        } else {
            *mode == 0o600
        };
        assert!(ok, "{} is {mode:o} ({kind:?})", path.display());
    }
}

#[test]
fn everything_under_state_dir_is_private_with_umask_000() {
    let mut wb = Winback::new(&config("")).with_umask("000");
    import(&wb, "email,last_engaged_at\nann@example.net,2020-01-01\n");
    wb.start();
    wb.maildir_messages("var/outbox/new", 1);
    let state = wb.path("var");
    for part in ["winback.redb", "secret", "winback.sock", "inbound/new", "outbox/new", "outbox/tmp"] {
        assert!(state.join(part).exists(), "{part} missing under state_dir");
    }
    let journal = std::fs::read_dir(&state)
        .expect("state_dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("journal"));
    assert!(journal, "no event journal under state_dir");
    assert_private(&state);
    assert!(wb.stop(), "clean stop; log:\n{}", wb.log());
    assert_private(&state);
}

#[test]
fn a_watched_maildir_made_unusable_stops_the_daemon_with_exit_70() {
    let mut wb = Winback::new(&config("maildir_watch = \"{dir}/bounces\"\nmaildir_interval = \"100ms\""));
    std::fs::create_dir_all(wb.path("bounces/new")).expect("mkdir");
    wb.start();
    // The MTA's Maildir is replaced by a plain file: the watch cannot go on.
    std::fs::remove_dir_all(wb.path("bounces")).expect("rm");
    std::fs::write(wb.path("bounces"), b"").expect("write");
    let code = wb.wait_exit(Duration::from_secs(60));
    let log = wb.log();
    assert_eq!(code, Some(70), "log:\n{log}");
    assert!(log.contains("task `Maildir watch` failed"), "the log names the task:\n{log}");
    assert!(log.contains("stopping: draining"), "it drained before exiting:\n{log}");
    assert!(log.contains("winback: task `Maildir watch` failed"), "the exit message names the task:\n{log}");
}

/// An SMTP relay that greets, reads and never answers again: a
/// transaction with it stays in flight until the client's timeout (60 s).
/// Sends on `accepted` once a client has spoken.
fn stalling_relay(accepted: std::sync::mpsc::Sender<()>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(b"220 stall.test ESMTP\r\n");
            let mut buf = [0u8; 512];
            if conn.read(&mut buf).is_ok_and(|n| n > 0) {
                let _ = accepted.send(());
            }
            held.push(conn);
        }
    });
    port
}

#[test]
fn a_drain_that_overruns_its_deadline_exits_80() {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = stalling_relay(tx);
    let transport = format!("kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"");
    let mut wb = Winback::new(&config_with(&transport, &format!("drain_timeout = \"1s\"\n{ONE_MESSAGE}")));
    wb.import(&["ann@example.net"]);
    wb.start();
    rx.recv_timeout(Duration::from_secs(30)).expect("the sender reached the relay");
    let code = wb.stop_code(Duration::from_secs(30));
    let log = wb.log();
    assert_eq!(code, Some(80), "log:\n{log}");
    assert!(log.contains("winback: the drain deadline (1s"), "{log}");
}

#[test]
fn a_name_with_a_line_break_reaches_the_message_cleaned() {
    let mut wb = Winback::new(&config(""));
    let report =
        import(&wb, "email,name,last_engaged_at\nann@example.net,\"Ann\r\nBcc: victim@example.org\",2020-01-01\n");
    assert!(report.contains("line 2: ann@example.net: control_chars:"), "{report}");
    assert!(report.contains("control characters: 1 (cleaned)"), "{report}");
    wb.start();
    let msg = wb.maildir_messages("var/outbox/new", 1).remove(0);
    assert!(msg.contains("Hello Ann Bcc: victim@example.org,"), "the cleaned name is in the text body:\n{msg}");
    assert!(
        !msg.lines().any(|l| l.starts_with("Bcc:")),
        "no line of the message starts with the injected text:\n{msg}"
    );
    assert!(!msg.contains('\r'), "the Maildir copy uses LF only:\n{msg}");
}
