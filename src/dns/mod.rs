//! The DNS questions winback asks, through one configurable resolver.
//!
//! - [`resolver`]: the [`Resolver`] built from `[dns]` and its typed lookups.
//! - [`mail_domain`]: can a domain receive mail (import hygiene), one at a
//!   time or in bulk with [`MailDomainChecker`].
//! - [`mx`]: the hosts and addresses to deliver to directly.
//! - [`error`]: the [`DnsError`] enum.
//! - [`health`]: the DNS health of the sending setup (`winback check-dns`).
//! - [`config`]: the `[dns_check]` section.

pub mod config;
pub mod error;
pub mod health;
pub mod mail_domain;
pub mod mx;
pub mod resolver;

pub use error::DnsError;
pub use mail_domain::{MailDomain, MailDomainChecker, MxHost, mail_domain};
pub use mx::{MxTarget, mx_targets};
pub use resolver::{Answer, Resolver};
