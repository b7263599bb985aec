//! The sender task: takes ready messages from the outbox and sends each in
//! its own task: throttle first (cancellable: a message still waiting is
//! simply left queued at shutdown), then the durable "sending" mark, then
//! composition and the SMTP transaction (never cut short: shutdown waits
//! for it, within the drain deadline), then the durable outcome. The
//! connection slot is held from the "sending" mark to the end of the
//! transaction, not through the outcome's commit.
//!
//! Reputation: the [`Guard`] is asked before each message. While all
//! sending is paused (or the warm-up cap is used up) nothing is dispatched
//! and every message keeps its place; a message for a suspended provider
//! is postponed to the end of the suspension. Every outcome is told to the
//! guard, which retunes the throttle per provider. The throttle is keyed by
//! provider, so one provider's rate covers all the domains it hosts.
//!
//! Bounded: at most `scheduler.queue` messages are dispatched at once, and
//! at most a fair share of them may wait on one recipient domain, so a
//! slow domain cannot hold up the others.
//!
//! Reload: the configuration and the composer (templates, subjects) are
//! [`Live`] values, taken once per message when its send begins, so a
//! message is composed and recorded under one configuration throughout,
//! and the next one under the new one. The dispatch bound
//! (`scheduler.queue`) is fixed at start.
//!
//! Liveness: the dispatch loop beats its [`Heartbeat`] at every pass (it
//! wakes at least as often as the heartbeat asks) and every ended send
//! beats too.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::compose::{Bodies, Composer, OutgoingMessage};
use super::retry;
use super::throttle::Throttle;
use super::transport::{SendOutcome, Transport};
use crate::clock::{Clock, ms};
use crate::config::Config;
use crate::config::live::Live;
use crate::daemon::liveness::Heartbeat;
use crate::engine::{self, Attempt, BeginSend};
use crate::reputation::guard::Guard;
use crate::reputation::{Gate, Reason, SignalKind};
use crate::store::{Committer, Store};

/// Transforms a message's HTML for tracking; returns the tracked links.
pub type Instrument = Arc<dyn Fn(u64, Bodies) -> (Bodies, Vec<String>) + Send + Sync>;

/// Everything the sender needs.
#[derive(Clone)]
pub struct Sender {
    /// Configuration (replaced on reload).
    pub cfg: Live<Config>,
    /// Reads of the outbox.
    pub store: Store,
    /// Durable writes.
    pub committer: Committer,
    /// Time.
    pub clock: Clock,
    /// Message building (replaced on reload).
    pub composer: Live<Composer>,
    /// Where mail goes.
    pub transport: Arc<Transport>,
    /// Rates and connection cap.
    pub throttle: Arc<Throttle>,
    /// Optional HTML transformation (tracking) returning the tracked links.
    pub instrument: Option<Instrument>,
    /// Reputation: asked before each message, told every outcome.
    pub guard: Arc<Guard>,
    /// Beaten at every pass of the dispatch loop and when a send ends.
    pub heartbeat: Heartbeat,
}

#[derive(Default)]
struct InFlight {
    ids: HashSet<u64>,
    per_domain: HashMap<String, usize>,
}

impl Sender {
    /// Runs until cancelled; in-flight transactions are tracked by `tracker`.
    pub async fn run(self, wake: Arc<Notify>, cancel: CancellationToken, tracker: TaskTracker) {
        let queue = self.cfg.get().scheduler.queue;
        let slots = Arc::new(Semaphore::new(queue));
        let per_domain_cap = (queue / 4).max(1);
        let inflight = Arc::new(Mutex::new(InFlight::default()));
        let mut held = false;
        loop {
            let tick = self.cfg.get().scheduler.tick.min(self.heartbeat.every());
            self.heartbeat.beat();
            if let Some(hold) = self.guard.global_hold() {
                if !held {
                    tracing::warn!("sending held: {}", describe(&hold));
                    held = true;
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(tick) => {}
                }
                continue;
            } else if held {
                tracing::info!("sending goes on where it stopped");
                held = false;
            }
            let now = self.clock.now();
            let mut dispatched = 0usize;
            let mut postponed = Vec::new();
            for (id, domain, first) in self.candidates(now, queue * 2, &inflight) {
                if let Some(Gate::Suspended { until }) =
                    self.guard.cached_provider(&domain).map(|p| self.guard.gate(&p))
                {
                    postponed.push((id, until));
                    continue;
                }
                {
                    let f = inflight.lock().unwrap_or_else(|p| p.into_inner());
                    if f.ids.contains(&id) || f.per_domain.get(&domain).copied().unwrap_or(0) >= per_domain_cap {
                        continue;
                    }
                }
                let permit = tokio::select! {
                    _ = cancel.cancelled() => return,
                    p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                };
                {
                    let mut f = inflight.lock().unwrap_or_else(|p| p.into_inner());
                    f.ids.insert(id);
                    *f.per_domain.entry(domain.clone()).or_default() += 1;
                }
                dispatched += 1;
                let me = self.clone();
                let (inflight, cancel, wake) = (inflight.clone(), cancel.clone(), wake.clone());
                tracker.spawn(async move {
                    me.send_one(id, &domain, first, &cancel).await;
                    me.heartbeat.beat();
                    let mut f = inflight.lock().unwrap_or_else(|p| p.into_inner());
                    f.ids.remove(&id);
                    if let Some(n) = f.per_domain.get_mut(&domain) {
                        *n -= 1;
                        if *n == 0 {
                            f.per_domain.remove(&domain);
                        }
                    }
                    drop(permit);
                    // A slot came free: look at the outbox again.
                    wake.notify_one();
                });
            }
            if !postponed.is_empty() {
                self.postpone(postponed).await;
            }
            let wait = if dispatched > 0 { Duration::from_millis(20) } else { tick };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Ready messages not already in flight, with their domains and
    /// whether this is their first attempt, read in
    /// one short snapshot (not held while waiting for dispatch slots, so
    /// it never pins old pages of the store).
    fn candidates(
        &self,
        now: crate::clock::Millis,
        limit: usize,
        inflight: &Mutex<InFlight>,
    ) -> Vec<(u64, String, bool)> {
        let read = self.store.read().and_then(|r| {
            let ready = r.ready_messages(now, limit)?;
            let mut out = Vec::with_capacity(ready.len());
            for id in ready {
                // Most of a full outbox is already in flight: skip those
                // before decoding their records.
                if inflight.lock().unwrap_or_else(|p| p.into_inner()).ids.contains(&id) {
                    continue;
                }
                // An unreadable record is skipped, not allowed to stop the
                // others from going out.
                if let Ok(Some(m)) = r.message(id) {
                    out.push((id, m.domain().to_string(), m.attempts == 0));
                }
            }
            Ok(out)
        });
        read.unwrap_or_else(|e| {
            tracing::error!("sender: cannot read the outbox: {e}");
            Vec::new()
        })
    }

    /// Moves messages for suspended providers to the end of the suspension.
    async fn postpone(&self, ids: Vec<(u64, i64)>) {
        let n = ids.len();
        let moved = self
            .committer
            .run(move |w| {
                ids.into_iter().try_fold(0usize, |n, (id, until)| Ok(n + usize::from(engine::postpone(w, id, until)?)))
            })
            .await;
        match moved {
            Ok(moved) => tracing::info!(count = moved, of = n, "messages for suspended providers postponed"),
            Err(e) => tracing::error!("cannot postpone messages for suspended providers: {e}"),
        }
    }

    /// `first`: the message has not been attempted yet (counted as sent).
    async fn send_one(&self, id: u64, domain: &str, first: bool, cancel: &CancellationToken) {
        let provider = tokio::select! {
            _ = cancel.cancelled() => return,
            p = self.guard.provider(domain) => p,
        };
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = self.throttle.acquire(provider.as_str()) => p,
        };
        // Asked after the wait (a pause may have begun meanwhile). A first
        // attempt is counted as sent here, atomically with the question; if
        // the message is then cancelled, one send too many is counted,
        // which only errs toward sending less.
        match self.guard.admit(&provider, first) {
            Gate::Send => {}
            Gate::Suspended { until } => return self.postpone(vec![(id, until)]).await,
            // Left queued; the dispatch loop holds until the pause ends.
            Gate::Paused { .. } | Gate::OverDailyCap { .. } => return,
        }
        // One configuration for the whole message, from here to its outcome.
        let (cfg, composer) = (self.cfg.get(), self.composer.get());
        let now = self.clock.now();
        let c = cfg.clone();
        let begun = match self.committer.run(move |w| engine::begin_send(w, &c, id, now)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(message = id, "cannot mark message as sending, left queued: {e}");
                return;
            }
        };
        let BeginSend::Go(boxed) = begun else { return };
        let (m, contact) = *boxed;
        let out = OutgoingMessage {
            id,
            contact: &contact,
            sequence: &m.sequence,
            step: m.step as usize,
            variant: m.variant.as_deref(),
        };
        let links = std::cell::RefCell::new(Vec::new());
        let composed = match &self.instrument {
            Some(f) => {
                let filter = |bodies: Bodies| {
                    let (bodies, l) = f(id, bodies);
                    *links.borrow_mut() = l;
                    bodies
                };
                composer.compose(&out, Some(&filter))
            }
            None => composer.compose(&out, None),
        };
        let links = links.into_inner();
        let (attempt, message_id) = match composed {
            Err(e) => {
                tracing::error!(message = id, email = %m.email, "cannot compose: {e}");
                (
                    Attempt::PermFail {
                        code: 554,
                        enhanced: None,
                        reply: format!("not sent: {e}"),
                        hard_bounce: false,
                    },
                    None,
                )
            }
            Ok(c) => {
                let outcome = self.transport.send(&c.envelope_from, &c.recipient, &c.bytes).await;
                let (attempt, signal) = classify(outcome, cfg.bounce.rules());
                self.guard.record(Some(provider.clone()), signal);
                (attempt, Some(c.message_id))
            }
        };
        // The connection slot is free once the transaction is over: holding
        // it through the outcome's commit too would leave the relay idle
        // for a durable write per message and cap throughput at
        // max_connections messages per two commits and one transaction. The message stays
        // marked "sending" until that commit, so crash safety is unchanged.
        drop(permit);
        let now = self.clock.now();
        let retry_at = now + ms(retry::retry_delay(m.attempts, &cfg.transport));
        let expired = retry::expired(m.first_attempt_at.unwrap_or(now), now, &cfg.transport);
        if let (Attempt::TempFail { reply }, true) = (&attempt, expired) {
            // Given up after retries: a soft bounce for the counters.
            self.guard.record(Some(provider), SignalKind::SoftBounce { reason: Reason::from_reply(400, reply) });
        }
        match &attempt {
            Attempt::Accepted { .. } => tracing::debug!(message = id, email = %m.email, "sent"),
            Attempt::TempFail { reply } => tracing::info!(message = id, email = %m.email, "deferred: {reply}"),
            Attempt::PermFail { reply, .. } => tracing::warn!(message = id, email = %m.email, "refused: {reply}"),
        }
        if let Err(e) = self
            .committer
            .run(move |w| engine::finish_send(w, &cfg, id, &attempt, message_id, links, retry_at, expired, now))
            .await
        {
            // The message stays marked as sending; the next start treats it
            // as interrupted (never resent), which is the safe side.
            tracing::error!(message = id, "cannot record the outcome: {e}");
        }
    }
}

/// Maps a transport outcome to the engine's view and the reputation
/// signal. A refusal is classified like a bounce message
/// with the rules in force ([`crate::bounce::classify_smtp_reply_with`]): a hard one (no such mailbox or
/// domain) suppresses the address; a sender-side one (block, reputation,
/// policy) counts toward the provider's suspension.
fn classify(o: SendOutcome, rules: &crate::bounce::Rules) -> (Attempt, SignalKind) {
    match o {
        SendOutcome::Sent { reply } => (Attempt::Accepted { reply }, SignalKind::Delivered),
        SendOutcome::Deferred { code, enhanced, text } => {
            let reply =
                [code.map(|c| c.to_string()), enhanced, Some(text)].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let code = code.unwrap_or(0);
            let signal = SignalKind::Deferred { code, reason: Reason::from_reply(code, &reply) };
            (Attempt::TempFail { reply }, signal)
        }
        SendOutcome::Failed { code, enhanced, text } => {
            let (why, hard_bounce) = crate::bounce::classify_smtp_reply_with(rules, code, enhanced.as_deref(), &text);
            let reason = Reason::from(why);
            let signal = if hard_bounce || reason.is_sender_side() {
                SignalKind::HardBounce { reason }
            } else {
                SignalKind::SoftBounce { reason }
            };
            (Attempt::PermFail { code, enhanced, reply: text, hard_bounce }, signal)
        }
    }
}

/// A hold on all sending, for the log.
/// Why sending is held, in words.
pub(crate) fn describe(g: &Gate) -> String {
    match g {
        Gate::Paused { reason, since } => format!("paused since {}: {reason}", crate::clock::rfc3339(*since)),
        Gate::OverDailyCap { until } => {
            format!("the warm-up's daily cap is used up until {}", crate::clock::rfc3339(*until))
        }
        Gate::Suspended { until } => format!("provider suspended until {}", crate::clock::rfc3339(*until)),
        Gate::Send => "not held".into(),
    }
}
