//! The admin API: every operator command (status, contact lookup, events,
//! suppressions, import, resume, token keys, backup, store check) as a [`Request`] with one handler,
//! [`execute`]. The CLI sends requests to a running daemon over its Unix
//! socket ([`client`], [`server`]); with no daemon running it executes the
//! very same handler on the store directly. File permissions on the socket
//! (0600, owner = the daemon's user) are the access control. In the daemon
//! every request sees the configuration in force (it changes on reload,
//! which is a request too: [`Request::Reload`], a running daemon only).

pub mod client;
mod execute;
mod protocol;
pub mod server;
pub mod status;

pub use execute::{Context, execute};
pub use protocol::{ContactView, EventItemResult, ImportContact, ImportOutcome, Request, Response};
