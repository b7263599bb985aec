//! The daemon's lifecycle: open the store, recover from a crash, start
//! every long-running task under one [`Supervisor`] and one cancellation
//! token, tell systemd when it is ready, and on SIGTERM/SIGINT (or when a
//! supervised task ends unexpectedly) drain: stop taking new work, let
//! in-flight SMTP transactions finish within the drain deadline (shorter
//! than systemd's stop timeout), flush the store, exit. A task failure, an
//! overrun drain and a failed final flush are errors with exit codes of
//! their own ([`DaemonError::exit_code`]).
//!
//! Listeners are bound by the caller ([`Listeners`]) so tests can bind
//! port 0 and know the address; before that, the caller takes the state
//! directory's lock ([`lock`]), so a second daemon touches nothing.
//!
//! Under systemd ([`notify`]): `READY=1` once every task runs, `STOPPING=1`
//! at the drain, and the [`watchdog`] task pings only while the scheduler,
//! the sender, the store's commit loop and the listeners beat their
//! [`liveness`] heartbeats.
//!
//! Reload ([`reload`]): SIGHUP and the admin request `reload` read the
//! configuration again; what can change while running changes at once,
//! `RELOADING=1` and `READY=1` frame it for systemd.

pub mod activation;
pub mod liveness;
pub mod lock;
pub mod logging;
pub mod notify;
pub mod reload;
mod signals;
pub mod supervisor;
#[cfg(test)]
mod supervisor_tests;
pub mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::admin;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine;
use crate::http::instrument::instrument_message;
use crate::http::state::HttpState;
use crate::inbound::listener::ListenerSettings;
use crate::inbound::spool::Spool;
use crate::outbound::compose::Bodies;
use crate::outbound::scheduler;
use crate::outbound::sender::{Instrument, Sender};
use crate::outbound::throttle::Throttle;
use crate::outbound::transport::Transport;
use crate::reputation::guard::{Guard, GuardSettings};
use crate::store::{Store, StoreError};
use crate::token::{Keys, TokenError};
use liveness::Beating;

pub use signals::cancel_on_signals;
pub use supervisor::{Drained, Supervisor, TaskFailure};

/// Exit status of `serve` when a supervised task ended unexpectedly
/// (sysexits `EX_SOFTWARE`); the log names the task and why.
pub const EXIT_TASK_FAILED: u8 = 70;
/// Exit status of `serve` when the last store commit at stop failed
/// (sysexits `EX_IOERR`): changes acknowledged before may not be on disk.
pub const EXIT_FLUSH_FAILED: u8 = 74;
/// Exit status of `serve` when the drain deadline passed with work still
/// running (winback's own code): the stop was not clean, messages still in
/// flight are marked interrupted at the next start.
pub const EXIT_DRAIN_OVERRUN: u8 = 80;

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
    /// A supervised task ended unexpectedly; the daemon drained and stopped.
    #[error("{0}; winback stopped")]
    Task(TaskFailure),
    /// The drain deadline passed with work still running.
    #[error(
        "the drain deadline ({0:?}, [scheduler] drain_timeout) passed with work still running; messages in flight are marked interrupted at the next start"
    )]
    DrainOverrun(Duration),
    /// The last store commit at stop failed.
    #[error("the final store commit failed, recent changes may be lost: {0}")]
    FinalFlush(StoreError),
}

impl DaemonError {
    /// The exit status of `winback serve` for this error.
    pub fn exit_code(&self) -> u8 {
        use crate::cli::{EX_SOFTWARE, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE};
        match self {
            DaemonError::Store(StoreError::Locked(_)) => EX_TEMPFAIL,
            DaemonError::Setup(_) => EX_USAGE,
            DaemonError::Bind { .. } => EX_UNAVAILABLE,
            DaemonError::Task(_) => EXIT_TASK_FAILED,
            DaemonError::DrainOverrun(_) => EXIT_DRAIN_OVERRUN,
            DaemonError::FinalFlush(_) => EXIT_FLUSH_FAILED,
            DaemonError::Store(_) | DaemonError::Token(_) => EX_SOFTWARE,
        }
    }
}

/// How a stop went, as the daemon's result: the first task failure wins
/// (it caused the stop), then an overrun drain, then a failed final flush.
/// Every one of them is logged.
pub fn stop_result(drained: Drained, deadline: Duration, flush: Result<(), StoreError>) -> Result<(), DaemonError> {
    for later in drained.failures.iter().skip(1) {
        tracing::error!("also: {later}");
    }
    let overrun = drained.overrun.then_some(DaemonError::DrainOverrun(deadline));
    let flush = flush.err().map(DaemonError::FinalFlush);
    for e in overrun.iter().chain(flush.iter()) {
        tracing::error!("{e}");
    }
    match drained.failures.into_iter().next().map(DaemonError::Task).or(overrun).or(flush) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Sockets bound before the daemon starts (the inbound SMTP one passed by
/// the service manager when there is one, see [`activation`]).
pub struct Listeners {
    /// The admin API socket.
    pub admin: UnixListener,
    /// The public HTTP side (tracking, unsubscribe, events API).
    pub http: TcpListener,
    /// The SMTP listener for bounce domains, when configured.
    pub smtp: Option<TcpListener>,
    /// The Prometheus listener (`[metrics] listen`), when configured.
    pub metrics: Option<TcpListener>,
    /// The dashboard (`[dashboard] listen`), when configured.
    pub dashboard: Option<TcpListener>,
}

impl Listeners {
    /// Binds what the configuration names.
    pub async fn bind(cfg: &Config) -> Result<Listeners, DaemonError> {
        let admin = admin::server::bind(&cfg.admin_socket)
            .map_err(|source| DaemonError::Bind { what: cfg.admin_socket.display().to_string(), source })?;
        let tcp = |addr: std::net::SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| DaemonError::Bind { what: addr.to_string(), source })
        };
        let http = tcp(cfg.http.listen).await?;
        let passed = activation::inbound_smtp().map_err(|e| DaemonError::Bind {
            what: "the socket passed by the service manager".into(),
            source: e.into(),
        })?;
        let smtp = match (passed, cfg.inbound.listen) {
            (Some(l), _) => Some(
                TcpListener::from_std(l).map_err(|source| DaemonError::Bind { what: "inbound SMTP".into(), source })?,
            ),
            (None, Some(addr)) => Some(tcp(addr).await?),
            (None, None) => None,
        };
        let metrics = match cfg.metrics.listen {
            Some(addr) => Some(tcp(addr).await?),
            None => None,
        };
        let dashboard = match cfg.dashboard.listen {
            Some(addr) => Some(tcp(addr).await?),
            None => None,
        };
        Ok(Listeners { admin, http, smtp, metrics, dashboard })
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
    let keys = Keys::open(&cfg.state_dir, &cfg.tokens, clock)?;
    let setup = |what: &str, e: &dyn std::fmt::Display| DaemonError::Setup(format!("{what}: {e}"));
    let composer = Arc::new(reload::composer_for(&cfg, keys.clone()).map_err(|e| DaemonError::Setup(e.to_string()))?);
    let transport = Arc::new(Transport::from_config(&cfg).map_err(|e| setup("[transport]", &e))?);
    let throttle = Arc::new(Throttle::new(&cfg.limits));
    // A stored pause must hold across restarts: an unreadable state stops
    // the start (the error says how to replace it) rather than sending.
    let reputation = crate::reputation::persist::open(&cfg, &store.read()?)?;
    let resolver = match crate::dns::Resolver::from_config(&cfg.dns) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!("no DNS resolver ({e}): providers are grouped by recipient domain, no DNS health check");
            None
        }
    };
    // A Maildir holds no one's real mailbox: there is no MX to group by.
    let lookup = match cfg.transport.kind {
        crate::config::TransportKind::Maildir(_) => crate::reputation::ProviderLookup::Domain,
        _ => cfg.reputation.provider_lookup,
    };
    let settings = GuardSettings { lookup, sending_domain: cfg.dns_check.from_domain.clone() };
    let guard = Arc::new(Guard::new(settings, reputation, throttle.clone(), resolver.clone(), clock));
    let spool = Arc::new(
        Spool::open(cfg.state_dir.join("inbound"), cfg.inbound.spool).map_err(|e| setup("inbound spool", &e))?,
    );
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
    let sup = Supervisor::new(cancel.clone());
    let watchdog = watchdog::WatchdogSettings { period: notify::watchdog_period() };
    // Before anything sends: "sent in the last minute" counts from here.
    let mut summary = watchdog::Summary::new(store.clone(), guard.clone());
    let liveness = liveness::Liveness::new(watchdog.beat_every());
    let wake_sender = Arc::new(Notify::new());

    let reloader = Arc::new(reload::Reloader::new(
        cfg.clone(),
        composer,
        reload::Parts {
            keys: keys.clone(),
            throttle: throttle.clone(),
            guard: guard.clone(),
            store: store.clone(),
            committer: committer.clone(),
            tracker: sup.tracker(),
            cancel: cancel.clone(),
        },
    ));
    let live = reloader.config();
    // Installed before READY=1: SIGHUP's default action ends the process.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| setup("SIGHUP handler", &e))?;
    sup.spawn("reload on SIGHUP", reload::on_hangup(reloader.clone(), hangup, cancel.clone()));
    let cx = admin::Context {
        store: store.clone(),
        cfg: cfg.clone(),
        clock,
        guard: Some(guard.clone()),
        keys: Some(keys.clone()),
        reload: Some(reloader.clone()),
    };
    sup.spawn(
        "store commit thread",
        commit_probe(committer.clone(), liveness.register("store commit loop"), cancel.clone()),
    );
    sup.spawn("reputation guard housekeeping", guard.clone().run(committer.clone(), cancel.clone()));
    if let (true, Some(resolver)) = (cfg.dns_check.scheduled, resolver) {
        let setup = crate::dns::health::HealthSetup::from_config(&cfg);
        if cfg.dns_check.pause_on_listing {
            // A listing must stop the first message too: check before the
            // sender starts (bounded by the resolver's own timeouts).
            guard.dns_checked(crate::dns::health::check_health(&resolver, &setup).await);
        }
        let g = guard.clone();
        sup.spawn(
            "DNS health check",
            crate::dns::health::run_periodic(resolver, setup, cancel.clone(), move |report| {
                let problems = report.checks.iter().filter(|c| c.status != crate::dns::health::Status::Pass).count();
                tracing::info!(problems, listed = report.listed, "DNS health checked");
                g.dns_checked(report);
            }),
        );
    }
    let admin = Beating::new(listeners.admin, liveness.register("admin listener"));
    sup.spawn("admin listener", admin::server::serve(admin, cx, cancel.clone(), Default::default()));
    let beat = liveness.register("scheduler");
    sup.spawn(
        "scheduler",
        scheduler::run(
            live.clone(),
            store.clone(),
            committer.clone(),
            clock,
            wake_sender.clone(),
            beat,
            cancel.clone(),
        ),
    );
    sup.spawn(
        "variant promoter",
        crate::outbound::promote::run(live.clone(), store.clone(), committer.clone(), clock, cancel.clone()),
    );

    // Tracking as configured when the message is composed (reload).
    let instrument: Instrument = {
        let (k, live) = (keys.clone(), live.clone());
        Arc::new(move |id, b: Bodies| {
            let cfg = live.get();
            if !(cfg.tracking.opens || cfg.tracking.clicks) {
                return (b, Vec::new());
            }
            let opts = cfg.tracking.instrument_options();
            let (text, html, links) = instrument_message(&b.text, &b.html, opts, &k, id, &cfg.sender.public_base_url);
            (Bodies { text, html }, links)
        })
    };
    let sender = Sender {
        cfg: live.clone(),
        store: store.clone(),
        committer: committer.clone(),
        clock,
        composer: reloader.composer(),
        transport: transport.clone(),
        throttle,
        instrument: Some(instrument),
        guard: guard.clone(),
        heartbeat: liveness.register("sender"),
    };
    sup.spawn("sender", sender.run(wake_sender.clone(), cancel.clone(), sup.tracker()));

    let keys_for_inbound = keys.clone();
    // Opens and clicks are durable in the journal first (see
    // `store::Journal`); the folder applies them until the HTTP side stops.
    let (journal, folder) = engine::journal(&store, committer.clone(), live.clone(), cfg.scheduler.queue.max(64))?;
    sup.spawn("event journal folder", folder);
    let http_state =
        HttpState::new(live.clone(), store.clone(), committer.clone(), journal, keys, clock).with_guard(guard.clone());
    if let Some(listener) = listeners.metrics {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "metrics listening");
        }
        let listener = Beating::new(listener, liveness.register("metrics listener"));
        let (app, http_cfg, c) =
            (crate::http::server::metrics_router(http_state.clone()), cfg.http.clone(), cancel.clone());
        sup.spawn("metrics listener", async move { crate::http::server::serve(listener, app, &http_cfg, c).await });
    }
    if let Some(listener) = listeners.dashboard {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "dashboard listening");
        }
        let listener = Beating::new(listener, liveness.register("dashboard listener"));
        let dashboard = crate::dashboard::Dashboard::new(live.clone(), store.clone(), clock, Some(guard.clone()));
        let (app, http_cfg, c) = (crate::dashboard::router(dashboard), cfg.http.clone(), cancel.clone());
        sup.spawn("dashboard listener", async move { crate::http::server::serve(listener, app, &http_cfg, c).await });
    }
    let app = crate::http::server::router(http_state);
    let (http_cfg, http_cancel) = (cfg.http.clone(), cancel.clone());
    let http = Beating::new(listeners.http, liveness.register("HTTP listener"));
    sup.spawn("HTTP listener", async move { crate::http::server::serve(http, app, &http_cfg, http_cancel).await });
    if let Some(smtp) = listeners.smtp {
        let smtp = Beating::new(smtp, liveness.register("SMTP listener"));
        let settings = ListenerSettings::from_config(&cfg.inbound, &cfg.sender.helo_name, cfg.scheduler.drain_timeout);
        sup.spawn("SMTP listener", crate::inbound::listener::serve(smtp, spool.clone(), settings, cancel.clone()));
    }
    if let Some(dir) = cfg.inbound.maildir_watch.clone() {
        let (interval, max_size) = (cfg.inbound.maildir_interval, cfg.inbound.max_message_size);
        let watch = crate::inbound::maildir_watch::watch(dir, spool.clone(), interval, max_size, cancel.clone());
        sup.spawn("Maildir watch", watch);
    }
    // Bounces, complaints and auto-replies from the listener, `ingest` and
    // the Maildir watch all land in the spool; one processor applies them.
    // Rules that changed since the stored due times were computed take
    // effect: every due time is recomputed once, in the background (a
    // one-off task: tracked for the drain, not supervised as long-running).
    reloader.recompute_due();
    // Customer scores (RFM, P(alive), CLV) on their schedule.
    sup.spawn(
        "customer scores refresh",
        crate::customers::refresh::schedule(live.clone(), store.clone(), clock, cancel.clone()),
    );
    // Reports that prove nothing are kept for inspection, never acted on.
    let quarantine = crate::inbound::unattributed::Quarantine::open(
        cfg.state_dir.join("unattributed"),
        cfg.inbound.keep_unattributed,
    )
    .map_err(|e| setup("unattributed reports folder", &e))?
    .bounded(cfg.inbound.spool);
    let processor = crate::inbound::process::Processor::new(store.clone(), keys_for_inbound)
        .with_config_rules(live.clone())
        .with_guard(guard.clone())
        .with_quarantine(quarantine);
    sup.spawn("bounce processor", processor.run(spool, clock, Duration::from_secs(1), cancel.clone()));

    let notifier = service_manager(&["READY=1"]);
    tracing::info!(config = %cfg.source, state_dir = %cfg.state_dir.display(), "winback ready");
    if let Some(notifier) = notifier {
        let run = watchdog::run(notifier, watchdog, liveness, move || summary.line(), cancel.clone());
        sup.tracker().spawn(run);
    }

    cancel.cancelled().await;
    service_manager(&["STOPPING=1"]);
    tracing::info!(deadline = ?cfg.scheduler.drain_timeout, "stopping: draining in-flight work");
    let drained = sup.drain(cfg.scheduler.drain_timeout).await;
    // A no-op write queued behind everything else: when it returns, every
    // earlier write has been committed.
    let flush = committer.run(|_| Ok(())).await;
    transport.shutdown().await;
    let _ = std::fs::remove_file(&cfg.admin_socket);
    let result = stop_result(drained, cfg.scheduler.drain_timeout, flush);
    if result.is_ok() {
        tracing::info!("stopped");
    }
    result
}

/// Sends `lines` to the service manager, if there is one, and returns the
/// connection for later notifications. Outside systemd (no
/// `NOTIFY_SOCKET`) this does nothing.
fn service_manager(lines: &[&str]) -> Option<notify::Notifier> {
    let sent = notify::Notifier::from_env().and_then(|n| match n {
        Some(n) => n.send(lines).map(|()| Some(n)),
        None => Ok(None),
    });
    sent.unwrap_or_else(|e| {
        tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
        None
    })
}

/// The store's commit loop, watched: a no-op job through the committer
/// every heartbeat period beats when it has been committed; the task fails
/// when the commit thread is gone.
async fn commit_probe(
    committer: crate::store::Committer,
    heartbeat: liveness::Heartbeat,
    stop: CancellationToken,
) -> Result<(), &'static str> {
    const GONE: &str = "the thread stopped; no change can be committed";
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = committer.closed() => return Err(GONE),
            done = committer.run_volatile(|_| Ok(())) => match done {
                Ok(()) => heartbeat.beat(),
                Err(StoreError::Closed) => return Err(GONE),
                Err(e) => tracing::warn!("store commit probe failed: {e}"),
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(heartbeat.every()) => {}
        }
    }
}
