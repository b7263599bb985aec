//! `winback serve`: run the daemon in the foreground (systemd runs it so).

use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::common::{CmdResult, Failure, load_config};
use crate::clock::Clock;
use crate::daemon::{self, DaemonError, Listeners};

/// Loads the config, sets up logging, runs the daemon until a signal.
pub fn run(config: Option<&std::path::Path>) -> CmdResult {
    let cfg = Arc::new(load_config(config)?);
    init_logging();
    // Before anything is bound or opened: a second daemon on the same
    // state directory must touch nothing.
    let _lock = daemon::lock::acquire(&cfg.state_dir).map_err(|e| match e {
        daemon::lock::LockError::Held { .. } => Failure::new(super::EX_TEMPFAIL, e.to_string()),
        daemon::lock::LockError::Io { .. } => Failure::new(super::EX_IOERR, e.to_string()),
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(super::EX_SOFTWARE, format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        daemon::cancel_on_signals(cancel.clone())
            .map_err(|e| Failure::new(super::EX_SOFTWARE, format!("cannot install signal handlers: {e}")))?;
        let listeners = Listeners::bind(&cfg).await.map_err(daemon_failure)?;
        daemon::run(cfg, listeners, Clock::system(), cancel).await.map_err(daemon_failure)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn daemon_failure(e: DaemonError) -> Failure {
    let code = match &e {
        DaemonError::Store(crate::store::StoreError::Locked(_)) => super::EX_TEMPFAIL,
        DaemonError::Setup(_) => super::EX_USAGE,
        DaemonError::Bind { .. } => super::EX_UNAVAILABLE,
        _ => super::EX_SOFTWARE,
    };
    Failure::new(code, e.to_string())
}

/// Logs to stderr (journald keeps it); `RUST_LOG` overrides the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
