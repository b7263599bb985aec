//! `winback ingest`: reads one message on standard input (a Postfix `pipe`
//! transport, procmail, …) and writes it durably into the inbound spool.
//! Exit codes follow sysexits so the calling MTA does the right thing:
//! 0 stored, 75 (EX_TEMPFAIL) try again later, 65 (EX_DATAERR) unusable
//! message, 78 (EX_CONFIG) bad configuration.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use crate::inbound::spool::{Spool, SpoolError};

/// Arguments of `winback ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Envelope recipient(s), e.g. Postfix's `${recipient}`: keeps the VERP token.
    #[arg(long = "recipient", short = 'r')]
    pub recipients: Vec<String>,
}

/// Runs `winback ingest`.
pub fn run(config: Option<&Path>, args: IngestArgs) -> ExitCode {
    let cfg = match crate::config::Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("winback ingest: {e}");
            return ExitCode::from(super::EX_USAGE);
        }
    };
    let limit = cfg.inbound.max_message_size;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().lock().take(limit + 1).read_to_end(&mut raw) {
        eprintln!("winback ingest: cannot read the message from standard input: {e}");
        return ExitCode::from(super::EX_TEMPFAIL);
    }
    let code = ingest(&cfg.state_dir.join("inbound"), cfg.inbound.spool, limit, &args.recipients, &raw);
    ExitCode::from(code)
}

/// Stores one message; returns the sysexits code.
pub fn ingest(
    spool_dir: &Path,
    limits: crate::inbound::config::SpoolLimits,
    max_size: u64,
    recipients: &[String],
    raw: &[u8],
) -> u8 {
    if raw.iter().all(u8::is_ascii_whitespace) {
        eprintln!("winback ingest: the message on standard input is empty");
        return super::EX_DATAERR;
    }
    if raw.len() as u64 > max_size {
        eprintln!("winback ingest: the message is larger than [inbound] max_message_size ({max_size} bytes)");
        return super::EX_DATAERR;
    }
    let spool = match Spool::open(spool_dir, limits) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("winback ingest: {e}");
            return super::EX_TEMPFAIL;
        }
    };
    match spool.write(recipients, raw) {
        Ok(_) => 0,
        Err(e @ SpoolError::Full { .. }) => {
            eprintln!("winback ingest: {e}; the MTA will retry");
            super::EX_TEMPFAIL
        }
        Err(e) => {
            eprintln!("winback ingest: {e}");
            super::EX_TEMPFAIL
        }
    }
}
