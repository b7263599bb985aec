//! The `[http]`, `[tracking]` and `[metrics]` config sections: raw TOML
//! structs and their validated forms.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::instrument::InstrumentOptions;
use super::signals::{NetSet, Signals};
use crate::config::ConfigError;
use crate::config::units::{ByteSize, HumanDuration};
use crate::domain::EventKind;

/// Kinds the events API knows without configuration.
pub const BUILTIN_API_KINDS: [&str; 5] = ["purchase", "login", "visit", "reply", "signup"];

/// `[http]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// `ip:port` to listen on.
    pub listen: Option<String>,
    /// File holding the events API bearer token.
    pub api_token_file: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CIDRs or addresses).
    pub trusted_proxies: Option<Vec<String>>,
    /// Largest request body.
    pub max_body: Option<ByteSize>,
    /// Most events in one API request.
    pub max_batch: Option<usize>,
    /// Requests handled at once; more are answered 503.
    pub max_concurrency: Option<usize>,
    /// Open connections at once; more wait in the kernel's backlog.
    pub max_connections: Option<usize>,
    /// Longest time for one request, body included.
    pub request_timeout: Option<HumanDuration>,
    /// Longest time for a client to send a request's headers (also the idle
    /// time allowed on a kept-alive connection).
    pub header_timeout: Option<HumanDuration>,
    /// Create contacts for API events about unknown addresses.
    pub create_unknown_contacts: Option<bool>,
    /// Extra event kinds the API accepts.
    pub event_kinds: Option<Vec<String>>,
    /// Largest magnitude of an event's `value` (API and `winback events`).
    pub max_event_value: Option<f64>,
}

/// `[metrics]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// `ip:port` of the Prometheus listener, or `"off"`.
    pub listen: Option<String>,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; `None`: nowhere. Never on the public
    /// listener.
    pub listen: Option<SocketAddr>,
}

/// `[tracking]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTracking {
    /// Add the open pixel to HTML parts.
    pub opens: Option<bool>,
    /// Rewrite HTML links to click redirects.
    pub clicks: Option<bool>,
    /// Rewrite the text part's links too (default on).
    pub text_links: Option<bool>,
    /// The machine-signals data file.
    pub signals_file: Option<PathBuf>,
}

/// `[http]`, validated: the token file is read.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Events API bearer token; `None` turns the API off (401).
    pub api_token: Option<String>,
    /// Trusted reverse proxies.
    pub trusted_proxies: NetSet,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Most events per API request.
    pub max_batch: usize,
    /// Requests in flight before 503.
    pub max_concurrency: usize,
    /// Open connections.
    pub max_connections: usize,
    /// Per-request deadline.
    pub request_timeout: Duration,
    /// Header (and keep-alive idle) deadline.
    pub header_timeout: Duration,
    /// Create contacts for unknown API addresses.
    pub create_unknown_contacts: bool,
    /// Configured extra API kinds.
    pub event_kinds: BTreeSet<String>,
    /// Largest accepted `|value|` of an event.
    pub max_event_value: f64,
}

/// Default of `[http] max_event_value`.
pub const DEFAULT_MAX_EVENT_VALUE: f64 = 1e9;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8025)),
            api_token: None,
            trusted_proxies: NetSet::default(),
            max_body: 1 << 20,
            max_batch: 1_000,
            max_concurrency: 1_024,
            max_connections: 4_096,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            create_unknown_contacts: false,
            event_kinds: BTreeSet::new(),
            max_event_value: DEFAULT_MAX_EVENT_VALUE,
        }
    }
}

/// `[tracking]`, validated: the signals file is loaded.
#[derive(Debug, Clone)]
pub struct TrackingConfig {
    /// Open pixel on.
    pub opens: bool,
    /// Click redirects on.
    pub clicks: bool,
    /// Click redirects in the text part too.
    pub text_links: bool,
    /// Machine signals.
    pub signals: Arc<Signals>,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig { opens: true, clicks: true, text_links: true, signals: Arc::new(Signals::default()) }
    }
}

impl TrackingConfig {
    /// The switches for [`super::instrument::instrument_html`].
    pub fn instrument_options(&self) -> InstrumentOptions {
        InstrumentOptions { opens: self.opens, clicks: self.clicks, text_links: self.text_links }
    }
}

fn cerr(file: &str, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { file: file.to_string(), key: key.to_string(), message: message.into() }
}

fn positive(file: &str, key: &str, v: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match v {
        Some(0) => Err(cerr(file, key, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

fn listen_addr(file: &str, key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| cerr(file, key, format!("`{s}` is not ip:port; write it like \"127.0.0.1:8025\" or \"[::]:80\"")))
}

fn nonzero(file: &str, key: &str, v: Option<HumanDuration>, default: Duration) -> Result<Duration, ConfigError> {
    match v {
        Some(d) if d.0.is_zero() => Err(cerr(file, key, "must be longer than zero")),
        Some(d) => Ok(d.0),
        None => Ok(default),
    }
}

/// Validates `[http]`; `file` names the config file in errors.
pub fn validate_http(file: &str, raw: RawHttp) -> Result<HttpConfig, ConfigError> {
    let d = HttpConfig::default();
    let listen = match raw.listen {
        None => d.listen,
        Some(s) => listen_addr(file, "[http] listen", &s)?,
    };
    let api_token = match raw.api_token_file {
        None => None,
        Some(p) => {
            let key = "[http] api_token_file";
            let text = std::fs::read_to_string(&p)
                .map_err(|e| cerr(file, key, format!("cannot read {}: {e}", p.display())))?;
            let token = text.trim().to_string();
            if token.len() < 16 || token.contains(char::is_whitespace) {
                return Err(cerr(
                    file,
                    key,
                    format!(
                        "{} must hold one token of at least 16 characters without spaces; make one with `head -c 32 /dev/urandom | base64`",
                        p.display()
                    ),
                ));
            }
            Some(token)
        }
    };
    let mut proxies = Vec::new();
    for (i, s) in raw.trusted_proxies.unwrap_or_default().iter().enumerate() {
        let net = s
            .trim()
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                cerr(file, &format!("[http] trusted_proxies[{i}]"), format!("`{s}` is not an address or network"))
            })?;
        proxies.push(net.trunc());
    }
    let mut event_kinds = BTreeSet::new();
    for k in raw.event_kinds.unwrap_or_default() {
        let k = k.to_ascii_lowercase();
        if !crate::config::valid_kind(&k) {
            return Err(cerr(file, "[http] event_kinds", format!("`{k}`: kinds are letters, digits, `_` and `-`")));
        }
        if EventKind::parse(&k).is_reserved() {
            return Err(cerr(
                file,
                "[http] event_kinds",
                format!("`{k}` is recorded by winback itself (tracking, unsubscribes, reports); remove it"),
            ));
        }
        event_kinds.insert(k);
    }
    let max_body = raw.max_body.map_or(Ok(d.max_body), |b| match usize::try_from(b.0) {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(cerr(file, "[http] max_body", "must be between 1KB and the address space; 1MB is plenty")),
    })?;
    let max_event_value = match raw.max_event_value {
        None => d.max_event_value,
        Some(v) if v.is_finite() && v > 0.0 && v <= 1e15 => v,
        Some(v) => {
            return Err(cerr(file, "[http] max_event_value", format!("{v}: write a positive number up to 1e15")));
        }
    };
    Ok(HttpConfig {
        listen,
        max_event_value,
        api_token,
        trusted_proxies: NetSet::new(proxies),
        max_body,
        max_batch: positive(file, "[http] max_batch", raw.max_batch, d.max_batch)?,
        max_concurrency: positive(file, "[http] max_concurrency", raw.max_concurrency, d.max_concurrency)?,
        max_connections: positive(file, "[http] max_connections", raw.max_connections, d.max_connections)?,
        request_timeout: nonzero(file, "[http] request_timeout", raw.request_timeout, d.request_timeout)?,
        header_timeout: nonzero(file, "[http] header_timeout", raw.header_timeout, d.header_timeout)?,
        create_unknown_contacts: raw.create_unknown_contacts.unwrap_or(false),
        event_kinds,
    })
}

/// Validates `[metrics]`: absent or `"off"` turns the listener off.
pub fn validate_metrics(file: &str, raw: RawMetrics) -> Result<MetricsConfig, ConfigError> {
    let listen = match raw.listen.as_deref().map(str::trim) {
        None | Some("off") => None,
        Some(s) => Some(listen_addr(file, "[metrics] listen", s)?),
    };
    Ok(MetricsConfig { listen })
}

/// Validates `[tracking]`, loading the signals file (the shipped one when
/// no file is named and `config/machine-signals.toml` does not exist).
pub fn validate_tracking(file: &str, raw: RawTracking) -> Result<TrackingConfig, ConfigError> {
    let key = "[tracking] signals_file";
    let default = Path::new("config/machine-signals.toml");
    let signals = match raw.signals_file {
        Some(p) => Signals::load(&p).map_err(|e| cerr(file, key, format!("{}: {e}", p.display())))?,
        None if default.exists() => {
            Signals::load(default).map_err(|e| cerr(file, key, format!("{}: {e}", default.display())))?
        }
        None => Signals::default(),
    };
    Ok(TrackingConfig {
        opens: raw.opens.unwrap_or(true),
        clicks: raw.clicks.unwrap_or(true),
        text_links: raw.text_links.unwrap_or(true),
        signals: Arc::new(signals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(text: &str) -> Result<HttpConfig, ConfigError> {
        validate_http("t.toml", toml::from_str(text).map_err(|e| cerr("t.toml", "syntax", e.to_string()))?)
    }

    #[test]
    fn defaults_and_values() {
        let c = http("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8025");
        assert!(c.api_token.is_none());
        assert_eq!(c.max_event_value, DEFAULT_MAX_EVENT_VALUE);
        let c = http(
            "listen = \"[::1]:9000\"\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\nmax_body = \"64KB\"\nevent_kinds = [\"Trial\"]",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(c.trusted_proxies.contains("10.9.9.9".parse().unwrap()));
        assert_eq!(c.max_body, 65_536);
        assert!(c.event_kinds.contains("trial"));
    }

    #[test]
    fn errors_name_the_key() {
        let key = |t: &str| http(t).unwrap_err().key;
        assert_eq!(key("listen = \"localhost\""), "[http] listen");
        assert_eq!(key("trusted_proxies = [\"x\"]"), "[http] trusted_proxies[0]");
        assert_eq!(key("max_concurrency = 0"), "[http] max_concurrency");
        assert_eq!(key("request_timeout = \"0s\""), "[http] request_timeout");
        assert_eq!(key("event_kinds = [\"open\"]"), "[http] event_kinds");
        assert_eq!(key("event_kinds = [\"a b\"]"), "[http] event_kinds");
        assert_eq!(key("max_body = 10"), "[http] max_body");
        assert_eq!(key("api_token_file = \"/nonexistent/token\""), "[http] api_token_file");
        assert_eq!(key("max_event_value = 0.0"), "[http] max_event_value");
        assert_eq!(key("max_event_value = 1e300"), "[http] max_event_value");
        assert_eq!(key("max_event_value = nan"), "[http] max_event_value");
    }

    #[test]
    fn metrics_listener_is_off_unless_named() {
        let m = |t: &str| validate_metrics("t.toml", toml::from_str(t).unwrap());
        assert_eq!(m("").unwrap().listen, None);
        assert_eq!(m("listen = \"off\"").unwrap().listen, None);
        assert_eq!(m("listen = \"127.0.0.1:9925\"").unwrap().listen, Some(SocketAddr::from(([127, 0, 0, 1], 9925))));
        assert_eq!(m("listen = \"localhost\"").unwrap_err().key, "[metrics] listen");
    }

    #[test]
    fn token_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "s3cr3t-s3cr3t-s3cr3t\n").unwrap();
        let c = http(&format!("api_token_file = {:?}", p.display().to_string())).unwrap();
        assert_eq!(c.api_token.as_deref(), Some("s3cr3t-s3cr3t-s3cr3t"));
        std::fs::write(&p, "short").unwrap();
        let e = http(&format!("api_token_file = {:?}", p.display().to_string())).unwrap_err();
        assert!(e.message.contains("at least 16"), "{e}");
    }

    #[test]
    fn tracking_loads_signals() {
        let t = validate_tracking("t.toml", RawTracking::default()).unwrap();
        assert!(t.opens && t.clicks && t.text_links && !t.signals.agents.is_empty());
        let raw = RawTracking { signals_file: Some("/nonexistent.toml".into()), ..Default::default() };
        assert_eq!(validate_tracking("t.toml", raw).unwrap_err().key, "[tracking] signals_file");
    }
}
