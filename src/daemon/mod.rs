//! The daemon's lifecycle: open the store, recover from a crash, start
//! every task under one cancellation token and one task tracker, tell
//! systemd when it is ready, and on SIGTERM/SIGINT drain: stop taking new
//! work, let in-flight SMTP transactions finish within the drain deadline
//! (shorter than systemd's stop timeout), flush the store, exit.
//!
//! Listeners are bound by the caller ([`Listeners`]) so tests can bind
//! port 0 and know the address.

mod signals;

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine;
use crate::outbound::scheduler;
use crate::store::{Store, StoreError};
use crate::token::{Keys, TokenError};

pub use signals::cancel_on_signals;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token secret could not be read or created.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A listener could not be bound.
    #[error("cannot listen on {what}: {source}")]
    Bind {
        /// Which listener.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A part of the daemon could not be set up (templates, transport, …).
    #[error("{0}")]
    Setup(String),
}

/// Sockets bound before the daemon starts.
pub struct Listeners {
    /// The admin API socket.
    pub admin: UnixListener,
}

impl Listeners {
    /// Binds what the configuration names.
    pub fn bind(cfg: &Config) -> Result<Listeners, DaemonError> {
        let admin = admin::server::bind(&cfg.admin_socket)
            .map_err(|source| DaemonError::Bind { what: cfg.admin_socket.display().to_string(), source })?;
        Ok(Listeners { admin })
    }
}

/// Runs the daemon until `cancel` fires, then drains. `clock` is injected
/// so tests can run it on paused time.
pub async fn run(
    cfg: Arc<Config>,
    listeners: Listeners,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<(), DaemonError> {
    let store = Store::open(&cfg.state_dir)?;
    let _keys = Keys::load_or_create(&cfg.state_dir)?;
    let now = clock.now();
    let recovered = {
        let c = cfg.clone();
        store.write(move |w| engine::recover_inflight(w, &c, now))?
    };
    if recovered > 0 {
        tracing::warn!(
            count = recovered,
            "messages were caught mid-transaction by the last stop; marked interrupted, not resent"
        );
    }
    let committer = store.committer(cfg.scheduler.queue.max(64));
    let tracker = TaskTracker::new();
    let wake_sender = Arc::new(Notify::new());

    let cx = admin::Context { store: store.clone(), cfg: cfg.clone(), clock };
    tracker.spawn(admin::server::serve(listeners.admin, cx, cancel.clone(), tracker.clone()));
    tracker.spawn(scheduler::run(
        cfg.clone(),
        store.clone(),
        committer.clone(),
        clock,
        wake_sender.clone(),
        cancel.clone(),
    ));

    notify_systemd(&[sd_notify::NotifyState::Ready]);
    tracing::info!(config = %cfg.source, state_dir = %cfg.state_dir.display(), "winback ready");

    cancel.cancelled().await;
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    tracing::info!(deadline = ?cfg.scheduler.drain_timeout, "stopping: draining in-flight work");
    tracker.close();
    if tokio::time::timeout(cfg.scheduler.drain_timeout, tracker.wait()).await.is_err() {
        tracing::warn!("drain deadline passed; messages still in flight will be marked interrupted at the next start");
    }
    // A no-op write queued behind everything else: when it returns, every
    // earlier write has been committed.
    let _ = committer.run(|_| Ok(())).await;
    let _ = std::fs::remove_file(&cfg.admin_socket);
    tracing::info!("stopped");
    Ok(())
}

fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    // Outside systemd there is no NOTIFY_SOCKET and this does nothing.
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::debug!("sd_notify: {e}");
    }
}
