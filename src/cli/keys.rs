//! `winback keys list|rotate`: the token signing keys, through the running
//! daemon (which signs with a new key at once) or on the state directory.

use std::process::ExitCode;

use clap::Subcommand;

use super::common::{CmdResult, call, print, unexpected};
use crate::admin::{Request, Response};
use crate::clock::rfc3339;
use crate::config::Config;
use crate::token::KeyInfo;

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Show every key: id, creation, retirement, until when its tokens verify.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Start a new signing key; the current one keeps verifying for `[tokens] key_overlap`.
    Rotate,
}

/// Runs a keys subcommand.
pub fn run(cfg: &Config, cmd: KeysCmd) -> CmdResult {
    let (rotate, json) = match cmd {
        KeysCmd::List { json } => (false, json),
        KeysCmd::Rotate => (true, false),
    };
    let keys = match call(cfg, Request::Keys { rotate })? {
        Response::Keys { keys } => keys,
        other => return Err(unexpected(&other)),
    };
    if rotate && let Some(k) = keys.last() {
        println!("key {} now signs new tokens", k.id);
    }
    print(json, &keys, || render(&keys));
    Ok(ExitCode::SUCCESS)
}

fn render(keys: &[KeyInfo]) -> String {
    let mut out = format!("{:>5}  {:<20}  {:<20}  {:<20}  state\n", "id", "created", "retired", "verifies until");
    for k in keys {
        let time = |t: Option<i64>| t.map_or_else(|| "-".to_string(), rfc3339);
        let state = match (k.signing, k.expired) {
            (true, _) => "signing",
            (false, false) => "verifying",
            (false, true) => "expired",
        };
        out += &format!(
            "{:>5}  {:<20}  {:<20}  {:<20}  {state}\n",
            k.id,
            rfc3339(k.created),
            time(k.retired),
            time(k.verifies_until)
        );
    }
    out
}
