//! The one accept loop behind every listener (the SMTP listener for
//! bounces, the HTTP side, the admin socket).
//!
//! [`serve`] takes an already-bound listener and runs one task per
//! connection, bounded everywhere:
//! - at most [`Limits::max_connections`] sessions at once; past that a new
//!   connection either waits in the kernel's backlog ([`WhenFull::Wait`])
//!   or is handed to the refusal function ([`WhenFull::Refuse`]), which
//!   writes its "busy" line under a short deadline;
//! - optionally at most [`Limits::max_per_peer`] sessions per client IP
//!   address (refused with [`Refusal::PeerBusy`]);
//! - transient accept errors (out of file descriptors or memory, a
//!   connection reset before it was accepted) back off and retry instead
//!   of spinning; any other accept error ends the loop with
//!   [`AcceptError`];
//! - on cancellation it stops accepting, closes the listening socket, and
//!   waits for open sessions up to [`Limits::drain`]; sessions still open
//!   then are cut (their tasks aborted), so a listener always ends within
//!   its drain deadline whatever its clients do.
//!
//! Sessions get the same cancellation token: they are expected to stop at
//! their next safe point (e.g. the SMTP listener answers 421 at the next
//! command).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a refusal may take to write its line before it is dropped.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// Most refusals being written at once; past it connections are closed
/// without a word.
const MAX_REFUSALS: usize = 64;
/// First and longest pause after a transient accept error.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A listening socket the loop can accept from.
pub trait Listen: Send + 'static {
    /// A connection.
    type Stream: Send + 'static;
    /// The peer's address.
    type Peer: std::fmt::Debug + Send + 'static;
    /// Waits for the next connection.
    fn accept(&self) -> impl Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> + Send;
    /// The key of the per-peer cap: the client IP address, when there is one.
    fn peer_ip(peer: &Self::Peer) -> Option<IpAddr>;
    /// The address it listens on.
    fn local_addr(&self) -> std::io::Result<Self::Peer>;
}

impl Listen for TcpListener {
    type Stream = TcpStream;
    type Peer = std::net::SocketAddr;
    fn accept(&self) -> impl Future<Output = std::io::Result<(TcpStream, std::net::SocketAddr)>> + Send {
        TcpListener::accept(self)
    }
    fn peer_ip(peer: &std::net::SocketAddr) -> Option<IpAddr> {
        Some(peer.ip())
    }
    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        TcpListener::local_addr(self)
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;
    type Peer = tokio::net::unix::SocketAddr;
    fn accept(&self) -> impl Future<Output = std::io::Result<(UnixStream, Self::Peer)>> + Send {
        UnixListener::accept(self)
    }
    fn peer_ip(_: &Self::Peer) -> Option<IpAddr> {
        None
    }
    fn local_addr(&self) -> std::io::Result<Self::Peer> {
        UnixListener::local_addr(self)
    }
}

/// What happens to a connection over the global cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Not accepted until a slot frees: it waits in the kernel's backlog.
    Wait,
    /// Accepted and handed to the refusal function at once.
    Refuse,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Busy,
    /// This client address holds its share of the slots already.
    PeerBusy,
}

/// The bounds of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Name in log lines (`"inbound smtp"`, `"http"`, `"admin"`).
    pub name: &'static str,
    /// Sessions at once.
    pub max_connections: usize,
    /// Sessions at once per client IP address, if capped.
    pub max_per_peer: Option<usize>,
    /// Over the global cap: wait or refuse.
    pub when_full: WhenFull,
    /// After cancellation, how long open sessions may run before they are cut.
    pub drain: Duration,
}

/// Why an accept loop ended other than by cancellation.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The listening socket failed for good (not a transient shortage).
    #[error("{name}: cannot accept connections: {source}")]
    Accept {
        /// The listener.
        name: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

/// Sessions open per client address.
#[derive(Default)]
struct PeerCounts(Mutex<HashMap<IpAddr, usize>>);

/// One session's share of the per-peer cap; given back on drop.
struct PeerSlot {
    counts: Arc<PeerCounts>,
    ip: IpAddr,
}

impl PeerCounts {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot { counts: self.clone(), ip })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// What a session holds while it runs: its slot and its peer's share.
struct Admitted {
    _slot: OwnedSemaphorePermit,
    _peer: Option<PeerSlot>,
}

/// Accepts on `listener` until `cancel` fires, running `session` for each
/// connection (with the cancellation token) and `refuse` for connections
/// over a cap. Returns `Ok` after cancellation and the drain, or the
/// error that made accepting impossible (open sessions are drained first).
pub async fn serve<L, S, SF, R, RF>(
    listener: L,
    limits: Limits,
    cancel: CancellationToken,
    session: S,
    refuse: R,
) -> Result<(), AcceptError>
where
    L: Listen,
    S: Fn(L::Stream, L::Peer, CancellationToken) -> SF,
    SF: Future<Output = ()> + Send + 'static,
    R: Fn(L::Stream, Refusal) -> RF,
    RF: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let peers = Arc::new(PeerCounts::default());
    let mut tasks = JoinSet::new();
    let mut backoff = BACKOFF_MIN;
    let end = loop {
        reap(&mut tasks, limits.name);
        let waited = match limits.when_full {
            WhenFull::Refuse => None,
            WhenFull::Wait => tokio::select! {
                _ = cancel.cancelled() => break Ok(()),
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => Some(p),
                    Err(_) => break Ok(()),
                },
            },
        };
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break Ok(()),
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_transient(&e) => {
                tracing::warn!(listener = limits.name, error = %e, pause = ?backoff, "accept failed; retrying");
                tokio::select! {
                    _ = cancel.cancelled() => break Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
            Err(source) => break Err(AcceptError::Accept { name: limits.name, source }),
        };
        backoff = BACKOFF_MIN;
        let slot = match waited.map_or_else(|| slots.clone().try_acquire_owned().ok(), Some) {
            Some(s) => s,
            None => {
                refuse_in(&mut tasks, &refusals, refuse(stream, Refusal::Busy));
                continue;
            }
        };
        let peer_slot = match (limits.max_per_peer, L::peer_ip(&peer)) {
            (Some(max), Some(ip)) => match peers.take(ip, max) {
                Some(p) => Some(p),
                None => {
                    tracing::debug!(listener = limits.name, %ip, "per-client connection cap reached");
                    refuse_in(&mut tasks, &refusals, refuse(stream, Refusal::PeerBusy));
                    continue;
                }
            },
            _ => None,
        };
        let admitted = Admitted { _slot: slot, _peer: peer_slot };
        let run = session(stream, peer, cancel.clone());
        tasks.spawn(async move {
            run.await;
            drop(admitted);
        });
    };
    drop(listener);
    drain(tasks, &limits).await;
    end
}

/// Runs a refusal under its deadline, unless too many are being written.
fn refuse_in<F>(tasks: &mut JoinSet<()>, refusals: &Arc<Semaphore>, refusal: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    // Over the refusal cap the stream (owned by `refusal`) is dropped: closed.
    let Ok(permit) = refusals.clone().try_acquire_owned() else { return };
    tasks.spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_DEADLINE, refusal).await;
        drop(permit);
    });
}

/// Collects finished sessions, logging any that panicked.
fn reap(tasks: &mut JoinSet<()>, name: &str) {
    while let Some(done) = tasks.try_join_next() {
        log_end(done, name);
    }
}

fn log_end(done: Result<(), tokio::task::JoinError>, name: &str) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(listener = name, "a session panicked: {e}");
    }
}

/// Waits for open sessions up to the drain deadline, then cuts the rest.
async fn drain(mut tasks: JoinSet<()>, limits: &Limits) {
    let all = async {
        while let Some(done) = tasks.join_next().await {
            log_end(done, limits.name);
        }
    };
    if tokio::time::timeout(limits.drain, all).await.is_err() {
        tracing::warn!(
            listener = limits.name,
            open = tasks.len(),
            "sessions still open at the drain deadline were cut"
        );
        tasks.shutdown().await;
    }
}

/// Accept errors that pass: a shortage of descriptors, buffers or memory,
/// or a connection that went away before it was accepted.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock | OutOfMemory
    ) {
        return true;
    }
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EPROTO | libc::EPERM | libc::ETIMEDOUT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_told_from_fatal_ones() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ECONNABORTED] {
            assert!(is_transient(&std::io::Error::from_raw_os_error(code)), "{code}");
        }
        for code in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK] {
            assert!(!is_transient(&std::io::Error::from_raw_os_error(code)), "{code}");
        }
    }

    #[test]
    fn peer_slots_are_counted_and_given_back() {
        let peers = Arc::new(PeerCounts::default());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a = peers.take(ip, 2).expect("first");
        let b = peers.take(ip, 2).expect("second");
        assert!(peers.take(ip, 2).is_none(), "over the cap");
        assert!(peers.take("192.0.2.8".parse().unwrap(), 2).is_some(), "another address has its own share");
        drop(a);
        let c = peers.take(ip, 2).expect("a slot came back");
        drop((b, c));
        assert!(peers.0.lock().unwrap().is_empty(), "no entry left behind");
    }
}
