//! The running daemon's reputation guard: the one live [`Reputation`]
//! controller, shared by everything that sees a signal (the sender's SMTP
//! replies, the bounce processor, tracking and unsubscribes) and asked by
//! the sender before each message.
//!
//! It owns what the pure controller leaves out: finding a recipient
//! domain's provider (MX lookup, cached), applying rate changes to the
//! sender's throttle (through [`RateControl`], so this module does not
//! depend on the outbound side), and saving the durable state. The state is saved at once
//! when a pause begins or ends and otherwise every few seconds by
//! [`Guard::run`], which also drives the controller's housekeeping. A
//! reload puts new settings in force without losing what was counted
//! ([`Guard::reconfigure`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Change, Gate, Pause, ProviderKey, ProviderLookup, Reputation, Signal, SignalKind, Snapshot};
use crate::clock::Clock;
use crate::config::units::Rate;
use crate::dns::health::DnsHealthReport;
use crate::dns::{Answer, Resolver};
use crate::domain::EventKind;
use crate::store::{Committer, Store, StoreError, Writer};

/// Housekeeping period of [`Guard::run`].
const TICK: Duration = Duration::from_secs(2);
/// The rolling counters are stored every this many ticks (and at stop).
const COUNTER_TICKS: u32 = 30;
/// How long a provider found through MX stays cached.
const PROVIDER_TTL: Duration = Duration::from_secs(3_600);
/// How long a failed MX lookup keeps its fallback (the domain itself).
const FAILED_TTL: Duration = Duration::from_secs(300);
/// Recipient domains whose provider is cached before the cache is cleared.
const MAX_CACHED: usize = 100_000;

/// The scope name of a pause caused by a blocklist listing.
pub const DNSBL_SCOPE: &str = "dnsbl";

/// Where the guard applies per-provider rate changes: the sender's
/// throttle in the daemon.
pub trait RateControl: Send + Sync {
    /// Sets the rate of one provider key.
    fn set_provider_rate(&self, provider: &str, rate: Rate);
}

/// What the guard needs of the configuration.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// How recipient domains are grouped into providers.
    pub lookup: ProviderLookup,
    /// The sending domain (for the DNS health check).
    pub sending_domain: String,
}

/// The shared reputation guard (see the module doc).
pub struct Guard {
    rep: Mutex<Reputation>,
    sending_domain: String,
    resolver: Option<Resolver>,
    providers: Mutex<HashMap<String, (ProviderKey, Instant)>>,
    throttle: Arc<dyn RateControl>,
    clock: Clock,
    save_now: Notify,
    dns: Mutex<Option<DnsHealthReport>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("sending_domain", &self.sending_domain).finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard around a controller restored from the store; reduced
    /// provider rates it remembers are applied to `throttle` at once.
    /// `resolver` finds providers by MX (none: by recipient domain).
    pub fn new(
        settings: GuardSettings,
        rep: Reputation,
        throttle: Arc<dyn RateControl>,
        resolver: Option<Resolver>,
        clock: Clock,
    ) -> Self {
        for (provider, rate) in rep.reduced_rates() {
            throttle.set_provider_rate(provider.as_str(), rate);
        }
        Guard {
            rep: Mutex::new(rep),
            sending_domain: settings.sending_domain,
            resolver: resolver.filter(|_| settings.lookup == ProviderLookup::Mx),
            providers: Mutex::new(HashMap::new()),
            throttle,
            clock,
            save_now: Notify::new(),
            dns: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Reputation> {
        // Every critical section is plain arithmetic; a panic inside one
        // leaves consistent data behind.
        self.rep.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The provider of a recipient domain: by its MX hosts (cached), or
    /// the domain itself when MX lookup is off or fails.
    pub async fn provider(&self, domain: &str) -> ProviderKey {
        if let Some(p) = self.cached_provider(domain) {
            return p;
        }
        let by_domain = || self.lock().provider_of(&[domain.to_string()]);
        // Without a resolver the cache lookup above has answered already.
        let Some(r) = &self.resolver else { return by_domain() };
        let (key, ttl) = match r.mx(domain).await {
            Ok(Answer::Found(mut mx)) => {
                mx.sort();
                let hosts: Vec<String> = mx.into_iter().map(|(_, h)| h).collect();
                (self.lock().provider_of(&hosts), PROVIDER_TTL)
            }
            // No MX: the domain's own address takes mail (RFC 5321 §5.1).
            Ok(_) => (by_domain(), PROVIDER_TTL),
            Err(e) => {
                tracing::debug!(domain, "MX lookup for provider grouping failed: {e}");
                (by_domain(), FAILED_TTL)
            }
        };
        let mut cache = self.providers.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(domain.to_ascii_lowercase(), (key.clone(), Instant::now() + ttl));
        key
    }

    /// The provider of a recipient domain if it is known without a lookup.
    pub fn cached_provider(&self, domain: &str) -> Option<ProviderKey> {
        if self.resolver.is_none() {
            return Some(self.lock().provider_of(&[domain.to_string()]));
        }
        let cache = self.providers.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(&domain.to_ascii_lowercase()).filter(|(_, until)| Instant::now() < *until).map(|(k, _)| k.clone())
    }

    /// Whether a message to a recipient at `provider` may go out now.
    pub fn gate(&self, provider: &ProviderKey) -> Gate {
        self.lock().gate(self.clock.now(), &self.sending_domain, provider)
    }

    /// [`Self::gate`], and when the answer is to send a new message (not a
    /// retry), counts it as sent in the same step, so concurrent senders
    /// cannot pass the warm-up cap together.
    pub fn admit(&self, provider: &ProviderKey, first_attempt: bool) -> Gate {
        let now = self.clock.now();
        let mut rep = self.lock();
        let gate = rep.gate(now, &self.sending_domain, provider);
        if gate == Gate::Send && first_attempt {
            let changes = rep.record(now, &Signal::new(&self.sending_domain, Some(provider.clone()), SignalKind::Sent));
            drop(rep);
            self.apply(&changes);
        }
        gate
    }

    /// A hold on all sending, if any: a pause, or the warm-up's daily cap
    /// used up. (Per-provider suspensions are not holds on everything.)
    pub fn global_hold(&self) -> Option<Gate> {
        match self.gate(&ProviderKey::unknown()) {
            g @ (Gate::Paused { .. } | Gate::OverDailyCap { .. }) => Some(g),
            _ => None,
        }
    }

    /// Counts one signal about a message to a recipient at `provider`
    /// (`None` when not known) and applies what changed.
    pub fn record(&self, provider: Option<ProviderKey>, kind: SignalKind) {
        let now = self.clock.now();
        let signal = Signal::new(&self.sending_domain, provider, kind);
        let changes = self.lock().record(now, &signal);
        self.apply(&changes);
    }

    /// [`Self::record`] for a signal about a recipient address, whose
    /// provider is taken from the cache (signals that arrive later, like
    /// bounces and complaints, are about domains the sender looked up).
    pub fn record_for(&self, email: &str, kind: SignalKind) {
        let provider = email.rsplit_once('@').and_then(|(_, d)| self.cached_provider(d));
        self.record(provider, kind);
    }

    fn apply(&self, changes: &[Change]) {
        for ch in changes {
            match ch {
                Change::ProviderRate { provider, rate } => self.throttle.set_provider_rate(provider.as_str(), *rate),
                Change::Paused(_) | Change::Resumed { .. } => self.save_now.notify_one(),
                _ => {}
            }
        }
    }

    /// Lifts a pause by hand (`winback resume`); the caller saves.
    pub fn resume(&self) -> Option<Pause> {
        self.lock().resume(self.clock.now())
    }

    /// Pauses for a blocklist listing (`listed`), or lifts such a pause
    /// once no list names us any more. Saved at once by [`Self::run`].
    pub fn set_listing(&self, listed: Option<String>) {
        let now = self.clock.now();
        let changed = match listed {
            Some(reason) => self.lock().pause_for(now, DNSBL_SCOPE, reason).is_some(),
            None => self.lock().lift_scope(now, DNSBL_SCOPE).is_some(),
        };
        if changed {
            self.save_now.notify_one();
        }
    }

    /// Takes the result of a DNS health check: kept for the metrics, and a
    /// blocklist listing pauses sending when the check asks for it (and
    /// lifts that pause once no list names us).
    pub fn dns_checked(&self, report: DnsHealthReport) {
        let names: Vec<String> = report.listings.iter().map(|l| format!("{} on {}", l.subject, l.zone)).collect();
        if report.listed {
            tracing::error!(listings = %names.join(", "), "the sending setup is on a blocklist");
        }
        let listing = report.pause_requested.then(|| format!("listed on a blocklist: {}", names.join(", ")));
        self.set_listing(listing);
        *self.dns.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
    }

    /// The last DNS health report, if a check ran.
    pub fn dns_report(&self) -> Option<DnsHealthReport> {
        self.dns.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counts an engagement or unsubscribe event about `email` (opens by
    /// people or machines, clicks, unsubscribes; other kinds are not
    /// reputation signals).
    pub fn record_event(&self, email: &str, kind: &EventKind, human: bool) {
        let kind = match kind {
            EventKind::Open => SignalKind::Open { human },
            EventKind::Click => SignalKind::Click,
            EventKind::Unsubscribe => SignalKind::Unsubscribe,
            _ => return,
        };
        self.record_for(email, kind);
    }

    /// Counts what a bounce or feedback report said about `email`: a
    /// complaint, or a bounce (hard when the classifier says so or the
    /// refusal is aimed at the sender, else soft), or a deferral (a delay
    /// notice). Auto-replies and delivery notices are not reputation
    /// signals.
    pub fn record_report(&self, email: &str, report: &crate::bounce::Recipient) {
        if let Some(kind) = SignalKind::from_report(report) {
            self.record_for(email, kind);
        }
    }

    /// Rates, thresholds, providers and the pause, for status and metrics.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot(self.clock.now())
    }

    /// Puts new thresholds, warm-up, adaptive settings, providers and
    /// configured rates in force (reload); what was counted and the
    /// durable state (pause, reduced rates, warm-up days) carry over.
    /// Returns the reduced provider rates, recomputed against the new
    /// configured rates, for the throttle's reconfiguration (which puts
    /// them in force together with the new limits).
    pub fn reconfigure(
        &self,
        cfg: crate::reputation::ReputationConfig,
        limits: crate::reputation::ProviderLimits,
    ) -> Vec<(String, Rate)> {
        let reduced = {
            let mut rep = self.lock();
            rep.reconfigure(cfg, limits);
            rep.reduced_rates()
        };
        // Providers may be grouped differently now.
        self.providers.lock().unwrap_or_else(|p| p.into_inner()).clear();
        reduced.into_iter().map(|(p, r)| (p.as_str().to_string(), r)).collect()
    }

    /// The counters of the last 30 days, day by day (the dashboard).
    pub fn history(&self) -> super::history::History {
        self.lock().history(self.clock.now())
    }

    /// Saves the durable state if it changed.
    pub fn save(&self, w: &mut Writer<'_>) -> Result<bool, StoreError> {
        self.lock().save_if_dirty(w)
    }

    /// Saves the state through `store` now (for the admin API).
    pub fn save_to(&self, store: &Store) -> Result<bool, StoreError> {
        store.write(|w| self.save(w))
    }

    /// Drives housekeeping (cool-downs, suspensions ending, warm-up days)
    /// and saves the durable state, until `cancel` fires; saves once more
    /// on the way out.
    pub async fn run(self: Arc<Self>, committer: Committer, cancel: CancellationToken) {
        let mut ticks = 0u32;
        loop {
            let stop = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = self.save_now.notified() => false,
                _ = tokio::time::sleep(TICK) => false,
            };
            let changes = self.lock().tick(self.clock.now());
            for ch in &changes {
                if let Change::ProviderResumed { provider } = ch {
                    // The suspension is over; the rate in force is the
                    // controller's target (reduced or configured).
                    let rate = self.lock().target_rate(provider);
                    self.throttle.set_provider_rate(provider.as_str(), rate);
                }
            }
            ticks += 1;
            let counters = stop || ticks.is_multiple_of(COUNTER_TICKS);
            let me = self.clone();
            let saved = committer
                .run(move |w| {
                    if counters {
                        crate::reputation::persist::save_counters(w, &me.lock())?;
                    }
                    me.save(w)
                })
                .await;
            if let Err(e) = saved {
                tracing::error!("cannot save the reputation state (retried): {e}");
            }
            if stop {
                return;
            }
        }
    }
}
