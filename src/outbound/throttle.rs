//! How fast mail goes out: a global rate, a rate per recipient domain (or
//! provider key), and a cap on concurrent SMTP connections.
//!
//! Rates are GCRA limiters from `governor` with a burst of [`BURST`] cell:
//! after a pause (downtime, an empty queue) sending resumes at the
//! configured pace instead of firing a day's worth at once.
//!
//! Time comes from [`TokioClock`], a `governor` clock reading
//! `tokio::time::Instant`. In production that is the monotonic clock; in
//! tests under `tokio::time::pause()` the limiters see exactly the time the
//! runtime advances, with no extra task to drive a fake clock (which is
//! what `governor::clock::FakeRelativeClock` would need). Waiting is a
//! `tokio::time::sleep` for the time the limiter names, for the same reason.
//!
//! [`Throttle::acquire`] waits for the domain rate, then the global rate,
//! then a connection slot, in that order so a domain that must wait never
//! holds a connection slot other domains could use. It is cancel-safe:
//! dropping the future gives back the slot and at worst forgoes a rate
//! cell, which only makes sending slower, never faster.
//!
//! Per-domain rates can be changed while running ([`Throttle::set_domain_rate`])
//! for adaptive throttling; waiters are woken and pick the new rate up at once.
//! The configured limits change as a whole on reload ([`Throttle::reconfigure`],
//! with the runtime overrides recomputed against them): every limiter
//! takes its new rate at once, and the
//! connection cap grows at once or shrinks as connections end (a
//! transaction in progress is never cut).
//! Memory stays bounded: limiters of idle domains (fully replenished, so
//! dropping them loses nothing) are pruned, and runtime overrides are capped.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::LimitsConfig;
use crate::config::units::Rate;

/// Cells a limiter may hold: how many sends may go at once after a pause.
pub const BURST: NonZeroU32 = NonZeroU32::MIN;

/// Domains tracked before idle limiters are pruned.
const PRUNE_AT: usize = 4_096;

/// Most runtime rate overrides kept; the oldest goes first.
const MAX_RUNTIME_OVERRIDES: usize = 65_536;

/// A `governor` clock over tokio's clock (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    /// A clock counting from now.
    pub fn new() -> Self {
        TokioClock { origin: Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().saturating_duration_since(self.origin))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// A granted send: holds one connection slot until dropped.
#[derive(Debug)]
pub struct Permit {
    slot: Option<OwnedSemaphorePermit>,
    owed: Arc<AtomicUsize>,
}

impl Drop for Permit {
    /// Gives the slot back, unless the cap was lowered meanwhile: then the
    /// slot is retired instead.
    fn drop(&mut self) {
        let retire = self.owed.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
        if let (true, Some(slot)) = (retire, self.slot.take()) {
            slot.forget();
        }
    }
}

#[derive(Debug)]
struct DomainLimiter {
    rate: Rate,
    limiter: Arc<Limiter>,
    last_used: Instant,
}

#[derive(Debug)]
struct State {
    /// `[limits] per_domain`.
    per_domain: Rate,
    /// `[limits.domain]`, normalized.
    configured: BTreeMap<String, Rate>,
    global: Option<(Rate, Arc<Limiter>)>,
    limiters: HashMap<String, DomainLimiter>,
    /// Rates set at run time, with when they were set.
    runtime: HashMap<String, (Rate, Instant)>,
    next_prune: usize,
}

/// The rate limits and the connection cap, shared by all senders.
#[derive(Debug)]
pub struct Throttle {
    clock: TokioClock,
    state: Mutex<State>,
    connections: Arc<Semaphore>,
    max_connections: AtomicUsize,
    /// Slots to retire as they come back (the cap was lowered while they
    /// were in use).
    owed: Arc<AtomicUsize>,
    /// Wakes every waiter when a rate changes, so none sleeps out a wait
    /// the old rate asked for.
    retuned: Notify,
}

impl Throttle {
    /// Limits from `[limits]`.
    pub fn new(limits: &LimitsConfig) -> Throttle {
        let clock = TokioClock::new();
        let max_connections = limits.max_connections.max(1);
        let state = State {
            per_domain: limits.per_domain,
            configured: limits.domain.iter().map(|(k, v)| (normalize(k), *v)).collect(),
            global: limiter(limits.global, clock).map(|l| (limits.global, l)),
            limiters: HashMap::new(),
            runtime: HashMap::new(),
            next_prune: PRUNE_AT,
        };
        Throttle {
            clock,
            state: Mutex::new(state),
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections: AtomicUsize::new(max_connections),
            owed: Arc::new(AtomicUsize::new(0)),
            retuned: Notify::new(),
        }
    }

    /// Puts new `[limits]` in force (reload), in one step with the
    /// runtime overrides recomputed against them (`overrides`, by domain or
    /// provider key, replace all earlier ones): the global rate, every
    /// domain's rate and the connection cap. Messages waiting are woken
    /// and take the new rates at once; connections in use are never cut.
    pub fn reconfigure(&self, limits: &LimitsConfig, overrides: impl IntoIterator<Item = (String, Rate)>) {
        let mut s = self.lock();
        s.per_domain = limits.per_domain;
        s.configured = limits.domain.iter().map(|(k, v)| (normalize(k), *v)).collect();
        if s.global.as_ref().map_or(Rate::Unlimited, |(r, _)| *r) != limits.global {
            s.global = limiter(limits.global, self.clock).map(|l| (limits.global, l));
        }
        let now = Instant::now();
        s.runtime = overrides.into_iter().map(|(d, r)| (normalize(&d), (r, now))).collect();
        let live: Vec<String> = s.limiters.keys().cloned().collect();
        for domain in live {
            let rate = s.runtime.get(&domain).map_or_else(|| s.configured_rate(&domain), |(r, _)| *r);
            s.retune(&domain, rate, self.clock);
        }
        drop(s);
        self.retuned.notify_waiters();
        self.resize(limits.max_connections.max(1));
    }

    /// Changes the connection cap: more slots at once, fewer as they are
    /// given back.
    fn resize(&self, cap: usize) {
        let old = self.max_connections.swap(cap, Ordering::AcqRel);
        if cap > old {
            let mut more = cap - old;
            let _ = self.owed.fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
                let paid = owed.min(cap - old);
                more = cap - old - paid;
                Some(owed - paid)
            });
            self.connections.add_permits(more);
        } else if cap < old {
            let fewer = old - cap;
            let now = self.connections.forget_permits(fewer);
            self.owed.fetch_add(fewer - now, Ordering::AcqRel);
        }
    }

    /// Waits until both rates allow one more message to `domain` and a
    /// connection slot is free. Cancel-safe.
    pub async fn acquire(&self, domain: &str) -> Permit {
        let domain = normalize(domain);
        self.wait(|s| s.domain_limiter(&domain, self)).await;
        self.wait(|s| s.global.as_ref().map(|(_, l)| Arc::clone(l))).await;
        // The semaphore is never closed, so acquiring only ever waits.
        let slot = Arc::clone(&self.connections).acquire_owned().await.expect("connection semaphore is never closed");
        Permit { slot: Some(slot), owed: Arc::clone(&self.owed) }
    }

    /// Sleeps until the limiter `pick` returns (fetched anew after each
    /// sleep, so rate changes apply to waiters) lets one cell through.
    async fn wait(&self, pick: impl Fn(&mut State) -> Option<Arc<Limiter>>) {
        loop {
            // Registered before the look, so a change after it still wakes us.
            let retuned = self.retuned.notified();
            let Some(limiter) = pick(&mut self.lock()) else { return };
            match limiter.check() {
                Ok(()) => return,
                Err(not_until) => tokio::select! {
                    _ = tokio::time::sleep(not_until.wait_time_from(self.clock.now())) => {}
                    _ = retuned => {}
                },
            }
        }
    }

    /// Sets the rate for one domain (or provider key) until cleared,
    /// overriding `[limits]`.
    pub fn set_domain_rate(&self, domain: &str, rate: Rate) {
        let domain = normalize(domain);
        let mut s = self.lock();
        if s.runtime.len() >= MAX_RUNTIME_OVERRIDES && !s.runtime.contains_key(&domain) {
            let oldest = s.runtime.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                s.runtime.remove(&k);
                s.limiters.remove(&k);
            }
        }
        s.runtime.insert(domain.clone(), (rate, Instant::now()));
        s.retune(&domain, rate, self.clock);
        drop(s);
        self.retuned.notify_waiters();
    }

    /// Drops a runtime override: the domain goes back to its configured rate.
    pub fn clear_domain_rate(&self, domain: &str) {
        let domain = normalize(domain);
        let mut s = self.lock();
        if s.runtime.remove(&domain).is_some() {
            let rate = s.configured_rate(&domain);
            s.retune(&domain, rate, self.clock);
            drop(s);
            self.retuned.notify_waiters();
        }
    }

    /// The rate in force for `domain`: runtime override, else `[limits.domain]`,
    /// else `[limits] per_domain`.
    pub fn domain_rate(&self, domain: &str) -> Rate {
        let domain = normalize(domain);
        let s = self.lock();
        s.runtime.get(&domain).map_or_else(|| s.configured_rate(&domain), |(r, _)| *r)
    }

    /// Changes the global rate.
    pub fn set_global_rate(&self, rate: Rate) {
        let mut s = self.lock();
        if s.global.as_ref().map_or(Rate::Unlimited, |(r, _)| *r) != rate {
            s.global = limiter(rate, self.clock).map(|l| (rate, l));
            drop(s);
            self.retuned.notify_waiters();
        }
    }

    /// The global rate in force.
    pub fn global_rate(&self) -> Rate {
        self.lock().global.as_ref().map_or(Rate::Unlimited, |(r, _)| *r)
    }

    /// The connection cap.
    pub fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Acquire)
    }

    /// Connection slots free right now.
    pub fn available_connections(&self) -> usize {
        self.connections.available_permits()
    }

    /// Domains with a live limiter (for metrics; bounded by pruning).
    pub fn tracked_domains(&self) -> usize {
        self.lock().limiters.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the maps usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// `[limits.domain]` for `domain`, else `[limits] per_domain`.
    fn configured_rate(&self, domain: &str) -> Rate {
        self.configured.get(domain).copied().unwrap_or(self.per_domain)
    }

    /// The limiter for a domain, created on first use; `None` when unlimited.
    fn domain_limiter(&mut self, domain: &str, t: &Throttle) -> Option<Arc<Limiter>> {
        let now = Instant::now();
        if let Some(d) = self.limiters.get_mut(domain) {
            d.last_used = now;
            return Some(Arc::clone(&d.limiter));
        }
        let rate = self.runtime.get(domain).map_or_else(|| self.configured_rate(domain), |(r, _)| *r);
        let l = limiter(rate, t.clock)?;
        if self.limiters.len() >= self.next_prune {
            self.prune(now);
        }
        self.limiters.insert(domain.to_string(), DomainLimiter { rate, limiter: Arc::clone(&l), last_used: now });
        Some(l)
    }

    /// Replaces a domain's limiter when its rate changes.
    fn retune(&mut self, domain: &str, rate: Rate, clock: TokioClock) {
        if self.limiters.get(domain).is_some_and(|d| d.rate == rate) {
            return;
        }
        match limiter(rate, clock) {
            Some(l) => {
                self.limiters.insert(domain.to_string(), DomainLimiter { rate, limiter: l, last_used: Instant::now() });
            }
            None => {
                self.limiters.remove(domain);
            }
        }
    }

    /// Drops limiters nobody waits on that are fully replenished; the next
    /// prune comes when the map has doubled, so pruning stays amortized O(1).
    fn prune(&mut self, now: Instant) {
        self.limiters.retain(|_, d| {
            let refill = d.rate.interval().unwrap_or_default().saturating_mul(BURST.get());
            Arc::strong_count(&d.limiter) > 1 || now.saturating_duration_since(d.last_used) < refill
        });
        self.next_prune = (self.limiters.len() * 2).max(PRUNE_AT);
    }
}

/// A limiter for a rate; `None` for unlimited (or too fast to measure).
fn limiter(rate: Rate, clock: TokioClock) -> Option<Arc<Limiter>> {
    let interval: Duration = rate.interval()?;
    let quota = Quota::with_period(interval)?.allow_burst(BURST);
    Some(Arc::new(RateLimiter::direct_with_clock(quota, clock)))
}

fn normalize(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;

impl crate::reputation::guard::RateControl for Throttle {
    fn set_provider_rate(&self, provider: &str, rate: Rate) {
        self.set_domain_rate(provider, rate);
    }
}
