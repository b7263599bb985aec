//! `winback status [--json]` and `winback report [--json]`.

use std::process::ExitCode;

use super::common::{CmdResult, call, print, unexpected};
use crate::admin::{Request, Response};

/// Prints the status.
pub fn run(cfg: &crate::config::Config, json: bool) -> CmdResult {
    match call(cfg, Request::Status)? {
        Response::Status(s) => print(json, &s, || s.render()),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the KPI report.
pub fn report(cfg: &crate::config::Config, json: bool) -> CmdResult {
    match call(cfg, Request::Report)? {
        Response::Report(r) => print(json, &r, || r.render()),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
