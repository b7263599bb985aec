//! The way mail goes out: scheduler → throttle → composition → transport.
