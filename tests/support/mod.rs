//! Test helpers shared by the integration tests.

pub mod smtp_sink;
