//! The errors of the DNS layer: building the resolver and the lookups
//! whose failure a caller must act on (direct MX delivery).
//!
//! "Cannot tell right now" ([`DnsError::Temporary`]) is kept apart from the
//! definite answers ("no such domain", "null MX", "no mail host"), because
//! only the definite ones may ever lead to suppressing an address.

/// A DNS failure, with what was asked and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name is not a valid domain name.
    #[error("`{name}` is not a valid domain name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// NXDOMAIN: the domain does not exist.
    #[error("{domain} does not exist (NXDOMAIN); the address cannot receive mail")]
    NoSuchDomain {
        /// The domain asked about.
        domain: String,
    },
    /// The domain publishes a null MX (RFC 7505): it accepts no mail at all.
    #[error("{domain} publishes a null MX (RFC 7505): it accepts no mail")]
    NullMx {
        /// The domain asked about.
        domain: String,
    },
    /// No MX and no A/AAAA, or MX hosts that all have no address.
    #[error("{domain} has no mail host: {detail}")]
    NoMailHost {
        /// The domain asked about.
        domain: String,
        /// What was missing.
        detail: String,
    },
    /// SERVFAIL, REFUSED, timeout or a network error: ask again later.
    #[error("temporary DNS failure looking up {rtype} {name}: {reason}; retry later")]
    Temporary {
        /// The name queried.
        name: String,
        /// The record type queried (`MX`, `A`, …).
        rtype: String,
        /// What went wrong.
        reason: String,
    },
    /// The resolver could not be built from the configuration.
    #[error("cannot set up the DNS resolver: {0}")]
    Setup(String),
}

impl DnsError {
    /// True when the same question may get a different answer later
    /// (so the caller should defer, not fail permanently).
    pub fn is_temporary(&self) -> bool {
        matches!(self, DnsError::Temporary { .. } | DnsError::Setup(_))
    }
}
