//! Shared test support: real servers, a real browser and the real binary,
//! started and stopped by the tests. Each test file uses only some of it.
#![allow(dead_code)]

pub mod bounce;
pub mod browser;
pub mod daemon;
pub mod dns;
pub mod outbox;
pub mod postfix;
pub mod scripted_smtp;
pub mod smtp_sink;
