//! Transports: hand a composed message to the next hop and say what
//! happened, as a [`SendOutcome`] value (a refusal is an outcome, not an
//! error).
//!
//! - `kind = "smtp"`: a pooled lettre client to one relay ([`smtp`]).
//! - `kind = "maildir"`: files in a local Maildir ([`maildir`]).
//! - `kind = "mx"` (direct delivery) is built elsewhere; [`Transport::from_config`]
//!   refuses it with [`TransportError::NotSupported`].

pub mod maildir;
pub mod smtp;

use crate::config::{Config, TransportKind};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted by the next hop.
    Sent {
        /// Its reply, like `250 2.0.0 Ok: queued as 4Xk…` or `maildir new/NAME`.
        reply: String,
    },
    /// Try again later: 4xx replies, connection refused, timeouts, TLS
    /// failures, a disk that is full.
    Deferred {
        /// SMTP reply code, when there was a reply.
        code: Option<u16>,
        /// Enhanced status code (`4.2.2`) when the reply had one.
        enhanced: Option<String>,
        /// What the server or the system said.
        text: String,
    },
    /// Refused for good: a 5xx reply about this message or recipient.
    Failed {
        /// SMTP reply code.
        code: u16,
        /// Enhanced status code (`5.1.1`) when the reply had one.
        enhanced: Option<String>,
        /// What the server said.
        text: String,
    },
}

impl SendOutcome {
    /// A deferral without a reply (network, timeout, local I/O).
    pub fn deferred(text: impl Into<String>) -> Self {
        SendOutcome::Deferred { code: None, enhanced: None, text: text.into() }
    }

    /// Whether the message was accepted.
    pub fn is_sent(&self) -> bool {
        matches!(self, SendOutcome::Sent { .. })
    }
}

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// This builder does not make that kind of transport.
    #[error("[transport] kind: {0}")]
    NotSupported(String),
    /// The Maildir could not be created.
    #[error("[transport] maildir: cannot create {path}: {source}; check the path and the daemon's permissions")]
    Maildir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The SMTP client could not be set up (TLS parameters, HELO name).
    #[error("[transport] {0}")]
    Smtp(String),
}

#[derive(Debug)]
enum Inner {
    Smtp(smtp::SmtpTransport),
    Maildir(maildir::MaildirTransport),
}

/// Where composed messages go; shared by all senders (`Arc`).
#[derive(Debug)]
pub struct Transport {
    inner: Inner,
}

impl Transport {
    /// The transport `[transport]` names: SMTP pool size is `[limits]
    /// max_connections`, EHLO name `[sender] helo_name`.
    pub fn from_config(cfg: &Config) -> Result<Transport, TransportError> {
        match &cfg.transport.kind {
            TransportKind::Smtp(relay) => Ok(Transport {
                inner: Inner::Smtp(smtp::SmtpTransport::new(
                    relay,
                    cfg.transport.timeout,
                    &cfg.sender.helo_name,
                    cfg.limits.max_connections,
                )?),
            }),
            TransportKind::Maildir(path) => Self::maildir(path, &cfg.sender.helo_name),
            TransportKind::Mx => Err(TransportError::NotSupported(
                "\"mx\" (direct delivery) is not supported by this transport builder; use \"smtp\" or \"maildir\""
                    .into(),
            )),
        }
    }

    /// A Maildir transport writing under `path`; `host` goes into file names.
    pub fn maildir(path: &std::path::Path, host: &str) -> Result<Transport, TransportError> {
        Ok(Transport { inner: Inner::Maildir(maildir::MaildirTransport::new(path, host)?) })
    }

    /// Sends one message to one recipient.
    pub async fn send(&self, envelope_from: &str, recipient: &str, bytes: &[u8]) -> SendOutcome {
        match &self.inner {
            Inner::Smtp(t) => t.send(envelope_from, recipient, bytes).await,
            Inner::Maildir(t) => t.send(envelope_from, recipient, bytes).await,
        }
    }

    /// Closes pooled connections (QUIT); call once at shutdown.
    pub async fn shutdown(&self) {
        if let Inner::Smtp(t) = &self.inner {
            t.shutdown().await;
        }
    }
}

/// Parses an envelope address, or says why it cannot be used, the way an
/// MTA would reply (553 with 5.1.7 for the sender, 5.1.3 for a recipient).
fn envelope_address(addr: &str, is_sender: bool) -> Result<lettre::Address, SendOutcome> {
    addr.parse().map_err(|e: lettre::address::AddressError| SendOutcome::Failed {
        code: 553,
        enhanced: Some(if is_sender { "5.1.7" } else { "5.1.3" }.into()),
        text: format!("winback: {} address `{addr}` is not valid: {e}", if is_sender { "sender" } else { "recipient" }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_is_refused_and_maildir_is_built_from_config() {
        let cfg = Config::from_toml("t.toml", "[transport]\nkind = \"mx\"\n").unwrap();
        let err = Transport::from_config(&cfg).unwrap_err();
        assert!(
            matches!(&err, TransportError::NotSupported(m) if m.contains("not supported by this transport builder"))
        );
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("[transport]\nkind = \"maildir\"\nmaildir = \"{}\"\n", dir.path().join("out").display());
        let cfg = Config::from_toml("t.toml", &toml).unwrap();
        Transport::from_config(&cfg).unwrap();
        assert!(dir.path().join("out/new").is_dir());
    }
}
