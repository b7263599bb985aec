//! Reload without a restart: on SIGHUP (`systemctl reload winback`) or the
//! admin request `reload` (`winback reload`), the configuration file the
//! daemon was started with is read again and validated exactly as at
//! start-up (`Config::from_toml`: the file, the key, what to do), the
//! templates are compiled and checked again, and only when all of that
//! passes is the new configuration put in force at once:
//!
//! - the scheduler, the sender, the HTTP side, the admin API, the event
//!   journal, the variant promoter and the customer scores take the
//!   configuration through [`Live`] per pass, per request or per message;
//!   the sender takes a new [`Composer`] (templates, subjects, sender
//!   addresses, DKIM key) the same way;
//! - the throttle takes the new `[limits]` ([`Throttle::reconfigure`]) and
//!   the reputation guard its new thresholds ([`Guard::reconfigure`]);
//! - when the lapse rules, segments or sequences changed, the background
//!   recomputation of every due time that start-up runs
//!   ([`crate::outbound::rescan`]) runs again (a pass still running under
//!   the old rules is stopped first).
//!
//! A message already being sent finishes under the configuration it began
//! with; no connection is closed and no queued message is touched. An
//! invalid file changes nothing: the error is logged and returned.
//!
//! What is bound or opened at start keeps its start-up value until a
//! restart ([`RESTART_KEYS`]): the published configuration carries the
//! start-up values of those keys ([`pin`]), and a change to them is named
//! in the log and in the answer ("changed but needs a restart").
//!
//! Under systemd the reload is announced with `RELOADING=1` (and
//! `MONOTONIC_USEC`) and ended with `READY=1`, failed or not.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::live::{Live, Publisher};
use crate::config::{Config, ConfigError, EMBEDDED_DEFAULT};
use crate::outbound::compose::Composer;
use crate::outbound::templates::Templates;
use crate::outbound::throttle::Throttle;
use crate::reputation::ProviderLimits;
use crate::reputation::guard::Guard;
use crate::store::{Committer, Store};
use crate::token::Keys;

/// Keys of the configuration file whose value is bound or opened at start
/// (dotted paths; a table stands for all its keys). A change to them is
/// reported and takes effect at the next start.
pub const RESTART_KEYS: &[&str] = &[
    "state_dir",
    "admin.socket",
    "http.listen",
    "http.max_body",
    "http.max_concurrency",
    "http.max_connections",
    "http.request_timeout",
    "http.header_timeout",
    "metrics",
    "dashboard.listen",
    "inbound",
    "transport",
    "tokens",
    "dns",
    "dns_check",
    "scheduler.queue",
    "scheduler.drain_timeout",
    "reputation.provider_lookup",
    "sender.helo_name",
];

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file is invalid (or unreadable).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The templates (or the sender addresses, or the DKIM key) cannot be used.
    #[error("{what}: {message}")]
    Setup {
        /// Which part.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloaded {
    /// The file read.
    pub source: String,
    /// Sections of the file that changed and are in force now (`[limits]`,
    /// `[[sequence]]` …); templates and data files are always read again.
    pub changed: Vec<String>,
    /// Keys that changed but keep their start-up value until a restart.
    pub needs_restart: Vec<String>,
    /// The lapse rules, segments or sequences changed: every due time is
    /// being recomputed in the background (`winback status` shows it).
    pub recompute: bool,
}

/// Builds the composer of a configuration: templates compiled and checked
/// with a sample contact, sender addresses and DKIM key checked. Used at
/// start and on reload.
pub fn composer_for(cfg: &Config, keys: Keys) -> Result<Composer, ReloadError> {
    let setup = |what, e: &dyn std::fmt::Display| ReloadError::Setup { what, message: e.to_string() };
    let templates = Templates::load(&cfg.templates_dir, &cfg.sequences).map_err(|e| setup("templates", &e))?;
    let columns: Vec<String> = templates.columns_used().into_iter().collect();
    templates.check(&Templates::sample_contact(&columns)).map_err(|e| setup("templates", &e))?;
    Composer::new(cfg, keys, Arc::new(templates)).map_err(|e| setup("composer", &e))
}

/// The parts of the running daemon a reload reconfigures.
pub struct Parts {
    /// The token keys (for the composer).
    pub keys: Keys,
    /// The sender's throttle.
    pub throttle: Arc<Throttle>,
    /// The reputation guard.
    pub guard: Arc<Guard>,
    /// The store, for the due-time recomputation.
    pub store: Store,
    /// Its committer.
    pub committer: Committer,
    /// Tracks one-off tasks for the drain.
    pub tracker: TaskTracker,
    /// The daemon's stop.
    pub cancel: CancellationToken,
}

/// The running daemon's reload (see the module doc).
pub struct Reloader {
    started: Arc<Config>,
    started_raw: toml::Table,
    /// The file as last put in force; the lock serializes reloads.
    current_raw: Mutex<toml::Table>,
    cfg: Publisher<Config>,
    composer: Publisher<Composer>,
    parts: Parts,
    /// Stops the due-time pass in progress, if any.
    pass: Mutex<CancellationToken>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").field("source", &self.started.source).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reloader {
    /// Starts from the configuration and composer of the start.
    pub fn new(cfg: Arc<Config>, composer: Arc<Composer>, parts: Parts) -> Reloader {
        // The text the start validated, read again for the comparisons;
        // unreadable now, it compares as empty (every key "changed").
        let raw: toml::Table = read_source(&cfg.source).ok().and_then(|t| toml::from_str(&t).ok()).unwrap_or_default();
        Reloader {
            started: cfg.clone(),
            started_raw: raw.clone(),
            current_raw: Mutex::new(raw),
            cfg: Publisher::new(cfg),
            composer: Publisher::new(composer),
            pass: Mutex::new(parts.cancel.child_token()),
            parts,
        }
    }

    /// The configuration, as the tasks read it.
    pub fn config(&self) -> Live<Config> {
        self.cfg.subscribe()
    }

    /// The composer, as the sender reads it.
    pub fn composer(&self) -> Live<Composer> {
        self.composer.subscribe()
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<Config> {
        self.cfg.current()
    }

    /// Recomputes every due time in the background if the rules in force
    /// differ from those the stored due times were computed under (at
    /// start, and after a reload that changed them); a pass still running
    /// is stopped first.
    pub fn recompute_due(&self) {
        let token = self.parts.cancel.child_token();
        lock(&self.pass).cancel();
        *lock(&self.pass) = token.clone();
        let (c, s, w) = (self.current(), self.parts.store.clone(), self.parts.committer.clone());
        self.parts.tracker.spawn(async move {
            if let Err(e) = crate::outbound::rescan::run(c, s, w, token).await {
                tracing::error!("due times not recomputed (tried again at the next start): {e}");
            }
        });
    }

    /// Reads the file again and puts it in force, or changes nothing and
    /// says why. Blocking (file reads, template compilation): call it off
    /// the runtime's worker threads.
    pub fn reload(&self) -> Result<Reloaded, ReloadError> {
        let mut current = lock(&self.current_raw);
        let usec = format!("MONOTONIC_USEC={}", super::notify::monotonic_usec());
        super::service_manager(&["RELOADING=1", &usec]);
        tracing::info!(config = %self.started.source, "reloading the configuration");
        let result = self.apply(&mut current);
        match &result {
            Ok(r) => {
                tracing::info!(
                    changed = %list(&r.changed),
                    recompute = r.recompute,
                    "configuration reloaded; templates and data files read again"
                );
                if !r.needs_restart.is_empty() {
                    tracing::warn!(
                        "changed but needs a restart (the start-up value stays in force): {}",
                        r.needs_restart.join(", ")
                    );
                }
            }
            Err(e) => tracing::error!("reload refused, the configuration in force is unchanged: {e}"),
        }
        super::service_manager(&["READY=1"]);
        result
    }

    fn apply(&self, current: &mut toml::Table) -> Result<Reloaded, ReloadError> {
        let source = &self.started.source;
        let text = read_source(source)?;
        let mut cfg = Config::from_toml(source, &text)?;
        pin(&mut cfg, &self.started);
        let composer = composer_for(&cfg, self.parts.keys.clone())?;
        let raw: toml::Table = toml::from_str(&text).unwrap_or_default();
        let needs_restart =
            RESTART_KEYS.iter().filter(|k| at(&self.started_raw, k) != at(&raw, k)).map(|k| key_name(k)).collect();
        let changed = changed_sections(current, &raw);

        let cfg = Arc::new(cfg);
        let old = self.cfg.current();
        // Composer and configuration first: the throttle's change wakes the
        // messages waiting on the old rate, and they must see the new ones.
        self.composer.publish(Arc::new(composer));
        self.cfg.publish(cfg.clone());
        let reduced = self.parts.guard.reconfigure(cfg.reputation.clone(), ProviderLimits::from_config(&cfg.limits));
        self.parts.throttle.reconfigure(&cfg.limits, reduced);
        *current = raw;
        let recompute = crate::engine::rules_fingerprint(&old) != crate::engine::rules_fingerprint(&cfg);
        if recompute {
            self.recompute_due();
        }
        Ok(Reloaded { source: source.clone(), changed, needs_restart, recompute })
    }
}

/// Reloads on every SIGHUP until `cancel`. The signal handler is installed
/// by the caller before the daemon reports ready, so an early SIGHUP never
/// ends the process (its default action).
pub async fn on_hangup(
    reloader: Arc<Reloader>,
    mut hangup: tokio::signal::unix::Signal,
    cancel: CancellationToken,
) -> Result<(), &'static str> {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            got = hangup.recv() => if got.is_none() { return Err("the SIGHUP stream ended") },
        }
        tracing::info!("SIGHUP received");
        let r = reloader.clone();
        // The outcome is logged by `reload` itself.
        let _ = tokio::task::spawn_blocking(move || r.reload()).await;
    }
}

/// Puts the start-up values of [`RESTART_KEYS`] into `cfg`: what is bound
/// or opened at start is never seen changed by the running tasks.
pub fn pin(cfg: &mut Config, started: &Config) {
    cfg.state_dir = started.state_dir.clone();
    cfg.admin_socket = started.admin_socket.clone();
    let http = cfg.http.clone();
    cfg.http = crate::http::config::HttpConfig {
        api_token: http.api_token,
        trusted_proxies: http.trusted_proxies,
        max_batch: http.max_batch,
        create_unknown_contacts: http.create_unknown_contacts,
        event_kinds: http.event_kinds,
        max_event_value: http.max_event_value,
        ..started.http.clone()
    };
    cfg.metrics = started.metrics.clone();
    cfg.dashboard.listen = started.dashboard.listen;
    cfg.dashboard.token_required = started.dashboard.token_required;
    cfg.inbound = started.inbound.clone();
    cfg.transport = started.transport.clone();
    cfg.tokens = started.tokens;
    cfg.dns = started.dns.clone();
    cfg.dns_check = started.dns_check.clone();
    cfg.scheduler.queue = started.scheduler.queue;
    cfg.scheduler.drain_timeout = started.scheduler.drain_timeout;
    cfg.reputation.provider_lookup = started.reputation.provider_lookup;
    cfg.sender.helo_name = started.sender.helo_name.clone();
}

fn read_source(source: &str) -> Result<String, ConfigError> {
    if source == "<embedded>" {
        return Ok(EMBEDDED_DEFAULT.to_string());
    }
    std::fs::read_to_string(Path::new(source)).map_err(|e| ConfigError {
        file: source.to_string(),
        key: "file".into(),
        message: format!("cannot read {source}: {e}"),
    })
}

/// The value at a dotted path.
fn at<'a>(t: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

/// `[http] listen` for `http.listen`, `[metrics]` for `metrics`.
fn key_name(path: &str) -> String {
    match path.split_once('.') {
        Some((table, key)) => format!("[{table}] {key}"),
        None if path == "state_dir" => path.to_string(),
        None => format!("[{path}]"),
    }
}

/// Top-level sections that differ, leaving out the restart-only keys.
fn changed_sections(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let strip = |t: &toml::Table| {
        let mut t = t.clone();
        for k in RESTART_KEYS {
            match k.split_once('.') {
                Some((table, key)) => {
                    if let Some(tt) = t.get_mut(table).and_then(toml::Value::as_table_mut) {
                        tt.remove(key);
                    }
                }
                None => {
                    t.remove(*k);
                }
            }
        }
        t.retain(|_, v| !v.as_table().is_some_and(toml::Table::is_empty));
        t
    };
    let (old, new) = (strip(old), strip(new));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| match old.get(k).or_else(|| new.get(k)) {
            Some(toml::Value::Array(_)) => format!("[[{k}]]"),
            Some(toml::Value::Table(_)) => format!("[{k}]"),
            _ => k.clone(),
        })
        .collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "nothing in the file".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn sections_and_restart_keys_are_told_apart() {
        let old = table(
            "state_dir = \"a\"\n[http]\nlisten = \"127.0.0.1:1\"\n[limits]\nglobal = \"1/s\"\n[[sequence]]\nname = \"x\"\n",
        );
        let new = table(
            "state_dir = \"a\"\n[http]\nlisten = \"127.0.0.1:2\"\n[limits]\nglobal = \"2/s\"\n[[sequence]]\nname = \"y\"\n",
        );
        assert_eq!(changed_sections(&old, &new), ["[limits]", "[[sequence]]"]);
        let moved: Vec<String> =
            RESTART_KEYS.iter().filter(|k| at(&old, k) != at(&new, k)).map(|k| key_name(k)).collect();
        assert_eq!(moved, ["[http] listen"]);
        assert_eq!(key_name("state_dir"), "state_dir");
        assert_eq!(key_name("inbound"), "[inbound]");
        assert!(changed_sections(&old, &old).is_empty());
    }

    #[test]
    fn pinned_keys_keep_their_start_up_values() {
        let started =
            crate::config::Config::from_toml("a", "state_dir = \"/tmp/a\"\n[http]\nlisten = \"127.0.0.1:1\"\n")
                .unwrap();
        let mut new = crate::config::Config::from_toml(
            "a",
            "state_dir = \"/tmp/b\"\n[http]\nlisten = \"127.0.0.1:2\"\nmax_batch = 7\n[limits]\nglobal = \"5/s\"\n",
        )
        .unwrap();
        pin(&mut new, &started);
        assert_eq!(new.state_dir, started.state_dir);
        assert_eq!(new.admin_socket, started.admin_socket);
        assert_eq!(new.http.listen, started.http.listen);
        assert_eq!(new.http.max_batch, 7, "per-request settings do change");
        assert_eq!(new.limits.global, "5/s".parse().unwrap());
    }
}
