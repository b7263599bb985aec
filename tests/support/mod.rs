//! Shared test support. Each test crate uses only part of it.
#![allow(dead_code)]

pub mod browser;
