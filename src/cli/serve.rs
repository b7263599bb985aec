//! `winback serve`: run the daemon in the foreground (systemd runs it so).

use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::common::{CmdResult, Failure, load_config};
use crate::clock::Clock;
use crate::daemon::logging::LogFormat;
use crate::daemon::{self, DaemonError, Listeners};

/// Exit statuses of `serve`, for `winback serve --help`.
pub const EXIT_STATUS_HELP: &str = "Exit status:
  0   clean stop (SIGTERM/SIGINT, drained, store flushed)
  64  configuration or setup error (not worth restarting)
  69  a listener cannot be bound
  70  a long-running task failed, panicked or ended early (the log names it;
      the daemon drained first), or an internal error at start
  74  the final store commit at stop failed
  75  the store is in use by another process
  80  the drain deadline passed with work still running";

/// `winback serve` options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Log line format on stderr: `auto` is `journal` (syslog priorities, no
    /// timestamps) under systemd's journal, else `text`; `json` for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, env = "WINBACK_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// Loads the config, sets up logging, runs the daemon until a signal.
pub fn run(config: Option<&std::path::Path>, args: ServeArgs) -> CmdResult {
    let cfg = Arc::new(load_config(config)?);
    daemon::logging::init(args.log_format);
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
    Failure::new(e.exit_code(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::EXIT_STATUS_HELP;
    use crate::daemon::{EXIT_DRAIN_OVERRUN, EXIT_FLUSH_FAILED, EXIT_TASK_FAILED};

    #[test]
    fn the_help_lists_the_codes_serve_uses() {
        for code in [0, super::super::EX_USAGE, super::super::EX_UNAVAILABLE, super::super::EX_TEMPFAIL] {
            assert!(EXIT_STATUS_HELP.contains(&format!("\n  {code:<2}  ")), "{code} missing");
        }
        for code in [EXIT_TASK_FAILED, EXIT_FLUSH_FAILED, EXIT_DRAIN_OVERRUN] {
            assert!(EXIT_STATUS_HELP.contains(&format!("\n  {code}  ")), "{code} missing");
        }
    }
}
