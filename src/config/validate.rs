//! Turns a [`RawConfig`] into a [`Config`]: defaults, cross-checks, file
//! reads (password, DKIM key, hygiene lists) and template existence.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawConfig;
use super::units::Rate;
use super::*;

/// Builds [`ConfigError`]s for one file.
struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { file: self.file.to_string(), key: key.into(), message: message.into() }
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn validate(file: &str, raw: RawConfig) -> Result<Config, ConfigError> {
    let cx = Ctx { file };
    let state_dir = raw.state_dir.unwrap_or_else(|| PathBuf::from("./var"));

    let s = raw.sender;
    let from = s.from.unwrap_or_else(|| "winback <winback@localhost>".into());
    let (from_name, from_addr) = split_mailbox(&from).ok_or_else(|| {
        cx.err(
            "[sender] from",
            format!("`{from}` is not an address; write `Name <user@example.com>` or `user@example.com`"),
        )
    })?;
    let bounce_domain = s
        .bounce_domain
        .unwrap_or_else(|| from_addr.rsplit('@').next().unwrap_or("localhost").to_string())
        .to_ascii_lowercase();
    if bounce_domain.is_empty() || bounce_domain.contains(['@', ' ', '/']) {
        return Err(cx.err("[sender] bounce_domain", format!("`{bounce_domain}` is not a domain name")));
    }
    let public_base_url = s.public_base_url.unwrap_or_else(|| "http://localhost:8025".into());
    if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
        return Err(cx.err("[sender] public_base_url", "must start with https:// (or http:// for testing)"));
    }
    let sender = SenderConfig {
        from_name,
        from_addr,
        reply_to: s.reply_to,
        bounce_domain,
        public_base_url: public_base_url.trim_end_matches('/').to_string(),
        feedback_id: s.feedback_id.unwrap_or_else(|| "winback".into()),
        helo_name: s.helo_name.unwrap_or_else(|| "localhost".into()),
    };

    let dkim = match raw.dkim {
        None => None,
        Some(d) => {
            let pem = read_file(&d.private_key_file, file, "[dkim] private_key_file")?;
            if !pem.contains("-----BEGIN") {
                return Err(cx.err(
                    "[dkim] private_key_file",
                    format!("{} is not a PEM private key", d.private_key_file.display()),
                ));
            }
            Some(DkimConfig { domain: d.domain.to_ascii_lowercase(), selector: d.selector, private_key_pem: pem })
        }
    };

    let t = raw.transport;
    let kind = match t.kind.as_deref().unwrap_or("maildir") {
        "maildir" => TransportKind::Maildir(t.maildir.unwrap_or_else(|| state_dir.join("outbox"))),
        "smtp" => {
            let host = t.host.ok_or_else(|| cx.err("[transport] host", "required when kind = \"smtp\""))?;
            let tls = match t.tls.as_deref().unwrap_or("none") {
                "none" => TlsMode::None,
                "starttls" => TlsMode::StartTls,
                "tls" => TlsMode::Tls,
                other => {
                    return Err(cx.err("[transport] tls", format!("`{other}`: use \"none\", \"starttls\" or \"tls\"")));
                }
            };
            let port = t.port.unwrap_or(match tls {
                TlsMode::Tls => 465,
                TlsMode::StartTls => 587,
                TlsMode::None => 25,
            });
            if port == 0 {
                return Err(cx.err("[transport] port", "must be between 1 and 65535"));
            }
            let auth = match (t.username, t.password_file) {
                (None, None) => None,
                (Some(u), Some(p)) => {
                    let pw = read_file(&p, file, "[transport] password_file")?;
                    Some((u, pw.trim_end_matches(['\r', '\n']).to_string()))
                }
                _ => return Err(cx.err("[transport] username", "username and password_file go together")),
            };
            TransportKind::Smtp(SmtpRelay { host, port, tls, auth })
        }
        "mx" => {
            let d = crate::config::MxDelivery::default();
            let at_least_one = |v: Option<u32>, default: u32, key: &str| match v {
                Some(0) => Err(cx.err(format!("[transport] {key}"), "must be at least 1")),
                v => Ok(v.unwrap_or(default)),
            };
            TransportKind::Mx(crate::config::MxDelivery {
                port: match t.port.unwrap_or(d.port) {
                    0 => return Err(cx.err("[transport] port", "must be between 1 and 65535")),
                    p => p,
                },
                connections_per_provider: at_least_one(
                    t.connections_per_provider,
                    d.connections_per_provider as u32,
                    "connections_per_provider",
                )? as usize,
                messages_per_connection: at_least_one(
                    t.messages_per_connection,
                    d.messages_per_connection,
                    "messages_per_connection",
                )?,
            })
        }
        other => return Err(cx.err("[transport] kind", format!("`{other}`: use \"maildir\", \"smtp\" or \"mx\""))),
    };
    let transport = TransportConfig {
        kind,
        timeout: t.timeout.map_or(secs(60), |d| d.0),
        max_retry_age: t.max_retry_age.map_or(secs(3 * 86_400), |d| d.0),
        retry_initial: t.retry_initial.map_or(secs(60), |d| d.0),
        retry_max: t.retry_max.map_or(secs(3_600), |d| d.0),
    };
    if transport.retry_initial.is_zero() {
        return Err(cx.err("[transport] retry_initial", "must be longer than zero"));
    }

    let l = raw.limits;
    let limits = LimitsConfig {
        global: l.global.unwrap_or(Rate::Unlimited),
        per_domain: l.per_domain.unwrap_or(Rate::Unlimited),
        domain: l.domain.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
        max_connections: match l.max_connections.unwrap_or(8) {
            0 => return Err(cx.err("[limits] max_connections", "must be at least 1")),
            n => n as usize,
        },
    };

    let la = raw.lapse;
    let mut lapse = LapseConfig {
        inactive_after: la.inactive_after.map_or(secs(90 * 86_400), |d| d.0),
        reentry_after: la.reentry_after.map_or(secs(180 * 86_400), |d| d.0),
        engagement_kinds: la
            .engagement_kinds
            .unwrap_or_else(|| ["open", "click", "purchase", "login", "reply"].map(String::from).to_vec())
            .into_iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        count_unknown: la.count_unknown.unwrap_or(true),
        mode: crate::customers::lapse::LapseMode::Fixed,
        at_risk_factor: None,
    };
    (lapse.mode, lapse.at_risk_factor) = crate::customers::config::lapse_mode(
        file,
        crate::customers::config::RawLapseMode {
            mode: la.mode,
            factor: la.factor,
            min: la.min,
            max: la.max,
            p_alive_below: la.p_alive_below,
            at_risk_factor: la.at_risk_factor,
        },
    )?;
    let customers = crate::customers::config::validate(file, raw.customers, raw.segments)?;
    if lapse.engagement_kinds.is_empty() {
        return Err(
            cx.err("[lapse] engagement_kinds", "name at least one event kind, or nobody can ever be reactivated")
        );
    }
    for k in &lapse.engagement_kinds {
        if !valid_kind(k) {
            return Err(
                cx.err("[lapse] engagement_kinds", format!("`{k}`: kinds are lower-case letters, digits, `_` and `-`"))
            );
        }
    }

    let h = raw.hygiene;
    let load = |p: Option<PathBuf>, default: &str, key: &str| -> Result<HashSet<String>, ConfigError> {
        match p {
            Some(p) => read_list(&p, file, key),
            None => {
                let d = PathBuf::from(default);
                if d.exists() { read_list(&d, file, key) } else { Ok(builtin_list(default)) }
            }
        }
    };
    let hygiene = HygieneConfig {
        role_accounts: load(h.role_accounts_file, "config/role-accounts.txt", "[hygiene] role_accounts_file")?,
        disposable_domains: load(
            h.disposable_domains_file,
            "config/disposable-domains.txt",
            "[hygiene] disposable_domains_file",
        )?,
        enroll_role_accounts: h.enroll_role_accounts.unwrap_or(false),
        enroll_disposable: h.enroll_disposable.unwrap_or(false),
        check_dns: h.check_dns.unwrap_or(true),
    };

    let d = raw.dns;
    let mut nameservers = Vec::new();
    for ns in d.nameservers.unwrap_or_default() {
        let addr = ns
            .parse::<SocketAddr>()
            .or_else(|_| ns.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| cx.err("[dns] nameservers", format!("`{ns}` is not an IP address or IP:port")))?;
        nameservers.push(addr);
    }
    let dns = DnsConfig {
        nameservers,
        timeout: d.timeout.map_or(secs(5), |t| t.0),
        attempts: d.attempts.unwrap_or(2).max(1),
    };

    let sc = raw.scheduler;
    let scheduler = SchedulerConfig {
        tick: sc.tick.map_or(secs(1), |t| t.0),
        batch: sc.batch.unwrap_or(1_000).max(1),
        queue: sc.queue.unwrap_or(1_024).max(1),
        drain_timeout: sc.drain_timeout.map_or(secs(20), |t| t.0),
    };
    if scheduler.tick.is_zero() {
        return Err(cx.err("[scheduler] tick", "must be longer than zero"));
    }

    let reputation = crate::reputation::config::validate(file, raw.reputation)?;

    let templates_dir = TemplateDirs {
        dir: raw.templates.dir.unwrap_or_else(|| PathBuf::from("config/templates")),
        local: raw.templates.local_dir,
    };
    let mut sequences = Vec::new();
    let mut names = HashSet::new();
    for (i, rs) in raw.sequences.into_iter().enumerate() {
        let key = |k: &str| format!("sequence[{i}] ({}) {k}", rs.name);
        if rs.name.is_empty() || !valid_kind(&rs.name) {
            return Err(cx.err(key("name"), "use lower-case letters, digits, `_` and `-`"));
        }
        if !names.insert(rs.name.clone()) {
            return Err(cx.err(key("name"), "two sequences have this name"));
        }
        if rs.steps.is_empty() {
            return Err(cx.err(key("step"), "a sequence needs at least one [[sequence.step]]"));
        }
        let last = rs.steps.len() - 1;
        let mut steps = Vec::new();
        for (j, st) in rs.steps.iter().enumerate() {
            let skey = |k: &str| key(&format!("step[{j}].{k}"));
            if st.is_final != (j == last) {
                return Err(cx.err(
                    skey("final"),
                    if j == last {
                        "the last step must say `final = true` (it is the last-chance message)"
                    } else {
                        "only the last step may be final"
                    },
                ));
            }
            for ext in ["txt", "html"] {
                let p = templates_dir.file(&format!("{}.{ext}", st.template));
                if !p.is_file() {
                    return Err(cx.err(
                        skey("template"),
                        format!("{} does not exist; each template needs a .txt and an .html file", p.display()),
                    ));
                }
            }
            let variants = crate::domain::variant::validate(&st.variants, &st.subject, &st.template, &templates_dir)
                .map_err(|e| cx.err(skey(&e.key), e.message))?;
            steps.push(StepConfig {
                after: st.after.0,
                subject: st.subject.clone(),
                template: st.template.clone(),
                variants,
                auto_promote: st.auto_promote.unwrap_or(false),
                offer_cost: match &st.offer_cost {
                    None => None,
                    Some(c) => {
                        Some(crate::report::roi::OfferCost::parse(c).map_err(|m| cx.err(skey("offer_cost"), m))?)
                    }
                },
            });
        }
        let sleepers = rs.sleepers.unwrap_or(true);
        let never_engaged = rs.never_engaged.unwrap_or(true);
        if !sleepers && !never_engaged {
            return Err(
                cx.err(key("sleepers"), "the sequence takes neither sleepers nor never-engaged contacts; enable one")
            );
        }
        let holdout = match &rs.holdout {
            None => 0.0,
            Some(h) => parse_share(h).filter(|v| (0.0..=0.5).contains(v)).ok_or_else(|| {
                cx.err(key("holdout"), format!("`{h}`: write a share from \"0%\" to \"50%\", like \"10%\""))
            })?,
        };
        let send_window = match &rs.send_window {
            None => None,
            Some(w) => Some(crate::domain::send_window::validate(w).map_err(|m| cx.err(key("send_window"), m))?),
        };
        let stage = crate::customers::config::stage(file, &key("stage"), rs.stage.as_deref())?;
        let segs = rs.segments.clone().unwrap_or_default();
        if let Some(s) = segs.iter().find(|s| !customers.knows_segment(s)) {
            return Err(cx.err(key("segments"), format!("`{s}` is neither a [[segment]] nor a named RFM segment")));
        }
        let (name, grace) = (rs.name, rs.grace.0);
        sequences.push(SequenceConfig {
            name,
            grace,
            sleepers,
            never_engaged,
            steps,
            holdout,
            send_window,
            segments: segs,
            stage,
        });
    }

    let dns_check = crate::dns::config::validate(file, raw.dns_check, &sender.from_addr)?;
    let inbound = crate::inbound::config::validate(file, raw.inbound, &sender.bounce_domain)?;
    let http = crate::http::config::validate_http(file, raw.http)?;
    let tracking = crate::http::config::validate_tracking(file, raw.tracking)?;
    let bounce = crate::bounce::config::validate(file, raw.bounce)?;
    let metrics = crate::http::config::validate_metrics(file, raw.metrics)?;
    let dashboard = crate::dashboard::config::validate(file, raw.dashboard, http.api_token.as_deref())?;
    let tokens = crate::token::config::validate(file, raw.tokens)?;
    let import = crate::domain::import::config::validate(file, raw.import)?;
    let survey = crate::domain::survey::validate(file, raw.survey)?;

    Ok(Config {
        inbound,
        source: file.to_string(),
        admin_socket: raw.admin.socket.unwrap_or_else(|| state_dir.join("winback.sock")),
        state_dir,
        sender,
        dkim,
        transport,
        limits,
        lapse,
        hygiene,
        dns,
        dns_check,
        scheduler,
        reputation,
        templates_dir,
        report: ReportConfig {
            retention_window: raw.report.retention_window.map_or(secs(30 * 86_400), |d| d.0),
            min_detectable_lift: match &raw.report.min_detectable_lift {
                None => 0.02,
                Some(v) => parse_share(v).filter(|x| *x > 0.0 && *x < 1.0).ok_or_else(|| ConfigError {
                    file: file.into(),
                    key: "[report] min_detectable_lift".into(),
                    message: format!("`{v}`: write a share above 0%, like \"2%\""),
                })?,
            },
            cost_per_message: match &raw.report.cost_per_message {
                None => 0.0,
                Some(v) => crate::report::roi::parse_cost(v).map_err(|m| cx.err("[report] cost_per_message", m))?,
            },
        },
        sequences,
        http,
        tracking,
        bounce,
        metrics,
        dashboard,
        tokens,
        import,
        survey,
        customers,
    })
}

/// Event kinds and names: `[a-z0-9_-]+`.
pub fn valid_kind(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Splits `Name <addr>` or `addr`.
/// A share written `"12.5%"` (or a plain fraction like `0.125`).
fn parse_share(s: &str) -> Option<f64> {
    let s = s.trim();
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => s.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

fn split_mailbox(s: &str) -> Option<(Option<String>, String)> {
    let s = s.trim();
    let (name, addr) = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = s[..a].trim().trim_matches('"').trim();
            (if name.is_empty() { None } else { Some(name.to_string()) }, s[a + 1..b].trim())
        }
        (None, None) => (None, s),
        _ => return None,
    };
    let (local, domain) = addr.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || addr.contains(char::is_whitespace) {
        return None;
    }
    Some((name, addr.to_string()))
}

/// Small built-in lists used when the data files are not present, so the
/// daemon behaves sensibly from any working directory.
fn builtin_list(default: &str) -> HashSet<String> {
    let text = if default.contains("role") {
        include_str!("../../config/role-accounts.txt")
    } else {
        include_str!("../../config/disposable-domains.txt")
    };
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
}
