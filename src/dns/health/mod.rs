//! DNS health of the sending setup: SPF, DKIM, DMARC and alignment, the
//! bounce domain's MX, forward-confirmed reverse DNS of the sending IPs,
//! and blocklists. Run once by `winback check-dns`, periodically by the
//! daemon ([`run_periodic`]), and exported as metrics
//! ([`DnsHealthReport::prometheus`]).

pub mod dkim;
pub mod dmarc;
pub mod dnsbl;
pub mod mailhost;
pub mod report;
pub mod spf;
pub mod spf_eval;
pub mod tags;

use std::net::IpAddr;

use tokio_util::sync::CancellationToken;

pub use report::{Check, DnsHealthReport, Listing, Status};

use self::dnsbl::Subject;
use self::mailhost::Listener;
use super::config::DnsCheckConfig;
use super::resolver::Resolver;
use crate::config::{Config, DkimConfig};

/// What the health check compares DNS against, taken from the config.
#[derive(Debug, Clone)]
pub struct HealthSetup {
    /// `From:` domain.
    pub from_domain: String,
    /// Return-path domain (SPF is checked here; bounces arrive here).
    pub bounce_domain: String,
    /// EHLO name (what the PTR of the sending IPs should say).
    pub helo_name: String,
    /// Host of the tracking/unsubscribe links, checked on domain blocklists.
    pub link_domain: Option<String>,
    /// The signing key, if any.
    pub dkim: Option<DkimConfig>,
    /// `[dns_check]`
    pub check: DnsCheckConfig,
}

impl HealthSetup {
    /// Takes the relevant parts of a validated config.
    pub fn from_config(cfg: &Config) -> Self {
        HealthSetup {
            from_domain: cfg.dns_check.from_domain.clone(),
            bounce_domain: cfg.sender.bounce_domain.clone(),
            helo_name: cfg.sender.helo_name.clone(),
            link_domain: url_host(&cfg.sender.public_base_url),
            dkim: cfg.dkim.clone(),
            check: cfg.dns_check.clone(),
        }
    }

    /// Our domains, each once: From, bounce, DKIM `d=`, links.
    fn domains(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let candidates = [
            Some(self.from_domain.as_str()),
            Some(self.bounce_domain.as_str()),
            self.dkim.as_ref().map(|d| d.domain.as_str()),
            self.link_domain.as_deref(),
        ];
        for d in candidates.into_iter().flatten() {
            if !out.iter().any(|o| o == d) {
                out.push(d.to_string());
            }
        }
        out
    }
}

/// The host of an `http(s)://host[:port]/…` URL, unless it is an IP or
/// `localhost` (neither is on a domain blocklist).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') { host } else { host.split(':').next().unwrap_or("") };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let useless = host.is_empty() || host == "localhost" || host.starts_with('[') || host.parse::<IpAddr>().is_ok();
    (!useless).then_some(host)
}

/// Runs every check once.
pub async fn check_health(resolver: &Resolver, setup: &HealthSetup) -> DnsHealthReport {
    let c = &setup.check;
    let mut pairs: Vec<(Subject, String)> = Vec::new();
    for zone in &c.dnsbl_ip_zones {
        pairs.extend(c.sending_ips.iter().map(|ip| (Subject::Ip(*ip), zone.clone())));
    }
    for zone in &c.dnsbl_domain_zones {
        pairs.extend(setup.domains().into_iter().map(|d| (Subject::Domain(d), zone.clone())));
    }
    let listener = Listener { host: c.listener_host.as_deref(), ips: &c.listener_ips };
    let (spf, dkim, dmarc, mx, ptrs, (bl_checks, listings)) = futures::join!(
        spf_eval::check(resolver, &setup.bounce_domain, &c.sending_ips),
        dkim::check(resolver, setup.dkim.as_ref()),
        dmarc::checks(
            resolver,
            &setup.from_domain,
            &setup.bounce_domain,
            setup.dkim.as_ref().map(|d| d.domain.as_str())
        ),
        mailhost::bounce_mx(resolver, &setup.bounce_domain, listener),
        futures::future::join_all(c.sending_ips.iter().map(|ip| mailhost::fcrdns(resolver, *ip, &setup.helo_name))),
        dnsbl::check_all(resolver, &pairs),
    );
    let mut checks = vec![spf, dkim];
    checks.extend(dmarc);
    checks.push(mx);
    checks.extend(ptrs);
    checks.extend(bl_checks);
    let listed = !listings.is_empty();
    DnsHealthReport {
        from_domain: setup.from_domain.clone(),
        bounce_domain: setup.bounce_domain.clone(),
        checks,
        listings,
        listed,
        pause_requested: listed && c.pause_on_listing,
    }
}

/// Runs [`check_health`] now and then every `[dns_check] interval` until
/// `cancel` fires, handing each report to `on_report` (log it, export
/// metrics, pause sending when `pause_requested`).
pub async fn run_periodic<F>(resolver: Resolver, setup: HealthSetup, cancel: CancellationToken, mut on_report: F)
where
    F: FnMut(DnsHealthReport) + Send,
{
    let mut ticker = tokio::time::interval(setup.check.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let report = tokio::select! {
            _ = cancel.cancelled() => return,
            r = check_health(&resolver, &setup) => r,
        };
        on_report(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_hosts() {
        assert_eq!(url_host("https://links.shop.example/x"), Some("links.shop.example".into()));
        assert_eq!(url_host("http://Shop.Example:8025"), Some("shop.example".into()));
        assert_eq!(url_host("http://localhost:8025"), None);
        assert_eq!(url_host("http://127.0.0.1:8025/"), None);
        assert_eq!(url_host("http://[::1]:8025/"), None);
    }
}
