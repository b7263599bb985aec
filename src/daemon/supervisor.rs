//! Supervision of the daemon's long-running tasks. Each task runs under a
//! name and is watched: one that returns an error, panics, or ends before
//! the daemon was asked to stop is logged (which task, why) and cancels
//! the daemon, which drains and exits non-zero so systemd restarts it.
//!
//! A task's future returns `Result<(), E>` (`E: Display`) or `()` (a task
//! that handles its own errors; for it only an early end is a failure). A
//! polling task retries a failed round and gives up after a number of
//! failed rounds in a row ([`crate::rounds::Rounds`]).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::rounds::{GaveUp, Rounds};

/// What a supervised task returns; see the module doc.
pub trait TaskOutcome: Send + 'static {
    /// `Err` with the reason when the task failed.
    fn into_result(self) -> Result<(), String>;
}

impl TaskOutcome for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display + Send + 'static> TaskOutcome for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// How a supervised task ended when it should not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It returned without error before the daemon was asked to stop.
    Early,
    /// It returned an error.
    Failed(String),
    /// It panicked.
    Panicked(String),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Early => f.write_str("ended before the daemon was asked to stop"),
            Ending::Failed(why) => write!(f, "failed: {why}"),
            Ending::Panicked(why) => write!(f, "panicked: {why}"),
        }
    }
}

/// A supervised task that ended unexpectedly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task `{task}` {ending}")]
pub struct TaskFailure {
    /// The task's name.
    pub task: &'static str,
    /// How it ended.
    pub ending: Ending,
}

/// What the drain found.
#[derive(Debug, Default)]
pub struct Drained {
    /// Tasks that ended unexpectedly, first failure first.
    pub failures: Vec<TaskFailure>,
    /// The drain deadline passed with tasks still running.
    pub overrun: bool,
}

/// Spawns named tasks on one tracker and watches how they end.
pub struct Supervisor {
    tracker: TaskTracker,
    cancel: CancellationToken,
    failures: mpsc::UnboundedSender<TaskFailure>,
    reports: mpsc::UnboundedReceiver<TaskFailure>,
}

impl Supervisor {
    /// A supervisor whose failures cancel `cancel` (the daemon's stop).
    pub fn new(cancel: CancellationToken) -> Supervisor {
        let (failures, reports) = mpsc::unbounded_channel();
        Supervisor { tracker: TaskTracker::new(), cancel, failures, reports }
    }

    /// The tracker, for tasks that spawn short-lived work of their own
    /// (connections, transactions) that the drain must wait for.
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// Runs `task` as `name` under supervision.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let handle = self.tracker.spawn(task);
        let (cancel, failures) = (self.cancel.clone(), self.failures.clone());
        self.tracker.spawn(async move {
            let ending = match handle.await {
                Ok(out) => match out.into_result() {
                    Ok(()) if cancel.is_cancelled() => return,
                    Ok(()) => Ending::Early,
                    Err(why) => Ending::Failed(why),
                },
                Err(e) if e.is_panic() => Ending::Panicked(panic_message(e.into_panic())),
                Err(e) => Ending::Failed(e.to_string()),
            };
            let failure = TaskFailure { task: name, ending };
            tracing::error!(task = name, "{failure}; stopping so the service manager restarts winback");
            // Reported before the cancel, so whoever wakes on the cancel sees it.
            let _ = failures.send(failure);
            cancel.cancel();
        });
    }

    /// After the cancel: waits up to `deadline` for every task, and says
    /// which failed and whether the deadline passed.
    pub async fn drain(mut self, deadline: Duration) -> Drained {
        self.tracker.close();
        let overrun = tokio::time::timeout(deadline, self.tracker.wait()).await.is_err();
        let mut failures = Vec::new();
        while let Ok(f) = self.reports.try_recv() {
            failures.push(f);
        }
        Drained { failures, overrun }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "(no message)".to_string(), |s| s.to_string()),
    }
}
