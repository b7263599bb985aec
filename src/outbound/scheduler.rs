//! The scheduler task: at every tick (and whenever woken), advance the due
//! contacts through the engine in batches, and wake the sender when
//! messages were queued. Sleeps until the next due time or the tick,
//! whichever is sooner, so an idle daemon costs nothing. It beats its
//! [`Heartbeat`] at every pass (and wakes at least as often as the
//! heartbeat asks).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::live::Live;
use crate::daemon::liveness::Heartbeat;
use crate::engine;
use crate::store::{Committer, Store, StoreError};

/// Runs until cancelled. A failed pass is retried at the next tick; a
/// store that can take no more writes (its commit thread is gone) is an
/// error, for the supervisor.
pub async fn run(
    cfg: Live<Config>,
    store: Store,
    committer: Committer,
    clock: Clock,
    wake_sender: Arc<Notify>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), StoreError> {
    loop {
        // Taken anew every pass: a reload applies from the next one.
        let cfg = cfg.get();
        let batch = cfg.scheduler.batch;
        heartbeat.beat();
        let now = clock.now();
        let c = cfg.clone();
        match committer.run(move |w| engine::tick(w, &c, now, batch)).await {
            Ok(r) => {
                if !r.queued.is_empty() {
                    tracing::debug!(queued = r.queued.len(), entered = r.entered, sunset = r.sunset, "scheduler pass");
                    wake_sender.notify_one();
                }
                if r.sunset > 0 {
                    tracing::info!(count = r.sunset, "contacts sunset (suppressed as unengaged)");
                }
                if r.examined >= batch {
                    // More is due right now: go on without sleeping, but
                    // give shutdown a chance.
                    if cancel.is_cancelled() {
                        return Ok(());
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
            }
            Err(StoreError::Closed) => return Err(StoreError::Closed),
            Err(e) => tracing::error!("scheduler pass failed, retrying at the next tick: {e}"),
        }
        let wait = match store.read().and_then(|r| r.next_wakeup()) {
            Ok(Some(t)) => Duration::from_millis(u64::try_from(t - clock.now()).unwrap_or(0)).min(cfg.scheduler.tick),
            _ => cfg.scheduler.tick,
        };
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait.clamp(Duration::from_millis(10), heartbeat.every())) => {}
        }
    }
}
