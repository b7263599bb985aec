//! The admin socket: a Unix socket (owner only) speaking one JSON request
//! per line, answered by one JSON response per line. Bounded: a cap on
//! connections (through the shared accept loop, [`crate::net::accept`]),
//! on the length of a request line and on the time to send it (a client
//! that connects and sends half a line, or nothing, is disconnected at
//! the read deadline); store work runs on the blocking pool so the
//! runtime is never stalled.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Context, Request, Response, execute};
use crate::net::accept::{self, AcceptError, Limits, Refusal, WhenFull};

/// Longest accepted request line (an import batch of a few thousand contacts fits).
pub const MAX_LINE: usize = 64 << 20;

/// The bounds of the admin socket.
#[derive(Debug, Clone, Copy)]
pub struct AdminLimits {
    /// Connections at once; more are answered "busy".
    pub max_connections: usize,
    /// Time to send one whole request line (and to start it, on an idle
    /// connection).
    pub read_timeout: Duration,
    /// After cancellation, how long requests in flight may run.
    pub drain: Duration,
}

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits { max_connections: 16, read_timeout: Duration::from_secs(10), drain: Duration::from_secs(5) }
    }
}

/// Binds the socket, replacing a stale one. The process umask is made
/// restrictive first, so the socket is created with no group or other
/// access (never loosened by a chmod after bind, which would race).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    crate::fsmode::restrict_umask();
    if let Some(dir) = path.parent() {
        crate::fsmode::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixListener::bind(path)
}

/// Serves until `cancel`; `Err` when the socket fails for good.
pub async fn serve(
    listener: impl accept::Listen<Stream = UnixStream, Peer = tokio::net::unix::SocketAddr>,
    cx: Context,
    cancel: CancellationToken,
    limits: AdminLimits,
) -> Result<(), AcceptError> {
    let accept_limits = Limits {
        name: "admin",
        max_connections: limits.max_connections,
        max_per_peer: None,
        when_full: WhenFull::Refuse,
        drain: limits.drain,
    };
    let run = move |stream, _peer, cancel| handle(stream, cx.clone(), cancel, limits.read_timeout);
    accept::serve(listener, accept_limits, cancel, run, refuse).await
}

/// Full: tell the client instead of queueing without bound.
async fn refuse(mut stream: UnixStream, _: Refusal) {
    let busy = Response::Error { message: "admin API busy, try again".into() };
    let _ = stream.write_all(reply_line(&busy).as_bytes()).await;
}

async fn handle(stream: UnixStream, cx: Context, cancel: CancellationToken, read_timeout: Duration) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut lines).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            n = tokio::time::timeout(read_timeout, limited.read_until(b'\n', &mut buf)) => n,
        };
        match read {
            Err(_) => {
                if !buf.is_empty() {
                    let message = format!("request not completed within {}s; closing", read_timeout.as_secs());
                    let _ = w.write_all(reply_line(&Response::Error { message }).as_bytes()).await;
                }
                return;
            }
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
        let resp = if buf.len() > MAX_LINE {
            Response::Error { message: format!("request longer than {MAX_LINE} bytes") }
        } else {
            match serde_json::from_slice::<Request>(&buf) {
                Err(e) => Response::Error { message: format!("bad request: {e}") },
                Ok(req) => {
                    let cx = cx.clone();
                    tokio::task::spawn_blocking(move || execute(&cx, req))
                        .await
                        .unwrap_or_else(|e| Response::Error { message: format!("request failed: {e}") })
                }
            }
        };
        let line = reply_line(&resp);
        let written = tokio::time::timeout(read_timeout, w.write_all(line.as_bytes())).await;
        if !matches!(written, Ok(Ok(()))) || buf.len() > MAX_LINE {
            return;
        }
    }
}

fn reply_line(r: &Response) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"result\":\"error\",\"message\":\"{e}\"}}"));
    s.push('\n');
    s
}
