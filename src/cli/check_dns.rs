//! `winback check-dns`: one run of the DNS health check of the sending
//! setup, printed as text or JSON.

use std::path::Path;
use std::process::ExitCode;

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
/// 64 configuration error, 69 no resolver.
pub fn run(config: Option<&Path>, args: CheckDnsArgs) -> ExitCode {
    let cfg = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("winback check-dns: {e}");
            return ExitCode::from(super::EX_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("winback check-dns: cannot start the async runtime: {e}");
            return ExitCode::from(super::EX_SOFTWARE);
        }
    };
    runtime.block_on(async {
        let resolver = match Resolver::from_config(&cfg.dns) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("winback check-dns: {e}");
                return ExitCode::from(super::EX_UNAVAILABLE);
            }
        };
        let report = check_health(&resolver, &HealthSetup::from_config(&cfg)).await;
        if args.json {
            match serde_json::to_string_pretty(&report) {
                Ok(j) => println!("{j}"),
                Err(e) => {
                    eprintln!("winback check-dns: cannot encode the report: {e}");
                    return ExitCode::from(super::EX_SOFTWARE);
                }
            }
        } else {
            print!("{report}");
        }
        ExitCode::from(report.exit_code())
    })
}
