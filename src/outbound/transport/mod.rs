//! Transports: hand a composed message to the next hop and say what
//! happened, as a [`SendOutcome`] value (a refusal is an outcome, not an
//! error).
//!
//! - `kind = "smtp"`: a pooled lettre client to one relay ([`smtp`]).
//! - `kind = "maildir"`: files in a local Maildir ([`maildir`]).
//! - `kind = "mx"`: direct delivery to the recipients' MX hosts ([`mx`]).

pub mod maildir;
pub mod mx;
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
    /// Direct delivery has no resolver to find MX hosts with.
    #[error("[transport] kind = \"mx\" needs a DNS resolver: {0}; set [dns] nameservers")]
    NoResolver(String),
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
    Smtp(Box<smtp::SmtpTransport>),
    Maildir(maildir::MaildirTransport),
    Mx(Box<mx::MxTransport>),
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
                inner: Inner::Smtp(Box::new(smtp::SmtpTransport::new(
                    relay,
                    cfg.transport.timeout,
                    &cfg.sender.helo_name,
                    cfg.limits.max_connections,
                )?)),
            }),
            TransportKind::Maildir(path) => Self::maildir(path, &cfg.sender.helo_name),
            TransportKind::Mx(settings) => {
                let resolver = crate::dns::Resolver::from_config(&cfg.dns)
                    .map_err(|e| TransportError::NoResolver(e.to_string()))?;
                Ok(Transport {
                    inner: Inner::Mx(Box::new(mx::MxTransport::new(
                        resolver,
                        cfg.reputation.providers.clone(),
                        settings.clone(),
                        &cfg.sender.helo_name,
                        cfg.transport.timeout,
                    ))),
                })
            }
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
            Inner::Mx(t) => t.send(envelope_from, recipient, bytes).await,
        }
    }

    /// Closes pooled connections (QUIT); call once at shutdown.
    pub async fn shutdown(&self) {
        match &self.inner {
            Inner::Smtp(t) => t.shutdown().await,
            Inner::Mx(t) => t.shutdown().await,
            Inner::Maildir(_) => {}
        }
    }
}

/// Parses an envelope address, or says why it cannot be used. A bad
/// recipient is refused the way an MTA would (553 5.1.3); a bad sender is
/// our own configuration's fault and would hit every message, so it defers
/// rather than failing (and maybe suppressing) each recipient.
fn envelope_address(addr: &str, is_sender: bool) -> Result<lettre::Address, SendOutcome> {
    addr.parse().map_err(|e: lettre::address::AddressError| {
        if is_sender {
            SendOutcome::deferred(format!(
                "winback: envelope sender `{addr}` is not valid ({e}); check [sender] bounce_domain"
            ))
        } else {
            SendOutcome::Failed {
                code: 553,
                enhanced: Some("5.1.3".into()),
                text: format!("winback: recipient address `{addr}` is not valid: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_and_maildir_are_built_from_config() {
        let cfg = Config::from_toml("t.toml", "[transport]\nkind = \"mx\"\n[dns]\nnameservers = [\"127.0.0.1:53\"]\n")
            .unwrap();
        assert!(matches!(Transport::from_config(&cfg).unwrap().inner, Inner::Mx(_)));
        let e = Config::from_toml("t.toml", "[transport]\nkind = \"mx\"\nmessages_per_connection = 0\n").unwrap_err();
        assert!(e.to_string().contains("messages_per_connection"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("[transport]\nkind = \"maildir\"\nmaildir = \"{}\"\n", dir.path().join("out").display());
        let cfg = Config::from_toml("t.toml", &toml).unwrap();
        Transport::from_config(&cfg).unwrap();
        assert!(dir.path().join("out/new").is_dir());
    }
}
