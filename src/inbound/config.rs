//! `[inbound]`: how bounces reach winback (SMTP listener, `winback ingest`,
//! a watched Maildir) and the limits of the inbound spool.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::units::{ByteSize, HumanDuration};

/// `[inbound]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInbound {
    /// `ip:port` of the built-in SMTP listener; absent = no listener.
    pub listen: Option<String>,
    /// Domains whose addresses the listener accepts; default `[sender] bounce_domain`.
    pub bounce_domains: Option<Vec<String>>,
    /// Largest accepted message.
    pub max_message_size: Option<ByteSize>,
    /// Concurrent SMTP connections.
    pub max_connections: Option<usize>,
    /// Concurrent SMTP connections from one client IP address.
    pub max_connections_per_client: Option<usize>,
    /// Idle timeout per SMTP command, and deadline of every reply.
    pub timeout: Option<HumanDuration>,
    /// Longest SMTP session, whatever the client does.
    pub session_timeout: Option<HumanDuration>,
    /// A Maildir to watch for bounces (its `new/` is read, files move to `cur/`).
    pub maildir_watch: Option<PathBuf>,
    /// How often the Maildir is polled.
    pub maildir_interval: Option<HumanDuration>,
    /// Most messages waiting in the spool.
    pub spool_max_messages: Option<usize>,
    /// Most bytes waiting in the spool.
    pub spool_max_bytes: Option<ByteSize>,
    /// How long reports that could not be attributed are kept for inspection.
    pub keep_unattributed: Option<HumanDuration>,
}

/// `[inbound]`, validated.
#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// Listener address, when the listener is on.
    pub listen: Option<SocketAddr>,
    /// Lower-case bounce domains.
    pub bounce_domains: Vec<String>,
    /// Largest accepted message in bytes.
    pub max_message_size: u64,
    /// Concurrent SMTP connections.
    pub max_connections: usize,
    /// Concurrent SMTP connections from one client IP address.
    pub max_connections_per_client: usize,
    /// Idle timeout per command, and deadline of every reply.
    pub timeout: Duration,
    /// Longest SMTP session.
    pub session_timeout: Duration,
    /// Watched Maildir, if any.
    pub maildir_watch: Option<PathBuf>,
    /// Poll interval of the Maildir watch.
    pub maildir_interval: Duration,
    /// Spool limits.
    pub spool: SpoolLimits,
    /// How long unattributed reports are kept in `state_dir/unattributed`.
    pub keep_unattributed: Duration,
}

/// Bounds of the inbound spool: past either, new messages are refused with
/// a temporary failure so the sending MTA retries later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Most messages waiting.
    pub max_messages: usize,
    /// Most bytes waiting.
    pub max_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        SpoolLimits { max_messages: 10_000, max_bytes: 1 << 30 }
    }
}

impl InboundConfig {
    /// Defaults for a bounce domain (tests, `ingest` without a section).
    pub fn defaults(bounce_domain: &str) -> Self {
        InboundConfig {
            listen: None,
            bounce_domains: vec![bounce_domain.to_ascii_lowercase()],
            max_message_size: 10 << 20,
            max_connections: 64,
            max_connections_per_client: 4,
            timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(600),
            maildir_watch: None,
            maildir_interval: Duration::from_secs(30),
            spool: SpoolLimits::default(),
            keep_unattributed: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Validates `[inbound]`; `bounce_domain` is `[sender] bounce_domain`.
pub fn validate(file: &str, raw: RawInbound, bounce_domain: &str) -> Result<InboundConfig, ConfigError> {
    let err = |key: &str, message: String| ConfigError { file: file.into(), key: format!("[inbound] {key}"), message };
    let d = InboundConfig::defaults(bounce_domain);
    let listen = match raw.listen {
        None => None,
        Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
            err("listen", format!("`{s}` is not an address; write `ip:port`, like `127.0.0.1:2525` or `[::]:25`"))
        })?),
    };
    let mut bounce_domains = Vec::new();
    for dom in raw.bounce_domains.unwrap_or(d.bounce_domains) {
        let dom = dom.trim().trim_end_matches('.').to_ascii_lowercase();
        if dom.is_empty() || dom.contains(['@', ' ', '/']) || !dom.contains('.') && dom != "localhost" {
            return Err(err(
                "bounce_domains",
                format!("`{dom}` is not a domain name; write it like `bounces.example.com`"),
            ));
        }
        bounce_domains.push(dom);
    }
    if bounce_domains.is_empty() {
        return Err(err(
            "bounce_domains",
            "needs at least one domain (or leave it out to use [sender] bounce_domain)".into(),
        ));
    }
    let positive = |key: &str, v: u64| {
        if v == 0 { Err(err(key, "must be greater than 0".into())) } else { Ok(v) }
    };
    let max_message_size = positive("max_message_size", raw.max_message_size.map_or(d.max_message_size, |b| b.0))?;
    let max_connections =
        positive("max_connections", raw.max_connections.map_or(d.max_connections as u64, |v| v as u64))? as usize;
    let max_connections_per_client = positive(
        "max_connections_per_client",
        raw.max_connections_per_client.map_or(d.max_connections_per_client as u64, |v| v as u64),
    )? as usize;
    let timeout = raw.timeout.map_or(d.timeout, |t| t.0);
    if timeout < Duration::from_secs(1) {
        return Err(err("timeout", "must be at least 1s".into()));
    }
    let session_timeout = raw.session_timeout.map_or(d.session_timeout, |t| t.0);
    if session_timeout < timeout {
        return Err(err(
            "session_timeout",
            format!("must be at least `timeout` ({}s): a session needs time for one command", timeout.as_secs()),
        ));
    }
    let maildir_interval = raw.maildir_interval.map_or(d.maildir_interval, |t| t.0);
    if maildir_interval < Duration::from_millis(100) {
        return Err(err("maildir_interval", "must be at least 100ms".into()));
    }
    let spool = SpoolLimits {
        max_messages: positive(
            "spool_max_messages",
            raw.spool_max_messages.map_or(d.spool.max_messages as u64, |v| v as u64),
        )? as usize,
        max_bytes: positive("spool_max_bytes", raw.spool_max_bytes.map_or(d.spool.max_bytes, |b| b.0))?,
    };
    if spool.max_bytes < max_message_size {
        return Err(err("spool_max_bytes", "must be at least max_message_size".into()));
    }
    Ok(InboundConfig {
        listen,
        bounce_domains,
        max_message_size,
        max_connections,
        max_connections_per_client,
        timeout,
        session_timeout,
        maildir_watch: raw.maildir_watch,
        maildir_interval,
        spool,
        keep_unattributed: raw.keep_unattributed.map_or(d.keep_unattributed, |t| t.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = validate("f", RawInbound::default(), "b.example.org").unwrap();
        assert_eq!(c.bounce_domains, vec!["b.example.org"]);
        assert!(c.listen.is_none());
        let raw = RawInbound { listen: Some("nonsense".into()), ..RawInbound::default() };
        let e = validate("f", raw, "b.example.org").unwrap_err();
        assert_eq!(e.key, "[inbound] listen");
        let raw = RawInbound { max_connections: Some(0), ..RawInbound::default() };
        assert_eq!(validate("f", raw, "b.example.org").unwrap_err().key, "[inbound] max_connections");
        assert_eq!(c.max_connections_per_client, 4);
        let raw = RawInbound { max_connections_per_client: Some(0), ..RawInbound::default() };
        assert_eq!(validate("f", raw, "b.example.org").unwrap_err().key, "[inbound] max_connections_per_client");
        let short = Some(HumanDuration(Duration::from_secs(5)));
        let raw = RawInbound { session_timeout: short, ..RawInbound::default() };
        let e = validate("f", raw, "b.example.org").unwrap_err();
        assert_eq!(e.key, "[inbound] session_timeout", "shorter than the default timeout");
        let raw = RawInbound { timeout: short, session_timeout: short, ..RawInbound::default() };
        assert_eq!(validate("f", raw, "b.example.org").unwrap().session_timeout, Duration::from_secs(5));
    }
}
