//! The supervisor and the stop result: a task that panics, returns an
//! error or ends early stops the daemon with the task-failure exit code;
//! an overrun drain and a failed final flush have codes of their own.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::supervisor::{Ending, Supervisor};
use super::*;

const DEADLINE: Duration = Duration::from_secs(5);

/// A well-behaved task: runs until the cancel.
fn steady(cancel: &CancellationToken) -> impl std::future::Future<Output = ()> + Send + 'static {
    let c = cancel.clone();
    async move { c.cancelled().await }
}

/// Spawns a steady task and `bad` as `name`; waits for the stop the failure
/// causes; returns the drain's result.
async fn stop_after<F>(name: &'static str, bad: F) -> Drained
where
    F: std::future::Future + Send + 'static,
    F::Output: supervisor::TaskOutcome,
{
    let cancel = CancellationToken::new();
    let sup = Supervisor::new(cancel.clone());
    sup.spawn("steady", steady(&cancel));
    sup.spawn(name, bad);
    cancel.cancelled().await;
    sup.drain(DEADLINE).await
}

fn code(drained: Drained, flush: Result<(), StoreError>) -> Option<u8> {
    stop_result(drained, DEADLINE, flush).err().map(|e| e.exit_code())
}

#[tokio::test]
async fn a_panicking_task_stops_the_daemon_with_the_task_code() {
    let index = std::hint::black_box(7usize);
    let drained = stop_after("boom", async move {
        let v: Vec<u8> = Vec::new();
        if index >= v.len() {
            panic!("index out of range");
        }
    })
    .await;
    assert!(!drained.overrun, "the steady task stopped on the cancel");
    assert_eq!(drained.failures.len(), 1, "{:?}", drained.failures);
    assert_eq!(drained.failures[0].task, "boom");
    assert_eq!(drained.failures[0].ending, Ending::Panicked("index out of range".into()));
    assert!(drained.failures[0].to_string().contains("task `boom` panicked: index out of range"));
    assert_eq!(code(drained, Ok(())), Some(EXIT_TASK_FAILED));
}

#[tokio::test]
async fn a_task_error_stops_the_daemon_with_the_task_code() {
    let drained = stop_after("spool", async { Err::<(), _>("directory gone") }).await;
    assert_eq!(drained.failures[0].ending, Ending::Failed("directory gone".into()));
    assert_eq!(code(drained, Ok(())), Some(EXIT_TASK_FAILED));
}

#[tokio::test]
async fn a_task_ending_early_stops_the_daemon_with_the_task_code() {
    let drained = stop_after("listener", async {}).await;
    assert_eq!(drained.failures[0].task, "listener");
    assert_eq!(drained.failures[0].ending, Ending::Early);
    assert_eq!(code(drained, Ok(())), Some(EXIT_TASK_FAILED));
}

#[tokio::test]
async fn tasks_ending_after_the_cancel_are_a_clean_stop() {
    let cancel = CancellationToken::new();
    let sup = Supervisor::new(cancel.clone());
    sup.spawn("steady", steady(&cancel));
    let c = cancel.clone();
    sup.spawn("fallible", async move {
        c.cancelled().await;
        Ok::<(), String>(())
    });
    cancel.cancel();
    let drained = sup.drain(DEADLINE).await;
    assert!(drained.failures.is_empty() && !drained.overrun, "{drained:?}");
    assert_eq!(code(drained, Ok(())), None);
}

#[tokio::test(start_paused = true)]
async fn an_overrun_drain_and_a_failed_flush_have_codes_of_their_own() {
    let cancel = CancellationToken::new();
    let sup = Supervisor::new(cancel.clone());
    // Ignores the cancel: the drain deadline passes with it running.
    sup.spawn("stuck", std::future::pending::<()>());
    cancel.cancel();
    let drained = sup.drain(DEADLINE).await;
    assert!(drained.overrun);
    assert_eq!(code(drained, Ok(())), Some(EXIT_DRAIN_OVERRUN));

    let clean = Drained::default();
    assert_eq!(code(clean, Err(StoreError::Closed)), Some(EXIT_FLUSH_FAILED));
    let codes = [EXIT_TASK_FAILED, EXIT_DRAIN_OVERRUN, EXIT_FLUSH_FAILED];
    assert!(codes.iter().all(|&c| c != 0 && c != crate::cli::EX_USAGE && c != crate::cli::EX_TEMPFAIL));
    assert_ne!(EXIT_TASK_FAILED, EXIT_DRAIN_OVERRUN);
    assert_ne!(EXIT_DRAIN_OVERRUN, EXIT_FLUSH_FAILED);
    assert_ne!(EXIT_TASK_FAILED, EXIT_FLUSH_FAILED);
}

#[tokio::test]
async fn the_first_failure_decides_over_overrun_and_flush() {
    let drained = stop_after("first", async { Err::<(), _>("first") }).await;
    let drained = Drained { overrun: true, ..drained };
    assert_eq!(code(drained, Err(StoreError::Closed)), Some(EXIT_TASK_FAILED));
}

#[test]
fn rounds_give_up_after_the_limit_in_a_row() {
    let mut r = supervisor::Rounds::new(3);
    assert_eq!(r.failed("a").ok(), Some(1));
    assert_eq!(r.failed("b").ok(), Some(2));
    r.ok();
    assert_eq!(r.failed("c").ok(), Some(1));
    assert_eq!(r.failed("d").ok(), Some(2));
    let gave_up = r.failed("e").unwrap_err();
    assert_eq!((gave_up.rounds, gave_up.last), (3, "e"));
    assert_eq!(gave_up.to_string(), "failed 3 rounds in a row, last: e");
}
