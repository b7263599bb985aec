//! The dashboard: a read-only web UI for the people who run the
//! campaigns, served by the daemon on its own listener (`[dashboard]
//! listen`, loopback by default in the shipped config; any other address
//! only with the API token), never on the public tracking listener.
//!
//! Server-rendered HTML (minijinja) with inline SVG charts: no script,
//! nothing fetched from elsewhere, every chart titled and described, with
//! its figures in a table beside it. The KPIs are the [`crate::report`]
//! values `winback report --json` prints (computed by the same function);
//! time series come from the store's daily rollups
//! ([`crate::store::rollup`]) and the reputation guard's daily counters
//! ([`crate::reputation::history`]), so they cost O(days).
//!
//! - [`config`]: the `[dashboard]` section.
//! - [`svg`]: scales, ticks, error bars and the chart builders.
//! - [`view`]: what each page shows, from the [`view::Inputs`].
//! - [`pages`]: the pages and their templates.
//! - [`server`]: the router, the sign-in, and gathering the inputs.

pub mod config;
pub mod pages;
pub mod server;
pub mod svg;
pub mod view;

pub use server::{Dashboard, router};
