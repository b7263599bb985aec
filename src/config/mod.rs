//! Configuration: the raw TOML file ([`raw`]), typed units ([`units`]) and
//! the validated [`Config`] the rest of winback reads.
//!
//! Validation happens once, at load: every error names the file, the key
//! and what is wrong, and the caller exits with `EX_CONFIG` (64)... no part
//! of the daemon ever sees an unchecked value. A running daemon reads the
//! file again on reload (`crate::daemon::reload`) through the same
//! validation; the parts that change while running are handed out through
//! [`live::Live`].

pub mod live;
pub mod raw;
pub mod units;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use self::raw::RawConfig;
use self::units::Rate;

/// The config shipped with winback, used when no file is named and
/// `config/winback.toml` does not exist.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/winback.toml");

/// A configuration problem: where it is and what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    /// The file (or `<embedded>`).
    pub file: String,
    /// The key, like `[transport] port` or `sequence[0].step[1].template`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportKind {
    /// Written as files into a Maildir (`new/`).
    Maildir(PathBuf),
    /// Handed to one SMTP relay.
    Smtp(SmtpRelay),
    /// Delivered directly to each recipient domain's MX hosts.
    Mx(MxDelivery),
}

/// Direct delivery settings (`[transport] kind = "mx"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxDelivery {
    /// TCP port of every MX host (25; another only for closed test setups).
    pub port: u16,
    /// Open connections to the MX hosts of one provider at most.
    pub connections_per_provider: usize,
    /// Messages sent over one connection before it is closed.
    pub messages_per_connection: u32,
}

impl Default for MxDelivery {
    fn default() -> Self {
        MxDelivery { port: 25, connections_per_provider: 4, messages_per_connection: 100 }
    }
}

/// TLS mode toward a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text.
    None,
    /// STARTTLS required.
    StartTls,
    /// Implicit TLS (SMTPS).
    Tls,
}

/// An SMTP relay's address and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// `(user, password)` when AUTH is configured; the password comes from a file.
    pub auth: Option<(String, String)>,
}

/// `[transport]`, validated.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Destination.
    pub kind: TransportKind,
    /// Per-command SMTP timeout.
    pub timeout: Duration,
    /// Give up on a deferred message after this long.
    pub max_retry_age: Duration,
    /// First retry delay.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// `[sender]`, validated.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Display name of `From:`, if any.
    pub from_name: Option<String>,
    /// Address of `From:`.
    pub from_addr: String,
    /// Optional `Reply-To:`.
    pub reply_to: Option<String>,
    /// VERP and unsubscribe-mailto domain.
    pub bounce_domain: String,
    /// Base URL for links, without trailing slash.
    pub public_base_url: String,
    /// Sender id in `Feedback-ID`.
    pub feedback_id: String,
    /// EHLO name.
    pub helo_name: String,
}

/// `[dkim]`, validated: the key file exists and is readable.
#[derive(Debug, Clone)]
pub struct DkimConfig {
    /// `d=`
    pub domain: String,
    /// `s=`
    pub selector: String,
    /// PEM text of the private key.
    pub private_key_pem: String,
}

/// `[limits]`, validated.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Over all mail.
    pub global: Rate,
    /// Per recipient domain unless overridden.
    pub per_domain: Rate,
    /// Overrides by lower-case domain.
    pub domain: BTreeMap<String, Rate>,
    /// Concurrent SMTP connections.
    pub max_connections: usize,
}

/// `[lapse]`, validated.
#[derive(Debug, Clone)]
pub struct LapseConfig {
    /// No engagement for this long → lapsed.
    pub inactive_after: Duration,
    /// Wait after a finished sequence before re-entry.
    pub reentry_after: Duration,
    /// Event kinds that count as engagement.
    pub engagement_kinds: HashSet<String>,
    /// Opens/clicks of unknown origin count as engagement.
    pub count_unknown: bool,
    /// How lapse is judged.
    pub mode: crate::customers::lapse::LapseMode,
    /// At risk after this many typical gaps between orders, if set.
    pub at_risk_factor: Option<f64>,
}

/// `[hygiene]`, validated: the lists are loaded.
#[derive(Debug, Clone, Default)]
pub struct HygieneConfig {
    /// Lower-case role local parts (`postmaster`, `noreply`, …).
    pub role_accounts: HashSet<String>,
    /// Lower-case disposable domains.
    pub disposable_domains: HashSet<String>,
    /// Enroll role accounts anyway.
    pub enroll_role_accounts: bool,
    /// Enroll disposable addresses anyway.
    pub enroll_disposable: bool,
    /// Look up MX/A/AAAA at import.
    pub check_dns: bool,
}

/// `[dns]`, validated.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Explicit nameservers; empty = system configuration.
    pub nameservers: Vec<std::net::SocketAddr>,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Attempts per query.
    pub attempts: usize,
}

/// `[scheduler]`, validated.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Tick period.
    pub tick: Duration,
    /// Most contacts advanced per tick.
    pub batch: usize,
    /// Bound of the in-memory send queue.
    pub queue: usize,
    /// Shutdown drain deadline (shorter than systemd's TimeoutStopSec).
    pub drain_timeout: Duration,
}

/// One validated `[[sequence]]`.
#[derive(Debug, Clone)]
pub struct SequenceConfig {
    /// Unique name.
    pub name: String,
    /// Wait after the final step before sunset.
    pub grace: Duration,
    /// Contacts who engaged once enter.
    pub sleepers: bool,
    /// Contacts who never engaged enter.
    pub never_engaged: bool,
    /// Steps, the last one final.
    pub steps: Vec<StepConfig>,
    /// Share (0 to 0.5) of entering contacts kept as a control group:
    /// entered, sent nothing, measured like the others.
    pub holdout: f64,
    /// Days and hours when messages may go out (any time when `None`).
    pub send_window: Option<crate::domain::send_window::SendWindow>,
    /// The segments it takes; empty: all.
    pub segments: Vec<String>,
    /// The stage it takes contacts at.
    pub stage: crate::customers::lapse::Stage,
}

impl SequenceConfig {
    /// How long a contact is in the sequence at the least: every step's
    /// delay plus the grace period (a control contact's whole stay).
    pub fn span(&self) -> Duration {
        self.steps.iter().map(|s| s.after).sum::<Duration>() + self.grace
    }
}

/// One validated step.
#[derive(Debug, Clone)]
pub struct StepConfig {
    /// Delay after the previous step.
    pub after: Duration,
    /// Subject template source.
    pub subject: String,
    /// Template name.
    pub template: String,
    /// A/B variants (none, or at least two).
    pub variants: Vec<crate::domain::variant::VariantConfig>,
    /// New contacts get the significant winner among the variants.
    pub auto_promote: bool,
    /// The offer's value when redeemed, for return on spend.
    pub offer_cost: Option<crate::report::roi::OfferCost>,
}

/// `[report]`, validated.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// Retention window.
    pub retention_window: Duration,
    /// The smallest absolute reactivation lift worth detecting (sample sizes).
    pub min_detectable_lift: f64,
    /// What sending one message costs.
    pub cost_per_message: f64,
}

/// Where template files are found: `local` first, then `dir`, file by
/// file (`[templates] local_dir` and `dir`). The package ships its
/// templates in `/usr/share/winback/templates` and looks in
/// `/etc/winback/templates` first: an operator's copy of one file replaces
/// that file only, and an upgrade never touches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDirs {
    /// The templates shipped (or the only folder).
    pub dir: PathBuf,
    /// Local copies that take precedence, when set (it may not exist).
    pub local: Option<PathBuf>,
}

impl TemplateDirs {
    /// One folder.
    pub fn one(dir: impl Into<PathBuf>) -> TemplateDirs {
        TemplateDirs { dir: dir.into(), local: None }
    }

    /// The file `name`: the local copy when there is one, else the shipped one.
    pub fn file(&self, name: &str) -> PathBuf {
        match &self.local {
            Some(l) if l.join(name).is_file() => l.join(name),
            _ => self.dir.join(name),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (`<embedded>` for the built-in default).
    pub source: String,
    /// State directory.
    pub state_dir: PathBuf,
    /// `[sender]`
    pub sender: SenderConfig,
    /// `[dkim]`
    pub dkim: Option<DkimConfig>,
    /// `[transport]`
    pub transport: TransportConfig,
    /// `[limits]`
    pub limits: LimitsConfig,
    /// `[lapse]`
    pub lapse: LapseConfig,
    /// `[hygiene]`
    pub hygiene: HygieneConfig,
    /// `[dns]`
    pub dns: DnsConfig,
    /// `[dns_check]`
    pub dns_check: crate::dns::config::DnsCheckConfig,
    /// `[scheduler]`
    pub scheduler: SchedulerConfig,
    /// `[reputation]`
    pub reputation: crate::reputation::ReputationConfig,
    /// Admin socket path.
    pub admin_socket: PathBuf,
    /// Where template files are found.
    pub templates_dir: TemplateDirs,
    /// `[report]`
    pub report: ReportConfig,
    /// Sequences in file order; a lapsed contact enters the first that takes it.
    pub sequences: Vec<SequenceConfig>,
    /// `[inbound]`
    pub inbound: crate::inbound::config::InboundConfig,
    /// `[http]`
    pub http: crate::http::config::HttpConfig,
    /// `[tracking]`
    pub tracking: crate::http::config::TrackingConfig,
    /// `[bounce]`
    pub bounce: crate::bounce::config::BounceConfig,
    /// `[metrics]`
    pub metrics: crate::http::config::MetricsConfig,
    /// `[dashboard]`
    pub dashboard: crate::dashboard::config::DashboardConfig,
    /// `[tokens]`
    pub tokens: crate::token::TokensConfig,
    /// `[import]`
    pub import: crate::domain::import::ImportConfig,
    /// `[survey]`
    pub survey: crate::domain::survey::SurveyConfig,
    /// `[customers]` and `[[segment]]`
    pub customers: crate::customers::config::CustomersConfig,
}

impl Config {
    /// Load and validate a file; `None` uses `config/winback.toml` when it
    /// exists, else the embedded default.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let default_path = Path::new("config/winback.toml");
        let (source, text) = match path {
            Some(p) => (p.display().to_string(), read_file(p, &p.display().to_string(), "")?),
            None if default_path.exists() => {
                (default_path.display().to_string(), read_file(default_path, "config/winback.toml", "")?)
            }
            None => ("<embedded>".to_string(), EMBEDDED_DEFAULT.to_string()),
        };
        Self::from_toml(&source, &text)
    }

    /// Parse and validate TOML text; `source` names it in errors.
    pub fn from_toml(source: &str, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: source.to_string(),
            key: e
                .span()
                .map(|s| format!("line {}", text[..s.start.min(text.len())].lines().count().max(1)))
                .unwrap_or_else(|| "syntax".into()),
            message: e.message().to_string(),
        })?;
        validate(source, raw)
    }

    /// The sequence with this name.
    pub fn sequence(&self, name: &str) -> Option<&SequenceConfig> {
        self.sequences.iter().find(|s| s.name == name)
    }

    /// The rate for one recipient domain.
    pub fn domain_rate(&self, domain: &str) -> Rate {
        self.limits.domain.get(domain).copied().unwrap_or(self.limits.per_domain)
    }
}

fn read_file(path: &Path, file: &str, key: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.to_string(),
        key: if key.is_empty() { "file".into() } else { key.into() },
        message: format!("cannot read {}: {e}", path.display()),
    })
}

/// Reads a list file: one entry per line, `#` comments, lower-cased.
fn read_list(path: &Path, file: &str, key: &str) -> Result<HashSet<String>, ConfigError> {
    Ok(read_file(path, file, key)?
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect())
}

mod validate;
pub use validate::valid_kind;
use validate::validate;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
