//! The admin socket: a Unix socket (owner only) speaking one JSON request
//! per line, answered by one JSON response per line. Bounded: a cap on
//! connections and on the length of a request line; store work runs on
//! the blocking pool so the runtime is never stalled.

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Context, Request, Response, execute};

/// Longest accepted request line (an import batch of a few thousand contacts fits).
pub const MAX_LINE: usize = 64 << 20;
const MAX_CONNECTIONS: usize = 16;

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

/// Serves until `cancel`.
pub async fn serve(listener: UnixListener, cx: Context, cancel: CancellationToken, tracker: TaskTracker) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Full: tell the client instead of queueing without bound.
            let mut s = stream;
            let _ = s
                .write_all(reply_line(&Response::Error { message: "admin API busy, try again".into() }).as_bytes())
                .await;
            continue;
        };
        let cx = cx.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            handle(stream, cx, cancel).await;
            drop(permit);
        });
    }
}

async fn handle(stream: UnixStream, cx: Context, cancel: CancellationToken) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut lines).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            n = limited.read_until(b'\n', &mut buf) => n,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
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
        if w.write_all(reply_line(&resp).as_bytes()).await.is_err() {
            return;
        }
        if buf.len() > MAX_LINE {
            return;
        }
    }
}

fn reply_line(r: &Response) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"result\":\"error\",\"message\":\"{e}\"}}"));
    s.push('\n');
    s
}
