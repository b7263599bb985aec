//! The configuration file exactly as written: serde structs mirroring the
//! TOML, with unknown keys refused. Nothing here is validated beyond types;
//! [`super::validate`] turns a [`RawConfig`] into a [`super::Config`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::units::{HumanDuration, Rate};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the store, the HMAC secret and the Maildir outbox live.
    pub state_dir: Option<PathBuf>,
    /// `[sender]`
    #[serde(default)]
    pub sender: RawSender,
    /// `[dkim]`, optional.
    pub dkim: Option<RawDkim>,
    /// `[transport]`
    #[serde(default)]
    pub transport: RawTransport,
    /// `[limits]`
    #[serde(default)]
    pub limits: RawLimits,
    /// `[lapse]`
    #[serde(default)]
    pub lapse: RawLapse,
    /// `[hygiene]`
    #[serde(default)]
    pub hygiene: RawHygiene,
    /// `[dns]`
    #[serde(default)]
    pub dns: RawDns,
    /// `[dns_check]`
    #[serde(default)]
    pub dns_check: crate::dns::config::RawDnsCheck,
    /// `[scheduler]`
    #[serde(default)]
    pub scheduler: RawScheduler,
    /// `[admin]`
    #[serde(default)]
    pub admin: RawAdmin,
    /// `[templates]`
    #[serde(default)]
    pub templates: RawTemplates,
    /// `[reputation]`
    #[serde(default)]
    pub reputation: crate::reputation::config::RawReputation,
    /// `[report]`
    #[serde(default)]
    pub report: RawReport,
    /// `[inbound]`
    #[serde(default)]
    pub inbound: crate::inbound::config::RawInbound,
    /// `[bounce]`
    #[serde(default)]
    pub bounce: crate::bounce::config::RawBounce,
    /// `[http]`
    #[serde(default)]
    pub http: crate::http::config::RawHttp,
    /// `[tracking]`
    #[serde(default)]
    pub tracking: crate::http::config::RawTracking,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: crate::http::config::RawMetrics,
    /// `[dashboard]`
    #[serde(default)]
    pub dashboard: crate::dashboard::config::RawDashboard,
    /// `[tokens]`
    #[serde(default)]
    pub tokens: crate::token::config::RawTokens,
    /// `[import]`
    #[serde(default)]
    pub import: crate::domain::import::config::RawImport,
    /// `[survey]`
    #[serde(default)]
    pub survey: crate::domain::survey::RawSurvey,
    /// `[[sequence]]`
    #[serde(default, rename = "sequence")]
    pub sequences: Vec<RawSequence>,
    /// `[customers]`
    #[serde(default)]
    pub customers: crate::customers::config::RawCustomers,
    /// `[[segment]]`
    #[serde(default, rename = "segment")]
    pub segments: Vec<crate::customers::config::RawSegment>,
}

/// `[sender]`: who the mail is from and where replies and bounces go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSender {
    /// `From:` header, `Name <addr>` or a bare address.
    pub from: Option<String>,
    /// Optional `Reply-To:`.
    pub reply_to: Option<String>,
    /// Domain of the VERP return path and of the unsubscribe mailto.
    pub bounce_domain: Option<String>,
    /// Public base URL of the HTTP side (unsubscribe, tracking).
    pub public_base_url: Option<String>,
    /// Sender identifier in the `Feedback-ID` header.
    pub feedback_id: Option<String>,
    /// HELO/EHLO name used by the SMTP client.
    pub helo_name: Option<String>,
}

/// `[dkim]`: signing key for outgoing mail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkim {
    /// Signing domain (`d=`).
    pub domain: String,
    /// Selector (`s=`).
    pub selector: String,
    /// PEM file with an RSA (PKCS#1 or PKCS#8) or Ed25519 private key.
    pub private_key_file: PathBuf,
}

/// `[transport]`: where outgoing mail goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransport {
    /// `maildir`, `smtp` or `mx`.
    pub kind: Option<String>,
    /// Maildir for `kind = "maildir"`.
    pub maildir: Option<PathBuf>,
    /// Relay host for `kind = "smtp"`.
    pub host: Option<String>,
    /// Relay port.
    pub port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    pub tls: Option<String>,
    /// SMTP AUTH user name.
    pub username: Option<String>,
    /// File holding the SMTP AUTH password.
    pub password_file: Option<PathBuf>,
    /// Per-command SMTP timeout.
    pub timeout: Option<HumanDuration>,
    /// How long a deferred message keeps being retried.
    pub max_retry_age: Option<HumanDuration>,
    /// First retry delay; doubles up to `retry_max`.
    pub retry_initial: Option<HumanDuration>,
    /// Longest retry delay.
    pub retry_max: Option<HumanDuration>,
    /// Direct delivery: open connections per provider (MX host group).
    pub connections_per_provider: Option<u32>,
    /// Direct delivery: messages per connection before it is closed.
    pub messages_per_connection: Option<u32>,
}

/// `[limits]`: sending rates and connection caps.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Rate over all mail.
    pub global: Option<Rate>,
    /// Rate per recipient domain.
    pub per_domain: Option<Rate>,
    /// Rates for specific recipient domains.
    #[serde(default)]
    pub domain: BTreeMap<String, Rate>,
    /// Cap on concurrent SMTP connections.
    pub max_connections: Option<u32>,
}

/// `[lapse]`: when a contact counts as lapsed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLapse {
    /// No engagement for this long makes a contact lapsed.
    pub inactive_after: Option<HumanDuration>,
    /// A finished contact re-enters only after this long.
    pub reentry_after: Option<HumanDuration>,
    /// Event kinds that count as engagement.
    pub engagement_kinds: Option<Vec<String>>,
    /// Whether opens and clicks of unknown origin count as engagement.
    pub count_unknown: Option<bool>,
    /// `fixed`, `cadence` or `p_alive`.
    pub mode: Option<String>,
    /// Cadence: lapsed after this many typical gaps between orders.
    pub factor: Option<f64>,
    /// Cadence: never lapsed sooner than this after the last order.
    pub min: Option<HumanDuration>,
    /// Cadence: always lapsed this long after the last order.
    pub max: Option<HumanDuration>,
    /// `p_alive`: lapsed when P(alive) falls below this.
    pub p_alive_below: Option<f64>,
    /// At risk after this many typical gaps (before lapse).
    pub at_risk_factor: Option<f64>,
}

/// `[hygiene]`: import-time list checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHygiene {
    /// One local part per line.
    pub role_accounts_file: Option<PathBuf>,
    /// One domain per line.
    pub disposable_domains_file: Option<PathBuf>,
    /// Enroll role accounts in sequences anyway.
    pub enroll_role_accounts: Option<bool>,
    /// Enroll disposable-domain addresses anyway.
    pub enroll_disposable: Option<bool>,
    /// Reject domains that cannot receive mail (DNS lookups at import).
    pub check_dns: Option<bool>,
}

/// `[dns]`: resolver settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// `ip` or `ip:port`; empty means the system resolver configuration.
    pub nameservers: Option<Vec<String>>,
    /// Per-query timeout.
    pub timeout: Option<HumanDuration>,
    /// Attempts per query.
    pub attempts: Option<usize>,
}

/// `[scheduler]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    /// How often due work is looked for.
    pub tick: Option<HumanDuration>,
    /// Most contacts advanced per tick.
    pub batch: Option<usize>,
    /// Bound of the in-memory send queue.
    pub queue: Option<usize>,
    /// How long shutdown waits for in-flight work.
    pub drain_timeout: Option<HumanDuration>,
}

/// `[admin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Unix socket of the admin API.
    pub socket: Option<PathBuf>,
}

/// `[templates]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplates {
    /// Folder with `NAME.txt` and `NAME.html`.
    pub dir: Option<PathBuf>,
    /// Folder whose files replace those of `dir` of the same name.
    pub local_dir: Option<PathBuf>,
}

/// One `[[sequence]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSequence {
    /// Unique name.
    pub name: String,
    /// Time after the final step within which engagement still reactivates.
    pub grace: HumanDuration,
    /// Whether contacts who engaged once ("sleepers") enter.
    pub sleepers: Option<bool>,
    /// Whether contacts who never engaged enter.
    pub never_engaged: Option<bool>,
    /// Share of entering contacts kept as an unmailed control group (`"10%"`).
    pub holdout: Option<String>,
    /// Days and hours when messages may go out.
    pub send_window: Option<crate::domain::send_window::RawSendWindow>,
    /// The segments it takes (`[[segment]]` or RFM names); none: all.
    pub segments: Option<Vec<String>>,
    /// `lapsed` (default) or `at_risk`.
    pub stage: Option<String>,
    /// The messages, in order.
    #[serde(default, rename = "step")]
    pub steps: Vec<RawStep>,
}

/// One `[[sequence.step]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Delay after the previous step (after entry for the first).
    pub after: HumanDuration,
    /// Subject line, a template itself.
    pub subject: String,
    /// Template name: `NAME.txt` and `NAME.html` under the templates dir.
    pub template: String,
    /// Marks the last-chance message.
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// A/B variants (`[[sequence.step.variant]]`).
    #[serde(default, rename = "variant")]
    pub variants: Vec<crate::domain::variant::RawVariant>,
    /// Give new contacts the winning variant once it is significant.
    pub auto_promote: Option<bool>,
    /// The offer's value when redeemed: `"5.00"` or `"10%"` of the order.
    pub offer_cost: Option<String>,
}

/// `[report]`: KPI settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// A reactivated contact counts as retained if it engages again this long after.
    pub retention_window: Option<HumanDuration>,
    /// The smallest reactivation lift (absolute, `"2%"`) worth detecting.
    pub min_detectable_lift: Option<String>,
    /// What sending one message costs (`"0.002"`).
    pub cost_per_message: Option<String>,
}
