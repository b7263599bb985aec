//! The shared accept loop when the process runs out of file descriptors:
//! accepting fails with EMFILE while connections wait in the backlog; the
//! loop backs off and goes on, and takes them as descriptors come free.
//! Alone in its test binary: it lowers the process's descriptor limit
//! (with util-linux `prlimit`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use winback::net::accept::{Limits, WhenFull, serve};

/// The soft and hard descriptor limits of this process.
fn fd_limits() -> (String, String) {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("open files line");
    let mut v = line.trim_start_matches("Max open files").split_whitespace();
    (v.next().expect("soft").to_string(), v.next().expect("hard").to_string())
}

/// Sets this process's soft descriptor limit (with util-linux `prlimit`).
fn set_soft_fd_limit(soft: &str) {
    let (_, hard) = fd_limits();
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={soft}:{hard}"))
        .status()
        .expect("prlimit runs (util-linux)");
    assert!(status.success(), "prlimit failed");
    assert_eq!(fd_limits().0, soft);
}

/// Opens descriptors until none is left, then closes one: exactly one is free.
fn leave_one_descriptor_free() -> Vec<std::fs::File> {
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("open descriptors");
    set_soft_fd_limit(&(highest + 16).to_string());
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    assert!(!fillers.is_empty(), "descriptors were filled");
    fillers.pop();
    fillers
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn out_of_descriptors_the_loop_backs_off_and_recovers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Three clients wait in the backlog before the loop runs.
    let mut clients: Vec<_> = (0..3).map(|_| Some(std::net::TcpStream::connect(addr).expect("connect"))).collect();
    let (original, _) = fd_limits();
    let fillers = leave_one_descriptor_free();

    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let session = move |mut stream: tokio::net::TcpStream, _, _| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            // Holds its descriptor until the client closes.
            let mut buf = [0u8; 16];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    };
    let limits = Limits {
        name: "test",
        max_connections: 8,
        max_per_peer: None,
        when_full: WhenFull::Refuse,
        drain: Duration::from_secs(1),
    };
    let cancel = CancellationToken::new();
    let server = tokio::spawn(serve(listener, limits, cancel.clone(), session, |_, _| async {}));

    // One descriptor: one session; the next accept fails with EMFILE.
    for n in 1..=3 {
        wait_until(&format!("session {n}"), || accepted.load(Ordering::SeqCst) == n).await;
        assert!(!server.is_finished(), "the loop went on after EMFILE");
        // Closing the client ends the session and frees its descriptor.
        clients[n - 1].take();
    }
    drop(fillers);
    set_soft_fd_limit(&original);
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), server).await.expect("stops").expect("no panic");
    assert!(ended.is_ok(), "{ended:?}");
}
