//! The bounce MX of a running daemon under abuse: clients that pipeline
//! without reading, trickle commands or dribble a message hold every
//! connection slot; a legitimate sender is still served once the reply
//! and session deadlines have cut them, and SIGTERM ends the daemon within
//! its drain deadline however the clients behave. Several client
//! addresses are played from 127/8.

mod support;

#[path = "support/inbound.rs"]
mod inbound_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use inbound_support::{Abuser, Client, connect_from};
use support::daemon::{BOUNCE_DOMAIN, Winback, maildir_config};
use support::smtp_sink::free_port;

/// Added to every configured deadline before a test calls it a failure:
/// the machine may be busy; what matters is that the bound exists.
const MARGIN: Duration = Duration::from_secs(20);

/// A daemon with the listener on a free port, at most 4 connections and
/// 2 per client address, the given reply/idle timeout, session deadline
/// and drain deadline (whole seconds).
fn daemon(timeout: u64, session: u64, drain: u64) -> (Winback, SocketAddr) {
    let port = free_port();
    let inbound = format!(
        "listen = \"127.0.0.1:{port}\"\nmax_connections = 4\nmax_connections_per_client = 2\n\
         timeout = \"{timeout}s\"\nsession_timeout = \"{session}s\""
    );
    let mut wb = Winback::new(&maildir_config(&format!("drain_timeout = \"{drain}s\""), &inbound));
    wb.start();
    (wb, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Fills the 4 slots: two abusers from 127.0.0.2 (a third from there is
/// refused by the per-client cap) and two from 127.0.0.3; a newcomer is
/// then refused by the global cap.
async fn hold_every_slot(addr: SocketAddr, kinds: [Abuser; 4]) -> Vec<tokio::task::JoinHandle<u64>> {
    let mut held = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let from = if i < 2 { "127.0.0.2" } else { "127.0.0.3" };
        let stream = connect_from(addr, from).await;
        held.push(tokio::spawn(kind.run(stream, BOUNCE_DOMAIN.to_string())));
        if i == 1 {
            let (_, g) = Client::connect_from(addr, "127.0.0.2").await;
            assert!(g.starts_with("421 4.7.0"), "a third connection from one address: {g}");
        }
    }
    let (_, g) = Client::connect_from(addr, "127.0.0.9").await;
    assert!(g.starts_with("421 4.3.2"), "every slot held: {g}");
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legitimate_sender_is_served_while_abusers_hold_every_slot() {
    let (timeout, session) = (1, 3);
    let (wb, addr) = daemon(timeout, session, 10);
    let kinds = [Abuser::Pipeliner, Abuser::Trickler, Abuser::DataDribbler, Abuser::Pipeliner];
    let held = hold_every_slot(addr, kinds).await;

    // A sender retrying as an MTA does is served within the deadlines.
    let started = Instant::now();
    let bound = Duration::from_secs(timeout + session) + MARGIN;
    let reply = loop {
        let (mut c, g) = Client::connect_from(addr, "127.0.0.9").await;
        if g.starts_with("220") {
            let to = format!("bounces+legit@{BOUNCE_DOMAIN}");
            break c.deliver(&to, b"From: MAILER-DAEMON@mx.example.net\r\nSubject: legit\r\n\r\nhello\r\n").await;
        }
        assert!(g.starts_with("421"), "{g}");
        assert!(started.elapsed() < bound, "not served within {bound:?}; log:\n{}", wb.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    for (h, kind) in held.into_iter().zip(kinds) {
        let sent = tokio::time::timeout(bound, h).await.unwrap_or_else(|_| panic!("{kind:?} still held")).unwrap();
        assert!(sent > 0, "{kind:?} got in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_daemon_within_its_drain_deadline_while_abusers_hold_every_slot() {
    // Deadlines far beyond the drain: only the stop can end these sessions.
    let drain = 4;
    let (mut wb, addr) = daemon(60, 600, drain);
    let kinds = [Abuser::Pipeliner, Abuser::DataDribbler, Abuser::Trickler, Abuser::Pipeliner];
    let held = hold_every_slot(addr, kinds).await;

    let limit = Duration::from_secs(drain) + MARGIN;
    let status = tokio::task::block_in_place(|| wb.stop_within(limit));
    let status = status.unwrap_or_else(|| panic!("still running {limit:?} after SIGTERM; log:\n{}", wb.log()));
    assert!(status.success(), "exit {status}; log:\n{}", wb.log());
    for (h, kind) in held.into_iter().zip(kinds) {
        tokio::time::timeout(MARGIN, h).await.unwrap_or_else(|_| panic!("{kind:?} still connected")).unwrap();
    }
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
}
