//! The way mail goes out: scheduler → throttle → composition → transport.

pub mod compose;
pub mod dkim;
pub mod retry;
pub mod templates;
pub mod throttle;
pub mod transport;
