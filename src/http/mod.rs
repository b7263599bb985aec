//! The public HTTP side: open pixel, click redirect, unsubscribe, events
//! API; and the private metrics listener.
//!
//! - [`server`]: the router, its limits and the accept loop; start here.
//! - [`state`]: what the handlers share ([`HttpState`]).
//! - [`tracking`]: open pixel and click redirect; [`unsubscribe`]: the
//!   one-click unsubscribe and its confirmation page; [`survey`]: the
//!   reasons-for-leaving page; [`api`]: the events
//!   API ([`api_input`] checks its bodies).
//! - [`signals`] and [`classify`]: who opened or clicked (person, machine,
//!   unknown), from the machine-signals data file; [`recent`] keeps the
//!   recent clicks the burst signal needs, [`cache`] the sent messages.
//! - [`client_ip`]: the client address behind trusted proxies.
//! - [`instrument`]: the composer's body hook (click redirects, open pixel).
//! - [`text_links`]: the links of a plain-text part.
//! - [`pages`]: the pixel and the unsubscribe pages.
//! - [`metrics`]: `GET /metrics` in the Prometheus text format, served on
//!   its own listener ([`metrics_router`]), never on the public one.
//! - [`config`]: the `[http]`, `[tracking]` and `[metrics]` sections.

pub mod api;
pub mod api_input;
pub mod cache;
pub mod classify;
pub mod client_ip;
pub mod config;
pub mod instrument;
pub mod metrics;
pub mod pages;
pub mod recent;
pub mod server;
pub mod signals;
pub mod state;
pub mod survey;
pub mod text_links;
pub mod tracking;
pub mod unsubscribe;

pub use config::{HttpConfig, TrackingConfig};
pub use instrument::{InstrumentOptions, instrument_html};
pub use server::{METRICS_PATH, metrics_router, router, serve};
pub use state::HttpState;
