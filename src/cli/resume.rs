//! `winback resume`: lifts a reputation pause, through the daemon when it
//! runs, else in the store.

use std::process::ExitCode;

use super::common::{CmdResult, call, unexpected};
use crate::admin::{Request, Response};
use crate::clock::rfc3339;

/// Lifts the pause and says what it was.
pub fn run(cfg: &crate::config::Config) -> CmdResult {
    match call(cfg, Request::Resume)? {
        Response::Resumed { lifted: Some(p) } => {
            println!("sending resumed; it was paused since {} ({}): {}", rfc3339(p.since), p.scope, p.reason);
            println!("signals from before now no longer count toward a new pause");
        }
        Response::Resumed { lifted: None } => println!("sending was not paused"),
        other => return Err(unexpected(&other)),
    }
    Ok(ExitCode::SUCCESS)
}
