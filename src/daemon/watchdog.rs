//! The systemd watchdog and status line: a task that, every half watchdog
//! period, asks the [`Liveness`] tracker whether every part beat recently
//! and sends `WATCHDOG=1` only then, with `STATUS=` a one-line summary
//! (queue depth, messages sent in the last minute, sending or held). A
//! stalled part is logged by name, shown in the status line, and gets no
//! ping: systemd kills the daemon after `WatchdogSec=` and restarts it.
//! Without a watchdog period the status line is still kept up to date.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;
use super::notify::{Notifier, status_line};
use crate::reputation::guard::Guard;
use crate::store::Store;

/// How often the status line is refreshed when there is no watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// How the watchdog runs.
#[derive(Debug, Clone, Copy)]
pub struct WatchdogSettings {
    /// systemd's `WatchdogSec=`, when it asked for pings.
    pub period: Option<Duration>,
}

impl WatchdogSettings {
    /// How often a healthy part must beat: a quarter of the period (so a
    /// part that misses a beat or two is not called stalled), at most
    /// five seconds.
    pub fn beat_every(&self) -> Duration {
        self.period.map_or(Duration::from_secs(5), |p| (p / 4).clamp(Duration::from_millis(50), Duration::from_secs(5)))
    }

    /// How long a part may stay silent before the pings stop.
    fn allowed_silence(&self) -> Duration {
        self.period.unwrap_or(Duration::from_secs(60))
    }

    fn round(&self) -> Duration {
        self.period.map_or(STATUS_EVERY, |p| p / 2)
    }
}

/// Pings and status lines until `cancel`; `summary` gives the status line.
pub async fn run(
    notifier: Notifier,
    settings: WatchdogSettings,
    liveness: Liveness,
    mut summary: impl FnMut() -> String + Send,
    cancel: CancellationToken,
) {
    let mut was_stalled: Vec<&'static str> = Vec::new();
    loop {
        let stalled = liveness.stalled(settings.allowed_silence());
        let status = if stalled.is_empty() {
            if !was_stalled.is_empty() {
                tracing::info!("every part of the daemon is moving again");
            }
            summary()
        } else {
            if stalled != was_stalled {
                tracing::error!(
                    stalled = %stalled.join(", "),
                    silent_for_more_than = ?settings.allowed_silence(),
                    "parts of the daemon made no progress; no watchdog ping, the service manager will restart winback"
                );
            }
            format!("stalled: {} (no watchdog ping)", stalled.join(", "))
        };
        let status = status_line(&status);
        let mut lines = vec![status.as_str()];
        if settings.period.is_some() && stalled.is_empty() {
            lines.push("WATCHDOG=1");
        }
        if let Err(e) = notifier.send(&lines) {
            tracing::warn!("cannot notify the service manager: {e}");
        }
        was_stalled = stalled;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(settings.round()) => {}
        }
    }
}

/// The status line's figures, read from the store and the guard.
pub struct Summary {
    store: Store,
    guard: Arc<Guard>,
    /// `messages:sent` totals seen, oldest first, over the last minute.
    sent: VecDeque<(Instant, i64)>,
}

impl Summary {
    /// Reads from `store` and `guard`; the total sent so far is the first
    /// sample, so messages sent before the first line count in it.
    pub fn new(store: Store, guard: Arc<Guard>) -> Summary {
        let mut sent = VecDeque::new();
        if let Ok(total) = store.read().and_then(|r| r.counts()).map(|c| c.get("messages:sent")) {
            sent.push_back((Instant::now(), total));
        }
        Summary { store, guard, sent }
    }

    /// "queue 3, sent 120 in the last minute, sending" (or "held: why").
    pub fn line(&mut self) -> String {
        let read = self.store.read().and_then(|r| Ok((r.queue_depth()?, r.counts()?.get("messages:sent"))));
        let (queue, sent_total) = match read {
            Ok(v) => v,
            Err(e) => return format!("store unreadable: {e}"),
        };
        let now = Instant::now();
        self.sent.push_back((now, sent_total));
        while self.sent.len() > 1 && self.sent.get(1).is_some_and(|(t, _)| now - *t >= Duration::from_secs(60)) {
            self.sent.pop_front();
        }
        let minute_ago = self.sent.front().map_or(sent_total, |(_, n)| *n);
        let sending = match self.guard.global_hold() {
            Some(hold) => format!("held: {}", crate::outbound::sender::describe(&hold)),
            None => "sending".to_string(),
        };
        format!("queue {queue}, sent {} in the last minute, {sending}", sent_total - minute_ago)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn received(sock: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn pings_stop_when_a_part_stalls_and_come_back_when_it_moves() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let settings = WatchdogSettings { period: Some(Duration::from_secs(4)) };
        let live = Liveness::new(settings.beat_every());
        let (scheduler, sender) = (live.register("scheduler"), live.register("sender"));
        let stall = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cancel = CancellationToken::new();
        let beats = {
            let (stall, every) = (stall.clone(), settings.beat_every());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    scheduler.beat();
                    if !stall.load(std::sync::atomic::Ordering::Relaxed) {
                        sender.beat();
                    }
                }
            })
        };
        let notifier = Notifier::from_socket(ours);
        let task = tokio::spawn(run(notifier, settings, live, || "queue 0".to_string(), cancel.clone()));

        tokio::time::sleep(Duration::from_secs(20)).await;
        let healthy = received(&theirs);
        assert!(healthy.len() >= 9, "a ping every half period: {healthy:?}");
        assert!(healthy.iter().all(|m| m == "STATUS=queue 0\nWATCHDOG=1\n"), "{healthy:?}");

        stall.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(20)).await;
        let stalled = received(&theirs);
        let pings = stalled.iter().filter(|m| m.contains("WATCHDOG=1")).count();
        assert!(pings <= 2, "at most the rounds before the silence was too long: {stalled:?}");
        let last = stalled.last().expect("status lines go on");
        assert_eq!(last, "STATUS=stalled: sender (no watchdog ping)\n");

        stall.store(false, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(received(&theirs).iter().any(|m| m.contains("WATCHDOG=1")), "pings again");
        cancel.cancel();
        task.await.unwrap();
        beats.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_watchdog_period_only_the_status_is_sent() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let settings = WatchdogSettings { period: None };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            Notifier::from_socket(ours),
            settings,
            Liveness::new(settings.beat_every()),
            || "queue 1".into(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(25)).await;
        let got = received(&theirs);
        assert_eq!(got, vec!["STATUS=queue 1\n"; 3]);
        cancel.cancel();
        task.await.unwrap();
    }
}
