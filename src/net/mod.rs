//! Network plumbing shared by the listeners.
//!
//! - [`accept`]: the one accept loop (connection caps, per-client cap,
//!   accept-error backoff, cancellation and a bounded drain).

pub mod accept;
