//! Sender-reputation signals and the automatic protection built on them.
//!
//! [`Reputation`] takes outcome values ([`Signal`]) with the time they
//! happened, keeps rolling counters per sending domain and per provider,
//! and decides:
//! - whether all sending is paused (bounce or complaint rate over the pause
//!   thresholds), durable until `winback resume` or a cool-down;
//! - each provider's target rate (AIMD on slow-down deferrals) and
//!   suspension (a burst of sender-side blocks);
//! - each sending domain's warm-up cap.
//!
//! The controller is pure: time is passed in as [`Millis`], nothing is read from a
//! clock, and the durable part ([`ReputationState`]) is a value the store
//! persists. The scheduler asks [`Reputation::gate`] before each message
//! and simply keeps the message (and its sequence's place) when the answer
//! is not [`Gate::Send`].
//!
//! [`guard`] is the live service around it in the daemon: provider lookup,
//! rate changes applied to the throttle, persistence, housekeeping.

pub mod adaptive;
pub mod config;
pub mod counters;
pub mod guard;
pub mod history;
pub mod persist;
pub mod policy;
pub mod provider;
pub mod rates;
pub mod signal;
pub mod snapshot;
pub mod state;
pub mod warmup;

use std::collections::{BTreeMap, HashMap};

pub use adaptive::{ProviderLimits, ProviderState};
pub use config::{ProviderLookup, ReputationConfig};
pub use counters::{Counts, RollingCounters, SavedCounters, Window};
pub use policy::{Assessment, Level};
pub use provider::{ProviderKey, ProviderTable, provider_of};
pub use rates::{Metric, Rates};
pub use signal::{Reason, Signal, SignalKind};
pub use snapshot::Snapshot;
pub use state::{Pause, ReputationState};

use crate::clock::{Millis, rfc3339};
use crate::config::units::Rate;
use adaptive::AdaptiveChange;
use warmup::{WarmupState, WarmupStep};

/// Name of the scope that sums all sending domains.
pub const ALL: &str = "all";

/// Most sending domains counted one by one; more are counted as `other`.
pub const MAX_SENDING_DOMAINS: usize = 64;

/// How far back the sending rate of a provider is measured for a cut.
const OBSERVE_MS: Millis = 5 * 60_000;

/// Whether a message may go out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Send,
    /// All sending is paused; nothing goes out until resumed.
    Paused {
        /// Why, for people.
        reason: String,
        /// Since when.
        since: Millis,
    },
    /// The recipient's provider is suspended until this time.
    Suspended {
        /// End of the suspension.
        until: Millis,
    },
    /// The sending domain's warm-up cap for today is used up.
    OverDailyCap {
        /// Next UTC midnight, when the cap resets.
        until: Millis,
    },
}

/// All rolling counters, as stored (see [`Reputation::save_counters`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedRolling {
    /// The sum over sending domains.
    pub all: counters::SavedCounters,
    /// Per sending domain.
    pub domains: BTreeMap<String, counters::SavedCounters>,
    /// Per provider.
    pub providers: BTreeMap<ProviderKey, counters::SavedCounters>,
}

/// Something that changed, for the throttle and the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A scope reached a warning threshold.
    Warned {
        /// Sending domain or [`ALL`].
        scope: String,
        /// The rates and thresholds.
        assessment: Assessment,
    },
    /// All sending paused.
    Paused(Pause),
    /// A pause was lifted.
    Resumed {
        /// By a cool-down rather than by hand.
        automatic: bool,
    },
    /// A provider's target rate changed; apply it to the throttle.
    ProviderRate {
        /// The provider.
        provider: ProviderKey,
        /// Its new rate.
        rate: Rate,
    },
    /// A provider is suspended.
    ProviderSuspended {
        /// The provider.
        provider: ProviderKey,
        /// Until when.
        until: Millis,
    },
    /// A provider's suspension ended.
    ProviderResumed {
        /// The provider.
        provider: ProviderKey,
    },
    /// A sending domain's warm-up cap moved to a new day.
    Warmup {
        /// The sending domain.
        domain: String,
        /// Grew or held.
        step: WarmupStep,
    },
}

/// The reputation controller. Not thread-safe by itself: the daemon keeps
/// it behind a mutex (every call is short and does no I/O).
#[derive(Debug)]
pub struct Reputation {
    cfg: ReputationConfig,
    limits: ProviderLimits,
    state: ReputationState,
    all: RollingCounters,
    domains: HashMap<String, RollingCounters>,
    providers: HashMap<ProviderKey, RollingCounters>,
    levels: HashMap<String, Level>,
    dirty: bool,
}

impl Reputation {
    /// A controller with nothing recorded yet.
    pub fn new(cfg: ReputationConfig, limits: ProviderLimits) -> Self {
        Self::restore(cfg, limits, ReputationState::default())
    }

    /// A controller that continues from a stored state.
    pub fn restore(cfg: ReputationConfig, limits: ProviderLimits, state: ReputationState) -> Self {
        Reputation {
            cfg,
            limits,
            state,
            all: RollingCounters::new(),
            domains: HashMap::new(),
            providers: HashMap::new(),
            levels: HashMap::new(),
            dirty: false,
        }
    }

    /// Replaces the configuration and the configured rates (reload); the
    /// counters and the durable state are kept.
    pub fn reconfigure(&mut self, cfg: ReputationConfig, limits: ProviderLimits) {
        self.cfg = cfg;
        self.limits = limits;
    }

    /// The configuration in force.
    pub fn config(&self) -> &ReputationConfig {
        &self.cfg
    }

    /// The durable state, to persist.
    pub fn state(&self) -> &ReputationState {
        &self.state
    }

    /// Whether the durable state changed since the last call (then persist it).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The provider of a recipient domain with these MX hosts, by the configured table.
    pub fn provider_of(&self, mx_hosts: &[String]) -> ProviderKey {
        self.cfg.providers.provider_of(mx_hosts)
    }

    /// Counts one signal that happened at `now` and applies the protection
    /// rules; returns what changed.
    pub fn record(&mut self, now: Millis, signal: &Signal) -> Vec<Change> {
        let mut changes = Vec::new();
        let kind = &signal.kind;
        let domain = self.domain_key(&signal.sending_domain);
        self.all.record(now, kind);
        self.domains.entry(domain.clone()).or_default().record(now, kind);

        if let Some(p) = &signal.provider {
            let p = self.provider_key(p);
            let counters = self.providers.entry(p.clone()).or_default();
            counters.record(now, kind);
            let touches = kind.is_slow_down() || kind.is_sender_block();
            if touches || (matches!(kind, SignalKind::Delivered) && self.state.providers.contains_key(&p)) {
                let observed =
                    f64::from(counters.since(now.saturating_sub(OBSERVE_MS), now).sent) / (OBSERVE_MS as f64 / 1_000.0);
                let configured = self.limits.configured(&p);
                let st = self.state.providers.entry(p.clone()).or_default();
                for ch in st.on_signal(now, kind, configured, observed, &self.cfg.adaptive) {
                    changes.push(match ch {
                        AdaptiveChange::Rate(rate) => {
                            tracing::info!(provider = %p, %rate, "provider rate adjusted");
                            Change::ProviderRate { provider: p.clone(), rate }
                        }
                        AdaptiveChange::Suspended(until) => {
                            tracing::warn!(provider = %p, until = %rfc3339(until), "provider suspended after repeated blocks");
                            Change::ProviderSuspended { provider: p.clone(), until }
                        }
                    });
                }
                self.dirty = true;
            }
        }

        if matches!(kind, SignalKind::Sent) && self.cfg.warmup.enabled {
            let cfg = self.cfg.warmup;
            let step =
                self.state.warmup.entry(domain.clone()).or_insert_with(|| WarmupState::new(now)).on_sent(now, &cfg);
            changes.extend(step.map(|step| Change::Warmup { domain: domain.clone(), step }));
            self.dirty = true;
        }

        if matches!(
            kind,
            SignalKind::Sent | SignalKind::Delivered | SignalKind::HardBounce { .. } | SignalKind::Complaint
        ) {
            for scope in [domain.as_str(), ALL] {
                self.judge(now, scope, &domain, &mut changes);
            }
        }
        changes
    }

    /// Assesses one scope and pauses or warns on a rise.
    fn judge(&mut self, now: Millis, scope: &str, domain: &str, changes: &mut Vec<Change>) {
        let a = self.assess(now, scope);
        let prev = self.levels.insert(scope.to_string(), a.level).unwrap_or(Level::Ok);
        if a.level >= Level::Warn && self.cfg.warmup.enabled {
            let cfg = self.cfg.warmup;
            if let Some(w) = self.state.warmup.get_mut(domain) {
                let before = w.clone();
                let step = w.hold(now, &cfg);
                changes.extend(step.map(|step| Change::Warmup { domain: domain.to_string(), step }));
                self.dirty |= *w != before;
            }
        }
        if a.level == Level::Pause && self.state.pause.is_none() {
            let pause = Pause {
                since: now,
                scope: scope.to_string(),
                reason: a.describe(),
                breaches: a.breaches.clone(),
                until: self.cfg.cool_down.map(|c| now.saturating_add(c)),
            };
            tracing::error!(scope, reason = %pause.reason, "all sending paused; run `winback resume` once the cause is fixed");
            self.state.pause = Some(pause.clone());
            self.dirty = true;
            changes.push(Change::Paused(pause));
        } else if a.level >= Level::Warn && prev < a.level {
            tracing::warn!(scope, reason = %a.describe(), "sender reputation warning");
            changes.push(Change::Warned { scope: scope.to_string(), assessment: a });
        }
    }

    /// The policy verdict for a scope (a sending domain or [`ALL`]) at
    /// `now`, over the configured window (not before the last resume).
    pub fn assess(&self, now: Millis, scope: &str) -> Assessment {
        let th = &self.cfg.thresholds;
        let from = now.saturating_sub(th.window_ms).max(self.state.evaluate_from.unwrap_or(Millis::MIN));
        let counts = self.scope_counters(scope).map(|c| c.since(from, now)).unwrap_or_default();
        th.assess(&Rates::of(&counts, th.min_volume))
    }

    /// Whether a message from `sending_domain` to a recipient at `provider`
    /// may go out at `now`. Pure: asking changes nothing.
    pub fn gate(&self, now: Millis, sending_domain: &str, provider: &ProviderKey) -> Gate {
        if let Some(p) = self.state.paused(now) {
            return Gate::Paused { reason: p.reason.clone(), since: p.since };
        }
        let key = self.known_provider(provider);
        if let Some(until) = self.state.providers.get(&key).and_then(|s| s.suspended(now)) {
            return Gate::Suspended { until };
        }
        if self.cfg.warmup.enabled {
            let domain = self.domain_key(sending_domain);
            let cfg = &self.cfg.warmup;
            let remaining = self.state.warmup.get(&domain).map_or(cfg.start, |w| w.remaining(now, cfg));
            if remaining == 0 {
                return Gate::OverDailyCap { until: WarmupState::next_day(now) };
            }
        }
        Gate::Send
    }

    /// [`Self::gate`] as a yes or no.
    pub fn may_send(&self, now: Millis, sending_domain: &str, provider: &ProviderKey) -> bool {
        self.gate(now, sending_domain, provider) == Gate::Send
    }

    /// The rate the throttle should apply to a provider now.
    pub fn target_rate(&self, provider: &ProviderKey) -> Rate {
        let key = self.known_provider(provider);
        let configured = self.limits.configured(&key);
        self.state.providers.get(&key).map_or(configured, |s| s.target(configured))
    }

    /// Providers whose rate is reduced now, with their target rates.
    pub fn reduced_rates(&self) -> BTreeMap<ProviderKey, Rate> {
        self.state
            .providers
            .iter()
            .filter(|(_, s)| s.rate.is_some())
            .map(|(k, s)| (k.clone(), s.target(self.limits.configured(k))))
            .collect()
    }

    /// Every rolling counter, to store so rates survive a restart.
    pub fn save_counters(&self) -> SavedRolling {
        SavedRolling {
            all: self.all.save(),
            domains: self.domains.iter().map(|(k, c)| (k.clone(), c.save())).collect(),
            providers: self.providers.iter().map(|(k, c)| (k.clone(), c.save())).collect(),
        }
    }

    /// Takes back the counters [`Self::save_counters`] stored (at start,
    /// before anything new is recorded).
    pub fn restore_counters(&mut self, saved: &SavedRolling) {
        self.all = RollingCounters::restore(&saved.all);
        self.domains = saved.domains.iter().map(|(k, c)| (k.clone(), RollingCounters::restore(c))).collect();
        self.providers = saved.providers.iter().map(|(k, c)| (k.clone(), RollingCounters::restore(c))).collect();
    }

    /// Lifts a pause by hand; signals before `now` no longer count toward
    /// a new one. Returns the pause lifted, if there was one.
    pub fn resume(&mut self, now: Millis) -> Option<Pause> {
        let p = self.state.resume(now);
        if let Some(p) = &p {
            tracing::warn!(since = %rfc3339(p.since), reason = %p.reason, "sending resumed by hand");
        }
        self.levels.clear();
        self.dirty = true;
        p
    }

    /// Pauses all sending for a cause the counters cannot see (a blocklist
    /// listing found by the DNS check). `scope` names the cause, so the
    /// pause can be lifted with [`Self::lift_scope`] when it goes away. A
    /// pause already in force is kept as it is. Returns the new pause.
    pub fn pause_for(&mut self, now: Millis, scope: &str, reason: String) -> Option<Pause> {
        if self.state.paused(now).is_some() {
            return None;
        }
        tracing::error!(scope, %reason, "all sending paused; run `winback resume` once the cause is fixed");
        let pause = Pause { since: now, scope: scope.to_string(), reason, breaches: vec![], until: None };
        self.state.pause = Some(pause.clone());
        self.dirty = true;
        Some(pause)
    }

    /// Lifts the pause in force if `scope` caused it (see
    /// [`Self::pause_for`]); a pause from another cause stays.
    pub fn lift_scope(&mut self, now: Millis, scope: &str) -> Option<Pause> {
        if self.state.pause.as_ref().is_some_and(|p| p.scope == scope) {
            tracing::warn!(scope, "the cause of the pause is gone; sending resumes");
            return self.resume(now);
        }
        None
    }

    /// Housekeeping at `now`: ends a pause whose cool-down is over and
    /// suspensions that ran out, moves warm-ups to a new day, and forgets
    /// keys idle for 30 days. Call it every few seconds.
    pub fn tick(&mut self, now: Millis) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(until) = self.state.pause.as_ref().and_then(|p| p.until).filter(|&u| u <= now) {
            self.state.pause = None;
            self.state.evaluate_from = Some(until);
            self.levels.clear();
            tracing::warn!("sending resumed after the cool-down");
            changes.push(Change::Resumed { automatic: true });
        }
        let within = self.cfg.adaptive.suspend_within;
        for (k, s) in &mut self.state.providers {
            s.blocks.retain(|&t| t <= now && now - t < within);
            if s.suspended_until.is_some_and(|u| u <= now) {
                s.suspended_until = None;
                tracing::info!(provider = %k, "provider suspension ended");
                changes.push(Change::ProviderResumed { provider: k.clone() });
            }
        }
        self.state.providers.retain(|_, s| !s.is_idle(now) || s.announced.is_some());
        let cfg = self.cfg.warmup;
        for (d, w) in &mut self.state.warmup {
            if let Some(step) = w.roll(now, &cfg) {
                changes.push(Change::Warmup { domain: d.clone(), step });
            }
        }
        let horizon = now.saturating_sub(counters::MAX_SPAN);
        self.providers.retain(|k, c| c.last_seen() >= horizon || self.state.providers.contains_key(k));
        self.domains.retain(|_, c| c.last_seen() >= horizon);
        self.dirty |= !changes.is_empty();
        changes
    }

    fn scope_counters(&self, scope: &str) -> Option<&RollingCounters> {
        if scope == ALL { Some(&self.all) } else { self.domains.get(scope) }
    }

    /// The counting key of a sending domain (`other` past the cap).
    fn domain_key(&self, d: &str) -> String {
        let d = d.trim().to_ascii_lowercase();
        if self.domains.contains_key(&d) || self.domains.len() < MAX_SENDING_DOMAINS { d } else { "other".into() }
    }

    /// The counting key of a provider for recording (`other` past the cap).
    fn provider_key(&self, p: &ProviderKey) -> ProviderKey {
        if self.providers.contains_key(p)
            || self.state.providers.contains_key(p)
            || self.providers.len() < self.cfg.max_providers
        {
            p.clone()
        } else {
            ProviderKey::other()
        }
    }

    /// The key a provider's state is kept under, for reading.
    fn known_provider(&self, p: &ProviderKey) -> ProviderKey {
        if self.providers.contains_key(p) || self.state.providers.contains_key(p) {
            p.clone()
        } else {
            self.provider_key(p)
        }
    }
}

#[cfg(test)]
mod tests;
