//! SPF evaluation (RFC 7208 §4–§5): `check_host(ip, domain)` with the
//! 10-DNS-lookup and 2-void-lookup limits, and the `spf` health check.
//!
//! `exists`, `ptr` and macros (`%{…}`) are not evaluated: they count as a
//! lookup, never match, and are noted, so a result that might have been a
//! pass through them is reported as a warning rather than a failure.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use super::report::{Check, Status};
use super::spf::{Mechanism, Qualifier, SpfRecord, is_spf, parse};
use crate::dns::resolver::{Answer, Resolver};

/// RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups.
pub const MAX_LOOKUPS: usize = 10;
/// RFC 7208 §4.6.4: at most 2 lookups that return nothing.
pub const MAX_VOID_LOOKUPS: usize = 2;
/// RFC 7208 §4.6.4: at most 10 MX hosts per `mx` mechanism.
const MAX_MX_HOSTS: usize = 10;

/// The result of `check_host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfResult {
    /// Authorized.
    Pass,
    /// Explicitly not authorized (`-`).
    Fail,
    /// Probably not authorized (`~`).
    SoftFail,
    /// No statement (`?`, or no match and no `all`).
    Neutral,
    /// No SPF record.
    None,
    /// The record is broken (syntax, too many lookups, several records).
    PermError(String),
    /// A DNS failure: try again later.
    TempError(String),
}

impl SpfResult {
    fn from_qualifier(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }

    /// The RFC name of the result, with the reason for errors.
    pub fn describe(&self) -> String {
        match self {
            SpfResult::Pass => "pass".into(),
            SpfResult::Fail => "fail".into(),
            SpfResult::SoftFail => "softfail".into(),
            SpfResult::Neutral => "neutral".into(),
            SpfResult::None => "none (no SPF record)".into(),
            SpfResult::PermError(why) => format!("permerror: {why}"),
            SpfResult::TempError(why) => format!("temperror: {why}"),
        }
    }
}

/// `check_host` and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The result.
    pub result: SpfResult,
    /// The directive that decided, with the include/redirect path to it.
    pub matched: Option<String>,
    /// DNS-querying terms evaluated.
    pub lookups: usize,
    /// Parts that were not evaluated (exists, ptr, macros).
    pub unsupported: Vec<String>,
}

/// Evaluates SPF for mail from `domain` sent by `ip`.
pub async fn check_host(resolver: &Resolver, ip: IpAddr, domain: &str) -> SpfOutcome {
    let mut ev = Eval { resolver, ip, lookups: 0, voids: 0, unsupported: Vec::new(), matched: None };
    let result = ev.check_host(domain.to_ascii_lowercase()).await;
    SpfOutcome { result, matched: ev.matched, lookups: ev.lookups, unsupported: ev.unsupported }
}

/// Fetches the single SPF record of `domain`.
pub async fn fetch(resolver: &Resolver, domain: &str) -> Result<SpfRecord, SpfResult> {
    let txts = match resolver.txt(domain).await {
        Err(e) => return Err(SpfResult::TempError(e.to_string())),
        Ok(a) => a.into_records(),
    };
    let spf: Vec<&String> = txts.iter().filter(|t| is_spf(t)).collect();
    match spf.as_slice() {
        [] => Err(SpfResult::None),
        [one] => parse(one).map_err(|e| SpfResult::PermError(format!("SPF record of {domain}: {e}"))),
        _ => Err(SpfResult::PermError(format!("{domain} publishes {} SPF records; merge them into one", spf.len()))),
    }
}

type Boxed<'a> = Pin<Box<dyn Future<Output = SpfResult> + Send + 'a>>;

struct Eval<'r> {
    resolver: &'r Resolver,
    ip: IpAddr,
    lookups: usize,
    voids: usize,
    unsupported: Vec<String>,
    matched: Option<String>,
}

/// Stops evaluation with a final result.
type Flow<T> = Result<T, SpfResult>;

impl Eval<'_> {
    fn check_host(&mut self, domain: String) -> Boxed<'_> {
        Box::pin(async move {
            let record = match fetch(self.resolver, &domain).await {
                Ok(r) => r,
                Err(result) => return result,
            };
            for d in &record.directives {
                match self.matches(&d.mechanism, &domain).await {
                    Err(result) => return result,
                    Ok(false) => {}
                    Ok(true) => {
                        let here = format!("{d} in {domain}");
                        self.matched = Some(match self.matched.take() {
                            Some(inner) if matches!(d.mechanism, Mechanism::Include(_)) => {
                                format!("{inner} via {here}")
                            }
                            _ => here,
                        });
                        return SpfResult::from_qualifier(d.qualifier);
                    }
                }
            }
            if let Some(target) = record.redirect {
                if let Err(result) = self.count_lookup() {
                    return result;
                }
                if self.has_macro(&target, "redirect") {
                    return SpfResult::Neutral;
                }
                return match self.check_host(target.to_ascii_lowercase()).await {
                    SpfResult::None => SpfResult::PermError(format!("redirect={target} has no SPF record")),
                    other => {
                        self.matched = self.matched.take().map(|m| format!("{m} via redirect in {domain}"));
                        other
                    }
                };
            }
            SpfResult::Neutral
        })
    }

    async fn matches(&mut self, mech: &Mechanism, current: &str) -> Flow<bool> {
        match mech {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net) => Ok(matches!(self.ip, IpAddr::V4(ip) if net.contains(&ip))),
            Mechanism::Ip6(net) => Ok(matches!(self.ip, IpAddr::V6(ip) if net.contains(&ip))),
            Mechanism::Include(target) => {
                self.count_lookup()?;
                if self.has_macro(target, "include") {
                    return Ok(false);
                }
                match self.check_host(target.to_ascii_lowercase()).await {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => {
                        self.matched = None;
                        Ok(false)
                    }
                    SpfResult::TempError(e) => Err(SpfResult::TempError(e)),
                    SpfResult::None => Err(SpfResult::PermError(format!("include:{target} has no SPF record"))),
                    SpfResult::PermError(e) => Err(SpfResult::PermError(e)),
                }
            }
            Mechanism::A { domain, v4, v6 } => {
                self.count_lookup()?;
                let target = domain.as_deref().unwrap_or(current);
                if self.has_macro(target, "a") {
                    return Ok(false);
                }
                self.host_matches(target, *v4, *v6, true).await
            }
            Mechanism::Mx { domain, v4, v6 } => {
                self.count_lookup()?;
                let target = domain.as_deref().unwrap_or(current);
                if self.has_macro(target, "mx") {
                    return Ok(false);
                }
                let hosts = match self.resolver.mx(target).await {
                    Err(e) => return Err(SpfResult::TempError(e.to_string())),
                    Ok(Answer::Found(h)) => h,
                    Ok(_) => {
                        self.count_void()?;
                        return Ok(false);
                    }
                };
                if hosts.len() > MAX_MX_HOSTS {
                    return Err(SpfResult::PermError(format!("mx:{target} has more than {MAX_MX_HOSTS} MX hosts")));
                }
                for (_, host) in hosts.iter().filter(|(_, h)| h != ".") {
                    if self.host_matches(host, *v4, *v6, false).await? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(_) | Mechanism::Exists(_) => {
                self.count_lookup()?;
                self.unsupported.push(format!("{mech} (not evaluated, treated as no match)"));
                Ok(false)
            }
        }
    }

    /// Does an address of `host` (same family as the IP) cover the IP with
    /// the given prefix? `void` says whether an empty answer counts as a void lookup.
    async fn host_matches(&mut self, host: &str, v4: u8, v6: u8, void: bool) -> Flow<bool> {
        let answer = match self.ip {
            IpAddr::V4(_) => self.resolver.ipv4(host).await.map(|a| a.map(IpAddr::V4)),
            IpAddr::V6(_) => self.resolver.ipv6(host).await.map(|a| a.map(IpAddr::V6)),
        };
        match answer {
            Err(e) => Err(SpfResult::TempError(e.to_string())),
            Ok(Answer::Found(addrs)) => Ok(addrs.iter().any(|a| covers(*a, self.ip, v4, v6))),
            Ok(Answer::NoRecords | Answer::NxDomain) => {
                if void {
                    self.count_void()?;
                }
                Ok(false)
            }
        }
    }

    fn count_lookup(&mut self) -> Flow<()> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(SpfResult::PermError(format!(
                "more than {MAX_LOOKUPS} DNS lookups (include, a, mx, ptr, exists, redirect); flatten the record"
            )));
        }
        Ok(())
    }

    fn count_void(&mut self) -> Flow<()> {
        self.voids += 1;
        if self.voids > MAX_VOID_LOOKUPS {
            return Err(SpfResult::PermError(format!(
                "more than {MAX_VOID_LOOKUPS} lookups returned nothing; remove mechanisms naming domains without records"
            )));
        }
        Ok(())
    }

    fn has_macro(&mut self, domain: &str, what: &str) -> bool {
        let has = domain.contains('%');
        if has {
            self.unsupported.push(format!("{what}:{domain} uses macros (not evaluated, treated as no match)"));
        }
        has
    }
}

/// Is `ip` inside `addr`/prefix (same family only)?
fn covers(addr: IpAddr, ip: IpAddr, v4: u8, v6: u8) -> bool {
    match (addr, ip) {
        (IpAddr::V4(a), IpAddr::V4(i)) => ipnet::Ipv4Net::new(a, v4).is_ok_and(|n| n.contains(&i)),
        (IpAddr::V6(a), IpAddr::V6(i)) => ipnet::Ipv6Net::new(a, v6).is_ok_and(|n| n.contains(&i)),
        _ => false,
    }
}

/// The `spf` check: the return-path domain's record authorizes every sending IP.
pub async fn check(resolver: &Resolver, domain: &str, ips: &[IpAddr]) -> Check {
    const NAME: &str = "spf";
    if ips.is_empty() {
        return match fetch(resolver, domain).await {
            Ok(_) => Check::new(
                NAME,
                Status::Warn,
                format!(
                    "{domain} has a valid SPF record, but [dns_check] sending_ips is empty: \
                     cannot tell whether it authorizes the sending IPs"
                ),
            ),
            Err(r) => verdict(domain, None, &SpfOutcome { result: r, matched: None, lookups: 0, unsupported: vec![] }),
        };
    }
    let mut worst: Option<Check> = None;
    let mut details = Vec::new();
    for ip in ips {
        let outcome = check_host(resolver, *ip, domain).await;
        let c = verdict(domain, Some(*ip), &outcome);
        details.push(c.detail.clone());
        if worst.as_ref().is_none_or(|w| rank(c.status) > rank(w.status)) {
            worst = Some(c);
        }
    }
    let status = worst.map_or(Status::Pass, |w| w.status);
    Check::new(NAME, status, details.join("; "))
}

/// Fail outranks error, error outranks warn.
pub(crate) fn rank(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Error => 2,
        Status::Fail => 3,
    }
}

fn verdict(domain: &str, ip: Option<IpAddr>, o: &SpfOutcome) -> Check {
    let who = ip.map_or_else(|| "the sending IPs".to_string(), |ip| ip.to_string());
    let unsupported = if o.unsupported.is_empty() {
        String::new()
    } else {
        format!(" [not evaluated: {}]", o.unsupported.join(", "))
    };
    let (status, detail) = match &o.result {
        SpfResult::Pass => (
            Status::Pass,
            format!(
                "{domain} authorizes {who} ({}; {} of {MAX_LOOKUPS} lookups)",
                o.matched.as_deref().unwrap_or("matched"),
                o.lookups
            ),
        ),
        SpfResult::None => {
            (Status::Fail, format!("{domain} has no SPF record; publish a TXT record like \"v=spf1 ip4:{who} -all\""))
        }
        SpfResult::PermError(why) => (Status::Fail, format!("SPF of {domain} is broken: {why}")),
        SpfResult::TempError(why) => (Status::Error, format!("cannot evaluate SPF of {domain} for {who}: {why}")),
        other => {
            let how = o.matched.as_ref().map_or_else(|| "no mechanism matched".to_string(), |m| format!("by {m}"));
            let status = if o.unsupported.is_empty() { Status::Fail } else { Status::Warn };
            (
                status,
                format!("{domain} does not authorize {who}: result {} ({how}); add ip4:/ip6: for it", other.describe()),
            )
        }
    };
    Check::new("spf", status, format!("{detail}{unsupported}"))
}
