//! Test helpers for the inbound listener: a running listener on a free
//! loopback port with its own spool, and a line-based SMTP client.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;
use winback::inbound::config::SpoolLimits;
use winback::inbound::listener::{ListenerSettings, serve};
use winback::inbound::spool::Spool;

/// A listener running in the test's runtime; stopped on drop.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub spool: Arc<Spool>,
    pub cancel: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<Result<(), winback::net::accept::AcceptError>>>,
    pub _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Settings with a session deadline of ten times `timeout`, up to 8
/// connections per client, and a drain of 2 seconds.
pub fn settings(max_message_size: u64, max_connections: usize, timeout: Duration) -> ListenerSettings {
    ListenerSettings {
        hostname: "bounce.test".into(),
        domains: vec!["b.example.org".into()],
        max_message_size,
        max_connections,
        max_connections_per_client: 8,
        timeout,
        session_timeout: timeout * 10,
        drain: Duration::from_secs(2),
    }
}

pub async fn start(settings: ListenerSettings, limits: SpoolLimits) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let spool = Arc::new(Spool::open(dir.path().join("inbound"), limits).expect("spool"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let cancel = CancellationToken::new();
    let task = tokio::spawn(serve(listener, spool.clone(), settings, cancel.clone()));
    Running { addr, spool, cancel, task: Some(task), _dir: dir }
}

/// A minimal SMTP client that reads whole (multi-line) replies.
pub struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> (Client, String) {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (r, w) = s.into_split();
        let mut c = Client { r: BufReader::new(r), w };
        let greeting = c.read_reply().await;
        (c, greeting)
    }

    /// The reply, lines joined with `\n`; empty when the server closed.
    pub async fn read_reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.r.read_line(&mut line))
                .await
                .expect("reply in time")
                .unwrap_or(0);
            if n == 0 {
                return out;
            }
            out.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                return out;
            }
            out.push('\n');
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).await.expect("write");
    }

    pub async fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.read_reply().await
    }
}
