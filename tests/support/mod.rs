//! Shared test support: real servers started and stopped by tests.

pub mod dns;
