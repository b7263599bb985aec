//! Liveness of the daemon's moving parts, for the systemd watchdog.
//!
//! Each part that must keep moving (the scheduler, the sender, the store's
//! commit loop, every listener) registers with one [`Liveness`] and gets a
//! [`Heartbeat`]; it beats when it makes progress: the scheduler and the
//! sender at every pass of their loops (which wake at least every
//! [`Liveness::every`], idle or not) and the sender also whenever a send
//! ends, the commit loop when it has committed a probe job, a listener
//! while its accept loop is waiting for connections or has taken one
//! ([`Beating`]). [`Liveness::stalled`] names the parts silent for longer
//! than the allowed silence; the notifier ([`super::watchdog`]) pings
//! systemd only while that list is empty, so a stuck part gets the daemon
//! killed and restarted instead of being papered over by a timer.
//!
//! Time is tokio's (pausable in tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::net::accept::Listen;

/// The registry of parts and their last beats.
#[derive(Clone, Debug)]
pub struct Liveness {
    start: Instant,
    every: Duration,
    parts: Arc<Mutex<Vec<Part>>>,
}

#[derive(Debug)]
struct Part {
    name: &'static str,
    last: Arc<AtomicU64>,
}

/// One part's beat; cheap to clone.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    start: Instant,
    every: Duration,
    last: Arc<AtomicU64>,
}

impl Liveness {
    /// A registry whose parts beat at least every `every` while healthy.
    pub fn new(every: Duration) -> Liveness {
        Liveness { start: Instant::now(), every, parts: Arc::default() }
    }

    /// How often a healthy part beats at least.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Registers `name` (beaten once now) and returns its heartbeat.
    pub fn register(&self, name: &'static str) -> Heartbeat {
        let hb = Heartbeat { start: self.start, every: self.every, last: Arc::default() };
        hb.beat();
        self.parts.lock().unwrap_or_else(PoisonError::into_inner).push(Part { name, last: hb.last.clone() });
        hb
    }

    /// The parts that have not beaten for longer than `silence`, in the
    /// order they registered.
    pub fn stalled(&self, silence: Duration) -> Vec<&'static str> {
        let now = elapsed_ms(self.start);
        let limit = silence.as_millis() as u64;
        let parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        parts.iter().filter(|p| now.saturating_sub(p.last.load(Ordering::Relaxed)) > limit).map(|p| p.name).collect()
    }
}

impl Heartbeat {
    /// A heartbeat that belongs to no registry (parts run outside the
    /// daemon, in tests and tools).
    pub fn detached() -> Heartbeat {
        Heartbeat { start: Instant::now(), every: Duration::from_secs(1), last: Arc::default() }
    }

    /// Records progress now.
    pub fn beat(&self) {
        self.last.fetch_max(elapsed_ms(self.start), Ordering::Relaxed);
    }

    /// The longest a healthy part may wait between two beats: a loop that
    /// sleeps caps its sleep at this.
    pub fn every(&self) -> Duration {
        self.every
    }
}

fn elapsed_ms(start: Instant) -> u64 {
    Instant::now().saturating_duration_since(start).as_millis() as u64
}

/// A listener that beats while its accept loop waits on it (every
/// [`Heartbeat::every`]) and at every accepted connection. An accept loop
/// stuck anywhere else (or a runtime that no longer runs it) stops beating.
pub struct Beating<L> {
    inner: L,
    heartbeat: Heartbeat,
}

impl<L> Beating<L> {
    /// Wraps `inner`.
    pub fn new(inner: L, heartbeat: Heartbeat) -> Beating<L> {
        Beating { inner, heartbeat }
    }
}

impl<L: Listen + Sync> Listen for Beating<L> {
    type Stream = L::Stream;
    type Peer = L::Peer;

    async fn accept(&self) -> std::io::Result<(Self::Stream, Self::Peer)> {
        let accept = self.inner.accept();
        tokio::pin!(accept);
        loop {
            self.heartbeat.beat();
            tokio::select! {
                r = &mut accept => {
                    self.heartbeat.beat();
                    return r;
                }
                _ = tokio::time::sleep(self.heartbeat.every) => {}
            }
        }
    }

    fn peer_ip(peer: &Self::Peer) -> Option<std::net::IpAddr> {
        L::peer_ip(peer)
    }

    fn local_addr(&self) -> std::io::Result<Self::Peer> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_part_that_stops_beating_is_named_once_silent_too_long() {
        let live = Liveness::new(Duration::from_secs(1));
        let (a, b) = (live.register("scheduler"), live.register("sender"));
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(1)).await;
            a.beat();
            b.beat();
        }
        assert!(live.stalled(Duration::from_secs(3)).is_empty());
        // b stops.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(1)).await;
            a.beat();
        }
        assert!(live.stalled(Duration::from_secs(3)).is_empty(), "silent exactly as long as allowed");
        tokio::time::advance(Duration::from_secs(1)).await;
        a.beat();
        assert_eq!(live.stalled(Duration::from_secs(3)), vec!["sender"]);
        // It comes back.
        b.beat();
        assert!(live.stalled(Duration::from_secs(3)).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_listener_waiting_for_connections_beats_and_one_not_polled_does_not() {
        let live = Liveness::new(Duration::from_millis(500));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let beating = Beating::new(tcp, live.register("listener"));
        let idle = live.register("never polled");
        let accept = tokio::spawn(async move { beating.accept().await.map(|(_, peer)| peer) });
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert_eq!(live.stalled(Duration::from_secs(1)), vec!["never polled"]);
        idle.beat();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let peer = accept.await.unwrap().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }
}
