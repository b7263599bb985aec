//! One daemon per state directory: a second `winback serve` on the same
//! configuration (started by hand next to the running one) refuses at
//! once with exit code 75, names the running daemon's PID, and touches
//! nothing: the first keeps its admin socket, and the CLI still reaches it.

mod support;

use std::process::Command;

use support::outbox::daemon;
use support::smtp_sink::free_port;

#[test]
fn a_second_daemon_on_the_same_state_directory_refuses_and_touches_nothing() {
    let mut wb = daemon(&["a@example.net"], free_port());
    let pid = wb.pid().expect("running");
    let socket = wb.path("var/winback.sock");
    let inode = |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&socket);

    let out = Command::new(support::daemon::bin())
        .args(["serve", "--config", wb.config.to_str().unwrap()])
        .output()
        .expect("winback serve runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains(&format!("PID {pid}")), "names the running daemon: {err}");
    assert_eq!(inode(&socket), before, "the admin socket was not replaced");

    // The running daemon still answers through its socket.
    let status = wb.status();
    assert_eq!(status["contacts_total"], 1, "{status:#}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
