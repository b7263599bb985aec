//! Command-line interface: clap definitions and dispatch. Each command
//! group lives in its own file; `main.rs` calls [`main`].

mod assets;
mod backup;
mod bounce;
mod check_dns;
mod common;
mod contacts;
mod customers;
mod customers_view;
mod events;
mod events_sort;
mod export;
mod import;
mod ingest;
mod keys;
mod reload;
mod reports;
mod resume;
mod serve;
mod status;
mod suppress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sysexits: command-line usage or configuration error.
pub const EX_USAGE: u8 = 64;
/// sysexits: bad input data.
pub const EX_DATAERR: u8 = 65;
/// sysexits: an input file does not exist or is unreadable.
pub const EX_NOINPUT: u8 = 66;
/// sysexits: a service is unavailable.
pub const EX_UNAVAILABLE: u8 = 69;
/// sysexits: internal software error.
pub const EX_SOFTWARE: u8 = 70;
/// sysexits: I/O error.
pub const EX_IOERR: u8 = 74;
/// sysexits: temporary failure; the caller should retry.
pub const EX_TEMPFAIL: u8 = 75;

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
    /// Run the daemon.
    #[command(after_help = serve::EXIT_STATUS_HELP)]
    Serve(serve::ServeArgs),
    /// Import and inspect contacts.
    #[command(subcommand)]
    Contacts(contacts::ContactsCmd),
    /// The customers: segments, lapsed and at risk; the models; refresh.
    Customers(customers::CustomersArgs),
    /// Record engagement events.
    #[command(subcommand)]
    Events(events::EventsCmd),
    /// Manage the suppression list.
    #[command(subcommand)]
    Suppress(suppress::SuppressCmd),
    /// Counts per state, messages, queue.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// KPIs per sequence and step: reactivation, retention, revenue.
    Report {
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// CSV output (one row per sequence, control group and step).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Data for BI tools, streamed to stdout.
    #[command(subcommand)]
    Export(export::ExportCmd),
    /// Lift a reputation pause: sending goes on where it stopped.
    Resume,
    /// Make the running daemon read its configuration, templates and data files again.
    #[command(after_help = reload::EXIT_STATUS_HELP)]
    Reload,
    /// Bounce tools that need no daemon and no configuration.
    #[command(subcommand)]
    Bounce(bounce::BounceCmd),
    /// Check SPF, DKIM, DMARC, the bounce MX, reverse DNS and blocklists of the sending setup.
    ///
    /// Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed,
    /// 75 when nothing failed but a check could not run (DNS timeout), 64 on a configuration error.
    CheckDns(check_dns::CheckDnsArgs),
    /// Read one message on stdin into the inbound spool (for an MTA pipe).
    Ingest(ingest::IngestArgs),
    /// Reports that were not attributed to a message winback sent (kept, never acted on).
    #[command(subcommand)]
    Reports(reports::ReportsCmd),
    /// The keys that sign tracking, unsubscribe and bounce tokens.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// A consistent copy of the state directory (while the daemon runs, through it).
    Backup {
        /// A new or empty directory.
        dest: PathBuf,
    },
    /// Put a backup in place of the state directory (the daemon must be stopped).
    Restore {
        /// The directory `winback backup` wrote.
        src: PathBuf,
    },
    /// Check or compact the store.
    #[command(subcommand)]
    Store(backup::StoreCmd),
    /// Writes the man pages and shell completions (for packaging).
    #[command(hide = true)]
    Assets(assets::AssetsArgs),
}

/// Parses arguments, runs the command, maps errors to exit codes.
pub fn main() -> ExitCode {
    // Whatever any command creates under state_dir is private to its user.
    crate::fsmode::restrict_umask();
    let args = Args::parse();
    let config = args.config.as_deref();
    common::finish(match args.command {
        Command::Bounce(cmd) => return bounce::run(cmd),
        Command::Assets(a) => assets::run(a),
        Command::Ingest(a) => return ingest::run(config, a),
        Command::Serve(a) => serve::run(config, a),
        Command::Contacts(cmd) => common::load_config(config).and_then(|cfg| contacts::run(&cfg, cmd)),
        Command::Customers(cmd) => common::load_config(config).and_then(|cfg| customers::run(&cfg, cmd)),
        Command::Events(cmd) => common::load_config(config).and_then(|cfg| events::run(&cfg, cmd)),
        Command::Suppress(cmd) => common::load_config(config).and_then(|cfg| suppress::run(&cfg, cmd)),
        Command::Status { json } => common::load_config(config).and_then(|cfg| status::run(&cfg, json)),
        Command::Resume => common::load_config(config).and_then(|cfg| resume::run(&cfg)),
        Command::Reload => reload::run(config),
        Command::Report { csv: true, .. } => common::load_config(config).and_then(|cfg| export::report(&cfg)),
        Command::Report { json, .. } => common::load_config(config).and_then(|cfg| status::report(&cfg, json)),
        Command::Export(cmd) => common::load_config(config).and_then(|cfg| export::run(&cfg, cmd)),
        Command::Reports(cmd) => common::load_config(config).and_then(|cfg| reports::run(&cfg, cmd)),
        Command::Keys(cmd) => common::load_config(config).and_then(|cfg| keys::run(&cfg, cmd)),
        Command::Backup { dest } => common::load_config(config).and_then(|cfg| backup::backup(&cfg, &dest)),
        Command::Restore { src } => common::load_config(config).and_then(|cfg| backup::restore(&cfg, &src)),
        Command::Store(cmd) => common::load_config(config).and_then(|cfg| backup::store(&cfg, cmd)),
        Command::CheckDns(a) => common::load_config(config).and_then(|cfg| check_dns::run(&cfg, a)),
    })
}
