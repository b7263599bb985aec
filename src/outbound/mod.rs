//! The way mail goes out: scheduler → throttle → composition → transport.
//!
//! - [`scheduler`]: finds due contacts and queues their next message.
//! - [`promote`]: gives a step's significant winning variant to every new
//!   contact when the step says `auto_promote = true`.
//! - [`rescan`]: recomputes every due time once after the lapse rules or
//!   sequences changed.
//! - [`sender`]: takes ready messages from the outbox, waits for the
//!   throttle, marks them durably as sending, composes and sends them, and
//!   records the outcome.
//! - the live reputation guard ([`crate::reputation::guard`]) is asked
//!   before each message (pause, provider suspension, warm-up cap) and told
//!   every outcome; it retunes the throttle per provider.
//! - [`throttle`], [`compose`], [`templates`], [`dkim`], [`transport`],
//!   [`retry`]: the pieces it uses.

pub mod compose;
pub mod dkim;
pub mod promote;
pub mod rescan;
pub mod retry;
pub mod scheduler;
pub mod sender;
pub mod templates;
pub mod throttle;
pub mod transport;
