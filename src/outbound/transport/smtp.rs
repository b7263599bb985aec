//! `kind = "smtp"`: lettre's SMTP client to one relay, with our own small
//! connection pool.
//!
//! Why not `AsyncSmtpTransport`'s pool: lettre's async client applies its
//! timeout to the TCP connect only, so a relay that stops answering would
//! hang a send forever, and cancelling a pooled send (to bound it, or at
//! shutdown) hands a connection in the middle of a transaction back to
//! the pool, where the next message would read the previous one's replies.
//! Here each attempt owns its `AsyncSmtpConnection`: a timeout or a
//! cancellation drops (closes) it, and only connections that finished a
//! transaction cleanly go back to the pool.
//!
//! For `tls = "none"` and `"starttls"` we open the TCP connection
//! ourselves with `TCP_NODELAY` (measured: ~170 → ~2 100 messages/s to a
//! local smtp-sink over 8 connections); for implicit TLS lettre opens it.
//!
//! `[transport] timeout` bounds the connection set-up (connect, greeting,
//! EHLO, STARTTLS, AUTH, or the NOOP that checks a pooled connection) and,
//! separately, the transaction (MAIL, RCPT, DATA, the message). Up to
//! `[limits] max_connections` idle connections are kept, each for at most
//! [`IDLE_TIMEOUT`]; how many are busy at once is capped by the throttle's
//! connection slots.
//!
//! The same client serves direct delivery ([`super::mx`]): one
//! [`SmtpTransport`] per MX host address, with opportunistic STARTTLS
//! (used when offered, certificates not verified, as RFC 7435 has it for
//! MX delivery) and a cap on messages per connection.
//!
//! Every lettre error becomes a [`SendOutcome`]:
//! - a 5xx reply is `Failed`, with the code and the enhanced status code
//!   read from the reply text; except the authentication replies (530,
//!   534, 535, 538): those say our credentials are wrong, not that the
//!   recipient is, so they defer (the operator fixes the password and the
//!   mail goes out) instead of failing every recipient;
//! - a 4xx reply is `Deferred` with its code;
//! - everything without a reply (refused or dropped connection, timeout,
//!   TLS failure, an unparsable reply, a relay lacking an extension we
//!   need) is `Deferred` without a code.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::Error;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{SendOutcome, TransportError, envelope_address};
use crate::config::{SmtpRelay, TlsMode};

/// Replies about authentication, which concern the whole relay session.
const AUTH_CODES: [u16; 4] = [530, 534, 535, 538];

/// How long an idle pooled connection is reused; relays commonly close
/// idle sessions after a few minutes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a host whose STARTTLS failed gets plain text before TLS is tried again.
const TLS_RETRY: Duration = Duration::from_secs(3_600);

/// How the connection is secured.
#[derive(Clone)]
enum Security {
    Plain,
    StartTls(TlsParameters),
    Implicit(TlsParameters),
    /// STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
    uses: u32,
}

/// The relay client and its idle connections.
pub struct SmtpTransport {
    host: String,
    port: u16,
    /// Connect here instead of resolving `host` (an MX host's address).
    addr: Option<SocketAddr>,
    /// Messages per connection before it is closed.
    max_uses: u32,
    security: Security,
    helo: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    relay: String,
    /// When opportunistic STARTTLS last failed with this host.
    tls_failed: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").field("relay", &self.relay).finish()
    }
}

impl SmtpTransport {
    /// A client for `relay`; `pool` idle connections are kept at most.
    pub fn new(relay: &SmtpRelay, timeout: Duration, helo: &str, pool: usize) -> Result<Self, TransportError> {
        let security = match relay.tls {
            TlsMode::None => Security::Plain,
            TlsMode::StartTls => Security::StartTls(tls_params(&relay.host)?),
            TlsMode::Tls => Security::Implicit(tls_params(&relay.host)?),
        };
        let helo = match helo.parse() {
            Ok(ip) => ClientId::Ipv4(ip),
            Err(_) => ClientId::Domain(helo.to_string()),
        };
        Ok(SmtpTransport {
            host: relay.host.clone(),
            port: relay.port,
            addr: None,
            max_uses: u32::MAX,
            security,
            helo,
            credentials: relay.auth.as_ref().map(|(u, p)| Credentials::new(u.clone(), p.clone())),
            timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: pool.max(1),
            relay: format!("{}:{}", relay.host, relay.port),
            tls_failed: Mutex::new(None),
        })
    }

    /// A client for one address of an MX host: opportunistic STARTTLS
    /// (the host name for SNI), no AUTH, `max_uses` messages per connection.
    pub fn mx_host(
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
        helo: &str,
        pool: usize,
        max_uses: u32,
    ) -> Result<Self, TransportError> {
        let relay = SmtpRelay { host: host.to_string(), port: addr.port(), tls: TlsMode::None, auth: None };
        let mut t = Self::new(&relay, timeout, helo, pool)?;
        // Neither the chain nor the name is checked: lettre's "invalid
        // certs" still checks the name, and MX hosts commonly present a
        // self-signed certificate or one for another name (RFC 7435).
        let params = TlsParameters::builder(host.to_string())
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true)
            .build()
            .map_err(|e| TransportError::Smtp(format!("tls: cannot set up TLS for {host}: {e}")))?;
        t.security = Security::Opportunistic(params);
        t.addr = Some(addr);
        t.max_uses = max_uses.max(1);
        t.relay = format!("{host} [{addr}]");
        Ok(t)
    }

    /// Sends one message. Cancel-safe: a dropped attempt closes its connection.
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
        let (mut conn, uses) = match tokio::time::timeout(self.timeout, self.checkout()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(outcome)) => return outcome,
            Err(_) => return self.timed_out("setting up the connection"),
        };
        // lettre ends the data with CRLF "." CRLF itself; without this the
        // message would arrive with an extra empty line.
        let bytes = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        match tokio::time::timeout(self.timeout, conn.send(&envelope, bytes)).await {
            Ok(Ok(reply)) => {
                self.checkin(conn, uses + 1).await;
                SendOutcome::Sent {
                    reply: format!("{} {}", reply.code(), reply.message().collect::<Vec<_>>().join(" ")),
                }
            }
            Ok(Err(e)) => {
                // After a refused RCPT lettre has already sent QUIT; a
                // connection that is still sound goes back.
                if !conn.has_broken() {
                    self.checkin(conn, uses + 1).await;
                }
                outcome_of(&e, &self.relay)
            }
            Err(_) => self.timed_out("sending the message"),
        }
    }

    /// Closes the idle connections (QUIT); call once at shutdown.
    pub async fn shutdown(&self) {
        let idle: Vec<Idle> = std::mem::take(&mut *self.lock());
        for mut i in idle {
            let _ = tokio::time::timeout(self.timeout, i.conn.abort()).await;
        }
    }

    /// Idle connections right now (for metrics and tests).
    pub fn idle_connections(&self) -> usize {
        self.lock().len()
    }

    fn timed_out(&self, phase: &str) -> SendOutcome {
        SendOutcome::deferred(format!("relay {}: timed out after {:?} {phase}", self.relay, self.timeout))
    }

    /// A live connection: the most recently used idle one that still
    /// answers NOOP, else a new one.
    async fn checkout(&self) -> Result<(AsyncSmtpConnection, u32), SendOutcome> {
        loop {
            let Some(mut idle) = self.lock().pop() else { break };
            if idle.since.elapsed() < IDLE_TIMEOUT && idle.conn.test_connected().await {
                return Ok((idle.conn, idle.uses));
            }
            // Stale: dropped (socket closed) rather than waiting on a QUIT.
        }
        let smtp = |e: Error| outcome_of(&e, &self.relay);
        let mut conn = self.connect().await?;
        match &self.security {
            Security::StartTls(p) => conn.starttls(p.clone(), &self.helo).await.map_err(smtp)?,
            Security::Opportunistic(p) if conn.can_starttls() && !self.tls_failed_recently() => {
                if let Err(e) = conn.starttls(p.clone(), &self.helo).await {
                    // Opportunistic TLS (RFC 7435) falls back to plain text
                    // rather than never delivering to a host with broken TLS.
                    tracing::info!(host = %self.relay, "STARTTLS failed ({e}); plain text to this host for {TLS_RETRY:?}");
                    *self.tls_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    conn = self.connect().await?;
                }
            }
            _ => {}
        }
        if let Some(c) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, c).await.map_err(smtp)?;
        }
        Ok((conn, 0))
    }

    fn tls_failed_recently(&self) -> bool {
        self.tls_failed.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| t.elapsed() < TLS_RETRY)
    }

    /// A new session: connected and greeted, EHLO sent (TLS only for
    /// implicit TLS).
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendOutcome> {
        let smtp = |e: Error| outcome_of(&e, &self.relay);
        Ok(match &self.security {
            // lettre opens the socket itself only for implicit TLS.
            Security::Implicit(p) => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.helo,
                Some(p.clone()),
                None,
            )
            .await
            .map_err(smtp)?,
            Security::Plain | Security::StartTls(_) | Security::Opportunistic(_) => {
                let tcp = match self.addr {
                    Some(addr) => TcpStream::connect(addr).await,
                    None => TcpStream::connect((self.host.as_str(), self.port)).await,
                };
                let tcp =
                    tcp.map_err(|e| SendOutcome::deferred(format!("relay {}: connection failed: {e}", self.relay)))?;
                // Without it, the lone "." line ending each message waits on
                // the relay's delayed ACK (Nagle): ~40 ms per message.
                let _ = tcp.set_nodelay(true);
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.helo).await.map_err(smtp)?
            }
        })
    }

    /// Keeps a connection for the next message, or closes it when it has
    /// carried its messages or the pool is full.
    async fn checkin(&self, conn: AsyncSmtpConnection, uses: u32) {
        let mut spare = {
            let mut idle = self.lock();
            if idle.len() < self.max_idle && uses < self.max_uses {
                idle.push(Idle { conn, since: Instant::now(), uses });
                return;
            }
            conn
        };
        // QUIT, not just a closed socket: the server then knows the session
        // is over before the caller (still holding its connection slot)
        // opens the next one, so it never sees one connection too many.
        // Bounded; a drop closes the socket anyway.
        let _ = tokio::time::timeout(self.timeout, spare.abort()).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
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
