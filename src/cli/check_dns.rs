//! `winback check-dns`: one run of the DNS health check of the sending
//! setup, printed as text or JSON.

use std::process::ExitCode;

use super::common::{CmdResult, Failure, print};
use crate::config::Config;
use crate::dns::Resolver;
use crate::dns::health::{HealthSetup, check_health};

/// Options of `check-dns`.
#[derive(Debug, clap::Args)]
pub struct CheckDnsArgs {
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the check. Exit codes: 0 nothing failed (warnings allowed),
/// 1 a check failed, 75 nothing failed but a check could not run,
/// 69 no resolver (64 for configuration errors comes from the caller).
pub fn run(cfg: &Config, args: CheckDnsArgs) -> CmdResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(super::EX_SOFTWARE, format!("cannot start the async runtime: {e}")))?;
    let report = runtime.block_on(async {
        let resolver =
            Resolver::from_config(&cfg.dns).map_err(|e| Failure::new(super::EX_UNAVAILABLE, e.to_string()))?;
        Ok::<_, Failure>(check_health(&resolver, &HealthSetup::from_config(cfg)).await)
    })?;
    print(args.json, &report, || report.to_string());
    Ok(ExitCode::from(report.exit_code()))
}
