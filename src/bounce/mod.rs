//! Bounce, complaint and auto-reply classification. Pure: bytes in,
//! classified recipients out; no I/O.
