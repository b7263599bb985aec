//! What comes back: the SMTP listener for bounce domains, `winback ingest`,
//! and the Maildir watch. Each hands messages to the bounce classifier and
//! the resulting events to the store.
//!
//! - [`config`]: the `[inbound]` section.
//! - [`spool`]: the durable, bounded spool every inbound path writes into
//!   before it acknowledges a message.
//! - [`listener`]: the built-in SMTP server for the bounce domains.
//! - [`maildir_watch`]: polling a Maildir that receives bounces.
//! - [`mailto`]: mail to the `List-Unsubscribe` address.
//! - [`process`]: classification and attribution (the trust boundary).
//! - [`unattributed`]: reports that prove nothing, kept for inspection.

pub mod config;
pub mod listener;
pub mod maildir_watch;
pub mod mailto;
pub mod process;
pub mod spool;
pub mod unattributed;
