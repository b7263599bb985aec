//! The way mail goes out: scheduler → throttle → composition → transport.
//!
//! - [`scheduler`]: finds due contacts and queues their next message.
//! - [`sender`]: takes ready messages from the outbox, waits for the
//!   throttle, marks them durably as sending, composes and sends them, and
//!   records the outcome.

pub mod scheduler;
