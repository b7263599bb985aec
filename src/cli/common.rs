//! What every command shares: loading the config (exit 64 on errors, which
//! name the file and key), reaching the daemon or the store, and turning
//! failures into a message on stderr and a sysexits code.

use std::process::ExitCode;

use crate::admin::client::{Admin, AdminError};
use crate::admin::{Request, Response};
use crate::config::Config;

/// A command failure: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// sysexits code.
    pub code: u8,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl Failure {
    /// A failure with a code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        let code = match &e {
            AdminError::Store(crate::store::StoreError::Locked(_)) => super::EX_TEMPFAIL,
            AdminError::Store(_) => super::EX_IOERR,
            AdminError::Socket { .. } | AdminError::Protocol(_) => super::EX_UNAVAILABLE,
        };
        Failure::new(code, e.to_string())
    }
}

/// The result type of command handlers.
pub type CmdResult = Result<ExitCode, Failure>;

/// Prints a failure and returns its code.
pub fn finish(r: CmdResult) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(f) => {
            eprintln!("winback: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Loads and validates the configuration.
pub fn load_config(path: Option<&std::path::Path>) -> Result<Config, Failure> {
    Config::load(path).map_err(|e| Failure::new(super::EX_USAGE, format!("configuration error: {e}")))
}

/// One request to the daemon (or the store); an error response becomes a failure.
pub fn call(cfg: &Config, req: Request) -> Result<Response, Failure> {
    let mut admin = Admin::connect(cfg)?;
    call_on(&mut admin, cfg, req)
}

/// One request on an open connection.
pub fn call_on(admin: &mut Admin, cfg: &Config, req: Request) -> Result<Response, Failure> {
    match admin.call(req, &cfg.admin_socket)? {
        Response::Error { message } => Err(Failure::new(super::EX_SOFTWARE, message)),
        other => Ok(other),
    }
}

/// Normalizes an address given on the command line.
pub fn address_arg(raw: &str) -> Result<String, Failure> {
    crate::domain::address::normalize(raw).map_err(|e| Failure::new(super::EX_DATAERR, format!("`{raw}`: {e}")))
}

/// Prints JSON or text.
pub fn print<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    } else {
        print!("{}", text());
    }
}

/// An unexpected response kind (a daemon of another version).
pub fn unexpected(r: &Response) -> Failure {
    Failure::new(super::EX_SOFTWARE, format!("unexpected answer: {r:?}"))
}
