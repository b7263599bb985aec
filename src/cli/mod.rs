//! Command-line interface: clap definitions and dispatch. Each command
//! group lives in its own file; `main.rs` calls [`main`].

mod bounce;
mod ingest;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sysexits: command-line usage or configuration error.
pub const EX_USAGE: u8 = 64;
/// sysexits: bad input data.
pub const EX_DATAERR: u8 = 65;
/// sysexits: a service is unavailable.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits: internal software error.
pub const EX_SOFTWARE: u8 = 70;
/// sysexits: I/O error.
pub const EX_IOERR: u8 = 74;
/// sysexits: temporary failure; the caller should retry.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits: configuration error.
pub const EX_CONFIG: u8 = 78;

/// winback: win back lapsed contacts, and protect the sending domain.
#[derive(Debug, Parser)]
#[command(name = "winback", version, about)]
pub struct Args {
    /// Configuration file (default: config/winback.toml if present, else the built-in default).
    #[arg(long, short, global = true, env = "WINBACK_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bounce tools that need no daemon and no configuration.
    #[command(subcommand)]
    Bounce(bounce::BounceCmd),
    /// Read one message on stdin into the inbound spool (for an MTA pipe).
    Ingest(ingest::IngestArgs),
}

/// Parses arguments, runs the command, maps errors to exit codes.
pub fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Bounce(cmd) => bounce::run(cmd),
        Command::Ingest(a) => ingest::run(args.config.as_deref(), a),
    }
}
