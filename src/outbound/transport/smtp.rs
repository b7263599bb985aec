//! `kind = "smtp"`: a pooled lettre client to one relay.
//!
//! lettre's pool keeps up to `[limits] max_connections` idle sessions
//! open and reuses them (checked with NOOP); how many are busy at once is
//! capped by the throttle's connection slots. Every lettre error becomes a
//! [`SendOutcome`]:
//! - a 5xx reply is `Failed`, with the code and the enhanced status code
//!   read from the reply text; except the authentication replies (530,
//!   534, 535, 538): those say our credentials are wrong, not that the
//!   recipient is, so they defer (the operator fixes the password and the
//!   mail goes out) instead of failing every recipient;
//! - a 4xx reply is `Deferred` with its code;
//! - everything without a reply (refused or dropped connection, timeout,
//!   TLS failure, an unparsable reply, a relay lacking an extension we
//!   need) is `Deferred` without a code.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, Error, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use super::{SendOutcome, TransportError, envelope_address};
use crate::config::{SmtpRelay, TlsMode};

/// Replies about authentication, which concern the whole relay session.
const AUTH_CODES: [u16; 4] = [530, 534, 535, 538];

/// The pooled client.
pub struct SmtpTransport {
    client: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").field("relay", &self.relay).finish()
    }
}

impl SmtpTransport {
    /// A client for `relay`; `timeout` bounds each SMTP command.
    pub fn new(relay: &SmtpRelay, timeout: Duration, helo: &str, pool: usize) -> Result<Self, TransportError> {
        let tls = match relay.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(tls_params(&relay.host)?),
            TlsMode::Tls => Tls::Wrapper(tls_params(&relay.host)?),
        };
        let helo = match helo.parse() {
            Ok(ip) => ClientId::Ipv4(ip),
            Err(_) => ClientId::Domain(helo.to_string()),
        };
        let pool = PoolConfig::new().max_size(u32::try_from(pool.max(1)).unwrap_or(u32::MAX));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(helo)
            .pool_config(pool);
        if let Some((user, password)) = &relay.auth {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpTransport { client: builder.build(), relay: format!("{}:{}", relay.host, relay.port) })
    }

    /// Sends one message.
    pub async fn send(&self, envelope_from: &str, recipient: &str, bytes: &[u8]) -> SendOutcome {
        let from = match envelope_address(envelope_from, true) {
            Ok(a) => a,
            Err(outcome) => return outcome,
        };
        let to = match envelope_address(recipient, false) {
            Ok(a) => a,
            Err(outcome) => return outcome,
        };
        let envelope = match Envelope::new(Some(from), vec![to]) {
            Ok(e) => e,
            Err(e) => return SendOutcome::deferred(format!("winback: cannot build the envelope: {e}")),
        };
        match self.client.send_raw(&envelope, bytes).await {
            Ok(reply) => SendOutcome::Sent {
                reply: format!("{} {}", reply.code(), reply.message().collect::<Vec<_>>().join(" ")),
            },
            Err(e) => outcome_of(&e, &self.relay),
        }
    }

    /// Closes the pooled sessions.
    pub async fn shutdown(&self) {
        self.client.shutdown().await;
    }
}

fn tls_params(host: &str) -> Result<TlsParameters, TransportError> {
    TlsParameters::new(host.to_string())
        .map_err(|e| TransportError::Smtp(format!("tls: cannot set up TLS for {host}: {e}")))
}

/// Maps a lettre error to an outcome (see the module doc).
pub fn outcome_of(e: &Error, relay: &str) -> SendOutcome {
    // For replies, lettre keeps the server's text as the error source.
    let reply_text = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
    if let Some(code) = e.status() {
        let code = u16::from(code);
        let enhanced = enhanced_status(&reply_text);
        let text = if reply_text.is_empty() { e.to_string() } else { reply_text };
        if e.is_permanent() && !AUTH_CODES.contains(&code) {
            return SendOutcome::Failed { code, enhanced, text };
        }
        return SendOutcome::Deferred { code: Some(code), enhanced, text };
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_tls() {
        "TLS failed"
    } else {
        "failed"
    };
    SendOutcome::deferred(format!("relay {relay}: {what}: {}", chain(e)))
}

/// An error and its causes on one line.
fn chain(e: &Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

/// The RFC 3463 enhanced status code at the start of a reply text
/// (`5.1.1 <x@y>: Recipient address rejected` → `5.1.1`).
pub fn enhanced_status(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.trim_end_matches([',', ';', ':']);
    let mut parts = word.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject.bytes().chain(detail.bytes()).all(|b| b.is_ascii_digit());
    ok.then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_status_codes_are_read_from_reply_text() {
        assert_eq!(enhanced_status("5.1.1 <x@y>: Recipient address rejected"), Some("5.1.1".into()));
        assert_eq!(enhanced_status("  4.7.28 rate limited"), Some("4.7.28".into()));
        assert_eq!(enhanced_status("4.2.2: mailbox full"), Some("4.2.2".into()));
        assert_eq!(enhanced_status("5.7.1234 too long"), None);
        assert_eq!(enhanced_status("3.1.1 bad class"), None);
        assert_eq!(enhanced_status("Error: command failed"), None);
        assert_eq!(enhanced_status("5.1 short"), None);
        assert_eq!(enhanced_status("5.1.1.1 long"), None);
        assert_eq!(enhanced_status("5.a.1 letters"), None);
        assert_eq!(enhanced_status(""), None);
    }
}
