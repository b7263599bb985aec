//! winback: a self-hosted email re-engagement and list-hygiene daemon.
//!
//! The tree follows the flow of mail:
//! - [`config`]: raw TOML → validated [`config::Config`] with typed units.
//! - [`domain`]: pure logic with no I/O: addresses, contacts, events, the
//!   sequence state machine, lapse detection, suppression.
//! - [`engine`]: every state change, as functions over one store
//!   transaction: events, suppressions, scheduling, message outcomes.
//! - [`store`]: all durable state (redb), behind one domain-level API.
//! - [`outbound`]: scheduler → throttle → composition → transport (SMTP,
//!   Maildir, direct MX).
//! - [`inbound`]: what comes back: the SMTP listener for bounces, `ingest`,
//!   the Maildir watch.
//! - [`bounce`]: pure bounce, complaint and auto-reply classification.
//! - [`http`]: tracking pixel, click redirect, unsubscribe, events API;
//!   the private metrics listener.
//! - [`token`]: signed tokens and the keys that sign them (rotation).
//! - [`report`]: the KPIs per sequence and step.
//! - [`customers`]: purchase histories, RFM, the BG/NBD and Gamma–Gamma
//!   models and customer lifetime value (pure).
//! - [`reputation`]: sender-reputation signals and automatic protection.
//! - [`dashboard`]: the read-only web dashboard (`[dashboard] listen`),
//!   server-rendered with inline SVG charts from the report and the daily
//!   rollups.
//! - [`memory`]: transparent huge pages refused for the process.
//! - [`metrics`]: the Prometheus text format writer for `GET /metrics`
//!   (served on `[metrics] listen`, never on the public listener).
//! - [`dns`]: resolver construction and the DNS questions winback asks.
//! - [`net`]: the accept loop shared by every listener.
//! - [`daemon`]: lifecycle (cancellation, tracked tasks, drain) and the
//!   admin API on a Unix socket.
//! - [`admin`]: operator requests with one handler, over the admin
//!   socket or directly on the store.
//! - [`backup`]: backups of the state directory while the daemon runs, and
//!   restoring one.
//! - [`fsmode`]: private modes (0600/0700) for everything under `state_dir`.
//! - [`cli`]: command-line parsing and dispatch (`main.rs` only calls it).

pub mod admin;
pub mod backup;
pub mod bounce;
pub mod cli;
pub mod clock;
pub mod config;
pub mod customers;
pub mod daemon;
pub mod dashboard;
pub mod dns;
pub mod domain;
pub mod engine;
pub mod fsmode;
pub mod html;
pub mod http;
pub mod inbound;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod report;
pub mod reputation;
pub mod rounds;
pub mod store;
pub mod token;
