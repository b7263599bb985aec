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
        Client::over(TcpStream::connect(addr).await.expect("connect")).await
    }

    /// A client from `from` (see [`connect_from`]).
    pub async fn connect_from(addr: std::net::SocketAddr, from: &str) -> (Client, String) {
        Client::over(connect_from(addr, from).await).await
    }

    async fn over(s: TcpStream) -> (Client, String) {
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

    /// One whole transaction to `rcpt` (EHLO first); `message` ends in CRLF.
    /// Returns the reply to the end of DATA.
    pub async fn deliver(&mut self, rcpt: &str, message: &[u8]) -> String {
        for (line, want) in
            [("EHLO client.test", "250"), ("MAIL FROM:<>", "250"), (&format!("RCPT TO:<{rcpt}>"), "250")]
        {
            let r = self.cmd(line).await;
            assert!(r.starts_with(want), "{line}: {r}");
        }
        let r = self.cmd("DATA").await;
        assert!(r.starts_with("354"), "DATA: {r}");
        self.send_raw(message).await;
        self.send_raw(b".\r\n").await;
        self.read_reply().await
    }

    pub async fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.read_reply().await
    }
}

/// A connection from `from`, a loopback address such as `127.0.0.2`
/// (every 127/8 address reaches the loopback interface), so one test can
/// play several clients.
pub async fn connect_from(addr: std::net::SocketAddr, from: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    let local: std::net::SocketAddr = format!("{from}:0").parse().expect("address");
    socket.bind(local).expect("bind a loopback source address");
    socket.connect(addr).await.expect("connect")
}

/// An abusive client holding a connection; `run` returns when the server
/// has cut it.
#[derive(Debug, Clone, Copy)]
pub enum Abuser {
    /// Pipelines megabytes of `NOOP` and never reads a reply.
    Pipeliner,
    /// Sends a `NOOP` every 200 ms (never idle long enough for the idle
    /// timeout) and never reads a reply.
    Trickler,
    /// Opens a transaction and sends one DATA line every 200 ms.
    DataDribbler,
}

impl Abuser {
    /// Abuses the connection `s` until the server closes it (the
    /// dribbler writes to `bounces+x@{domain}`); returns how many bytes
    /// it got in.
    pub async fn run(self, mut s: TcpStream, domain: String) -> u64 {
        let mut sent = 0u64;
        let head = match self {
            Abuser::DataDribbler => {
                format!("EHLO abuser.test\r\nMAIL FROM:<>\r\nRCPT TO:<bounces+x@{domain}>\r\nDATA\r\n")
            }
            _ => "EHLO abuser.test\r\n".to_string(),
        };
        if s.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk: Vec<u8> = match self {
            Abuser::Pipeliner => b"NOOP\r\n".repeat(20_000),
            Abuser::Trickler => b"NOOP\r\n".to_vec(),
            Abuser::DataDribbler => b"X-Filler: never ending\r\n".to_vec(),
        };
        loop {
            if s.write_all(&chunk).await.is_err() {
                return sent;
            }
            sent += chunk.len() as u64;
            if !matches!(self, Abuser::Pipeliner) {
                // The client's pace (a write fails soon after the server closed).
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
