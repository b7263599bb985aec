//! `[dns_check]`: what the DNS health check compares the published DNS
//! against (sending IPs, listener, blocklists), raw and validated.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::units::HumanDuration;

/// `[dns_check]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnsCheck {
    /// Public IPs mail leaves from (checked against SPF, PTR and IP blocklists).
    pub sending_ips: Option<Vec<String>>,
    /// Domain of `From:`; defaults to the domain of `[sender] from`.
    pub from_domain: Option<String>,
    /// How often the daemon re-runs the check.
    pub interval: Option<HumanDuration>,
    /// DNSBL zones for the sending IPs, like `zen.spamhaus.org`.
    pub dnsbl_ip_zones: Option<Vec<String>>,
    /// Domain blocklist zones, like `dbl.spamhaus.org`.
    pub dnsbl_domain_zones: Option<Vec<String>>,
    /// Ask the daemon to pause sending while any blocklist lists us.
    pub pause_on_listing: Option<bool>,
    /// Public host name of the bounce SMTP listener (the bounce domain's MX should name it).
    pub listener_host: Option<String>,
    /// Public IPs of the bounce SMTP listener (alternative or addition to `listener_host`).
    pub listener_ips: Option<Vec<String>>,
}

/// `[dns_check]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheckConfig {
    /// Public IPs mail leaves from.
    pub sending_ips: Vec<IpAddr>,
    /// Lower-case `From:` domain.
    pub from_domain: String,
    /// Period of the daemon's check.
    pub interval: Duration,
    /// Whether the daemon runs the check: when the section names sending
    /// IPs, a blocklist zone or an interval (an unconfigured check would
    /// only report what is not set up).
    pub scheduled: bool,
    /// IP blocklist zones (lower case, no trailing dot).
    pub dnsbl_ip_zones: Vec<String>,
    /// Domain blocklist zones (lower case, no trailing dot).
    pub dnsbl_domain_zones: Vec<String>,
    /// Pause sending while listed.
    pub pause_on_listing: bool,
    /// Public host name of the bounce listener.
    pub listener_host: Option<String>,
    /// Public IPs of the bounce listener.
    pub listener_ips: Vec<IpAddr>,
}

/// Default period of the daemon's check.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3_600);

/// Validates `[dns_check]`; `from_addr` is `[sender] from`'s address, for the default `from_domain`.
pub fn validate(file: &str, raw: RawDnsCheck, from_addr: &str) -> Result<DnsCheckConfig, ConfigError> {
    let err =
        |key: &str, message: String| ConfigError { file: file.to_string(), key: format!("[dns_check] {key}"), message };
    let ips = |key: &str, list: Option<Vec<String>>| -> Result<Vec<IpAddr>, ConfigError> {
        list.unwrap_or_default()
            .iter()
            .map(|s| {
                s.trim().parse::<IpAddr>().map_err(|_| {
                    err(
                        key,
                        format!("`{s}` is not an IP address; write addresses like \"192.0.2.10\" or \"2001:db8::25\""),
                    )
                })
            })
            .collect()
    };
    let domain = |key: &str, s: &str| -> Result<String, ConfigError> {
        let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if is_domain_name(&d) {
            Ok(d)
        } else {
            Err(err(key, format!("`{s}` is not a domain name; write it like \"example.com\"")))
        }
    };
    let domains = |key: &str, list: Option<Vec<String>>| -> Result<Vec<String>, ConfigError> {
        list.unwrap_or_default().iter().map(|s| domain(key, s)).collect()
    };

    let from_domain = match raw.from_domain {
        Some(d) => domain("from_domain", &d)?,
        None => {
            let d = from_addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            domain("from_domain", d).map_err(|_| {
                err("from_domain", format!("cannot take the domain of `{from_addr}`; set from_domain explicitly"))
            })?
        }
    };
    let scheduled = raw.interval.is_some()
        || raw.sending_ips.as_ref().is_some_and(|v| !v.is_empty())
        || raw.dnsbl_ip_zones.as_ref().is_some_and(|v| !v.is_empty())
        || raw.dnsbl_domain_zones.as_ref().is_some_and(|v| !v.is_empty());
    let interval = raw.interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    if interval.is_zero() {
        return Err(err("interval", "must be longer than zero, like \"1h\"".into()));
    }
    Ok(DnsCheckConfig {
        sending_ips: ips("sending_ips", raw.sending_ips)?,
        from_domain,
        interval,
        scheduled,
        dnsbl_ip_zones: domains("dnsbl_ip_zones", raw.dnsbl_ip_zones)?,
        dnsbl_domain_zones: domains("dnsbl_domain_zones", raw.dnsbl_domain_zones)?,
        pause_on_listing: raw.pause_on_listing.unwrap_or(false),
        listener_host: raw.listener_host.as_deref().map(|h| domain("listener_host", h)).transpose()?,
        listener_ips: ips("listener_ips", raw.listener_ips)?,
    })
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes.
pub(crate) fn is_domain_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> RawDnsCheck {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults() {
        let c = validate("f", RawDnsCheck::default(), "hello@Shop.Example").unwrap();
        assert_eq!(c.from_domain, "shop.example");
        assert_eq!(c.interval, DEFAULT_INTERVAL);
        assert!(c.sending_ips.is_empty() && c.dnsbl_ip_zones.is_empty() && !c.pause_on_listing);
    }

    #[test]
    fn full_section() {
        let c = validate(
            "f",
            raw(r#"sending_ips = ["192.0.2.1", "2001:db8::1"]
                   from_domain = "News.Example."
                   interval = "15m"
                   dnsbl_ip_zones = ["zen.spamhaus.org"]
                   dnsbl_domain_zones = ["dbl.spamhaus.org"]
                   pause_on_listing = true
                   listener_host = "MX.Example"
                   listener_ips = ["192.0.2.25"]"#),
            "a@b.example",
        )
        .unwrap();
        assert_eq!(c.sending_ips.len(), 2);
        assert_eq!(c.from_domain, "news.example");
        assert_eq!(c.interval, Duration::from_secs(900));
        assert_eq!(c.listener_host.as_deref(), Some("mx.example"));
        assert!(c.pause_on_listing);
    }

    #[test]
    fn errors_name_the_key() {
        let e = validate("f", raw(r#"sending_ips = ["mail.example"]"#), "a@b.example").unwrap_err();
        assert_eq!(e.key, "[dns_check] sending_ips");
        assert!(e.message.contains("not an IP address"), "{e}");
        let e = validate("f", raw(r#"dnsbl_ip_zones = ["bad zone"]"#), "a@b.example").unwrap_err();
        assert_eq!(e.key, "[dns_check] dnsbl_ip_zones");
        let e = validate("f", raw(r#"interval = "0s""#), "a@b.example").unwrap_err();
        assert_eq!(e.key, "[dns_check] interval");
        assert!(toml::from_str::<RawDnsCheck>("nonsense = 1").is_err());
    }

    #[test]
    fn shipped_example_validates() {
        // Uncomment the [dns_check] example of the shipped config.
        let mut text = String::new();
        let mut in_example = false;
        for line in crate::config::EMBEDDED_DEFAULT.lines() {
            in_example = line == "# [dns_check]" || (in_example && line.starts_with("# "));
            text.push_str(if in_example { &line[2..] } else { line });
            text.push('\n');
        }
        assert!(text.contains("\n[dns_check]\n"), "{text}");
        let cfg = crate::config::Config::from_toml("example", &text).unwrap();
        assert_eq!(cfg.dns_check.dnsbl_ip_zones, ["zen.spamhaus.org", "bl.spamcop.net"]);
        assert_eq!(cfg.dns_check.listener_host.as_deref(), Some("mail.shop.example"));
    }
}
