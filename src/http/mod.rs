//! The public HTTP side: open pixel, click redirect, unsubscribe, events API.
//!
//! - [`config`]: the `[http]` and `[tracking]` sections.
//! - [`signals`] and [`classify`]: who opened or clicked (person, machine,
//!   unknown), from the machine-signals data file.
//! - [`client_ip`]: the client address behind trusted proxies.
//! - [`instrument`]: the composer's HTML hook (click redirects, open pixel).
//! - [`pages`]: the pixel and the unsubscribe pages.
//! - [`api_input`]: events API body validation.

pub mod api_input;
pub mod classify;
pub mod client_ip;
pub mod config;
pub mod instrument;
pub mod pages;
pub mod signals;

pub use config::{HttpConfig, TrackingConfig};
pub use instrument::{InstrumentOptions, instrument_html};
