//! `winback customers [--json]`: segment sizes, revenue, average CLV,
//! lapsed and at-risk counts; `winback customers refresh`: every score now.
//! `winback customers model`: fits the BG/NBD and Gamma–Gamma models to
//! every buyer's purchases (through the daemon when it runs, else on the
//! store), shows the parameters, the log-likelihood and the mean CLV, and,
//! with `--as-of`, the calibration/holdout check: predicted against actual
//! purchases after that date (up to `--until`, default now), in total and
//! by frequency.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::common::{CmdResult, Failure, call, print, unexpected};
use crate::admin::{Request, Response};
use crate::clock::{parse_time, rfc3339};
use crate::config::Config;
use crate::customers::{ModelReport, Unit};

/// `winback customers [--json] [SUBCOMMAND]`
#[derive(Debug, Args)]
pub struct CustomersArgs {
    /// Without one: the overview.
    #[command(subcommand)]
    cmd: Option<CustomersCmd>,
    /// JSON output (the overview).
    #[arg(long)]
    json: bool,
}

/// `winback customers …`
#[derive(Debug, Subcommand)]
pub enum CustomersCmd {
    /// Refresh every customer's scores (RFM, P(alive), CLV) now.
    Refresh {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fit the purchase models and show how well they predict.
    Model {
        /// Fit on purchases up to this date (RFC 3339 or YYYY-MM-DD); later
        /// purchases are compared with the prediction.
        #[arg(long)]
        as_of: Option<String>,
        /// End the holdout period at this date (default: now).
        #[arg(long, requires = "as_of")]
        until: Option<String>,
        /// The models' time unit.
        #[arg(long, value_enum, default_value_t = UnitArg::Weeks)]
        unit: UnitArg,
        /// CLV horizon in that unit.
        #[arg(long, default_value_t = 52.0)]
        horizon: f64,
        /// Annual discount rate of the CLV (0.1 = 10%).
        #[arg(long, default_value_t = 0.1)]
        discount: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// The `--unit` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    /// Days.
    Days,
    /// Weeks.
    Weeks,
}

/// Runs `winback customers`.
pub fn run(cfg: &Config, args: CustomersArgs) -> CmdResult {
    let (as_of, until, unit, horizon, discount, json) = match args.cmd {
        None => return overview(cfg, args.json),
        Some(CustomersCmd::Refresh { json }) => return refresh(cfg, json),
        Some(CustomersCmd::Model { as_of, until, unit, horizon, discount, json }) => {
            (as_of, until, unit, horizon, discount, json)
        }
    };
    let bad = |m: String| Failure::new(super::EX_USAGE, m);
    let date = |flag: &str, s: Option<String>| match s {
        None => Ok(None),
        Some(s) => parse_time(&s).map(Some).ok_or_else(|| bad(format!("{flag} `{s}`: write 2026-06-01 or RFC 3339"))),
    };
    let (as_of, until) = (date("--as-of", as_of)?, date("--until", until)?);
    if let (Some(a), Some(u)) = (as_of, until)
        && u < a
    {
        return Err(bad("--until must not be before --as-of".into()));
    }
    if !(horizon.is_finite() && horizon > 0.0 && discount.is_finite() && discount > -1.0) {
        return Err(bad("--horizon must be positive and --discount above -1".into()));
    }
    let unit = match unit {
        UnitArg::Days => Unit::Days,
        UnitArg::Weeks => Unit::Weeks,
    };
    match call(cfg, Request::CustomersModel { as_of, unit, horizon, discount, until })? {
        Response::CustomersModel { report } => print(json, &report, || render(&report)),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

fn render(r: &ModelReport) -> String {
    let mut o = String::new();
    let unit = match r.unit {
        Unit::Days => "days",
        Unit::Weeks => "weeks",
    };
    let _ = writeln!(
        o,
        "purchases up to {} ({unit}): {} buyers, {} with a repeat purchase",
        rfc3339(r.as_of),
        r.buyers,
        r.repeat_buyers
    );
    if let Some(b) = &r.bgnbd {
        let p = b.params;
        let _ = writeln!(
            o,
            "BG/NBD: r {:.4}  alpha {:.4}  a {:.4}  b {:.4}  log-likelihood {:.2}",
            p.r, p.alpha, p.a, p.b, b.log_likelihood
        );
    }
    if let Some(m) = r.gamma_gamma.as_ref().and_then(|g| g.pooled_mean) {
        let _ = writeln!(o, "Gamma-Gamma: no spread between customers; population mean order value {m:.2}");
    } else if let Some(g) = &r.gamma_gamma {
        let p = g.params;
        let _ = writeln!(
            o,
            "Gamma-Gamma: p {:.4}  q {:.4}  gamma {:.4}  log-likelihood {:.2}  ({} customers)",
            p.p, p.q, p.gamma, g.log_likelihood, g.customers
        );
    }
    if let Some(v) = r.mean_clv {
        let _ = writeln!(o, "mean CLV: {v:.2}");
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    if let Some(h) = &r.holdout {
        let _ = writeln!(
            o,
            "holdout ({:.1} {unit} after {}): predicted {:.1} purchases, actual {}",
            h.length,
            rfc3339(r.as_of),
            h.predicted,
            h.actual
        );
        let _ = writeln!(o, "  repeat purchases before   customers   predicted/customer   actual/customer");
        for g in &h.by_frequency {
            let _ = writeln!(o, "  {:<24} {:>9} {:>20.3} {:>17.3}", g.frequency, g.customers, g.predicted, g.actual);
        }
    }
    o
}

fn overview(cfg: &Config, json: bool) -> CmdResult {
    match call(cfg, Request::Customers)? {
        Response::Customers { overview } => print(json, &overview, || super::customers_view::overview(&overview)),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

fn refresh(cfg: &Config, json: bool) -> CmdResult {
    match call(cfg, Request::CustomersRefresh)? {
        Response::CustomersRefreshed { refreshed } => {
            print(json, &refreshed, || super::customers_view::refreshed(&refreshed))
        }
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
