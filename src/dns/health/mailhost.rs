//! The mail-host checks: the bounce domain's MX reaches winback's SMTP
//! listener (`bounce-mx`), and each sending IP has forward-confirmed
//! reverse DNS (`fcrdns:IP`).

use std::collections::HashSet;
use std::net::IpAddr;

use super::report::{Check, Status};
use crate::dns::mail_domain::{MailDomain, mail_domain};
use crate::dns::resolver::{Answer, Resolver};

/// Where the bounce listener is reachable, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Listener<'a> {
    /// Public host name.
    pub host: Option<&'a str>,
    /// Public IPs.
    pub ips: &'a [IpAddr],
}

/// The `bounce-mx` check.
pub async fn bounce_mx(resolver: &Resolver, bounce_domain: &str, listener: Listener<'_>) -> Check {
    const NAME: &str = "bounce-mx";
    let hosts: Vec<(u16, String)> = match mail_domain(resolver, bounce_domain).await {
        MailDomain::TempFail(e) => return Check::new(NAME, Status::Error, e),
        MailDomain::NullMx => {
            return Check::new(
                NAME,
                Status::Fail,
                format!("{bounce_domain} publishes a null MX: bounces and complaints cannot reach winback"),
            );
        }
        MailDomain::NoMail => {
            return Check::new(
                NAME,
                Status::Fail,
                format!(
                    "{bounce_domain} has no MX and no address: bounces are lost; publish \"MX 10 {}\"",
                    listener.host.unwrap_or("<listener host>")
                ),
            );
        }
        MailDomain::Implicit => vec![(0, bounce_domain.to_string())],
        MailDomain::Mx(hosts) => hosts.into_iter().map(|h| (h.preference, h.host)).collect(),
    };
    let shown = hosts.iter().map(|(p, h)| format!("{h} ({p})")).collect::<Vec<_>>().join(", ");
    if listener.host.is_none() && listener.ips.is_empty() {
        return Check::new(
            NAME,
            Status::Warn,
            format!(
                "{bounce_domain} receives mail at {shown}; set [dns_check] listener_host or listener_ips to verify \
                 that this is winback's SMTP listener"
            ),
        );
    }
    let mut expected: HashSet<IpAddr> = listener.ips.iter().copied().collect();
    if let Some(h) = listener.host
        && let Ok(Answer::Found(ips)) = resolver.ips(h).await
    {
        expected.extend(ips);
    }
    let mut temp_error = None;
    let mut matching = Vec::new();
    for (_, host) in &hosts {
        if listener.host == Some(host.as_str()) {
            matching.push(host.clone());
            continue;
        }
        match resolver.ips(host).await {
            Ok(a) if a.records().iter().any(|ip| expected.contains(ip)) => matching.push(host.clone()),
            Ok(_) => {}
            Err(e) => temp_error = Some(e),
        }
    }
    let best = hosts.iter().map(|(p, _)| *p).min().unwrap_or(0);
    let primaries: Vec<&String> = hosts.iter().filter(|(p, _)| *p == best).map(|(_, h)| h).collect();
    let target = listener
        .host
        .map_or_else(|| listener.ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), |h| h.to_string());
    if primaries.iter().all(|h| matching.contains(h)) {
        Check::new(NAME, Status::Pass, format!("{bounce_domain} receives mail at {shown}: winback's listener {target}"))
    } else if !matching.is_empty() {
        Check::new(
            NAME,
            Status::Warn,
            format!(
                "{bounce_domain} receives mail at {shown}; winback's listener {target} is only {}: \
                 other preferred hosts get bounces first",
                matching.join(", ")
            ),
        )
    } else if let Some(e) = temp_error {
        Check::new(NAME, Status::Error, format!("cannot resolve the MX hosts of {bounce_domain}: {e}"))
    } else {
        Check::new(
            NAME,
            Status::Fail,
            format!(
                "{bounce_domain} receives mail at {shown}, not at winback's listener {target}: bounces are not \
                 processed; publish \"MX 10 {target}\""
            ),
        )
    }
}

/// The `fcrdns:IP` check: PTR exists, resolves back to the IP, and
/// ideally names the EHLO host.
pub async fn fcrdns(resolver: &Resolver, ip: IpAddr, helo_name: &str) -> Check {
    let name = format!("fcrdns:{ip}");
    let ptrs = match resolver.ptr(ip).await {
        Err(e) => return Check::new(name, Status::Error, format!("cannot look up the PTR of {ip}: {e}")),
        Ok(a) => a.into_records(),
    };
    if ptrs.is_empty() {
        return Check::new(
            name,
            Status::Fail,
            format!("{ip} has no PTR record; ask whoever runs the IP to set its reverse DNS to {helo_name}"),
        );
    }
    let mut confirmed = Vec::new();
    let mut temp_error = None;
    for host in &ptrs {
        match resolver.ips(host).await {
            Ok(a) if a.records().contains(&ip) => confirmed.push(host.as_str()),
            Ok(_) => {}
            Err(e) => temp_error = Some(e),
        }
    }
    let helo = helo_name.trim_end_matches('.').to_ascii_lowercase();
    match (confirmed.as_slice(), temp_error) {
        ([], Some(e)) => Check::new(name, Status::Error, format!("cannot resolve the PTR name of {ip}: {e}")),
        ([], None) => Check::new(
            name,
            Status::Fail,
            format!(
                "{ip} has PTR {}, but that name does not resolve back to {ip}; add an A/AAAA record for it",
                ptrs.join(", ")
            ),
        ),
        (ok, _) if ok.contains(&helo.as_str()) => {
            Check::new(name, Status::Pass, format!("{ip} → {helo} → {ip}, the EHLO name"))
        }
        (ok, _) => Check::new(
            name,
            Status::Warn,
            format!("{ip} → {} → {ip}, but the EHLO name is {helo}; use the same name for both", ok.join(", ")),
        ),
    }
}
