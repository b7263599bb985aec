//! The one resolver winback uses, built from `[dns]`, and the typed
//! lookups every DNS question goes through.
//!
//! Each lookup returns an [`Answer`] that keeps the three definite outcomes
//! apart (records, "name exists but has none of this type", NXDOMAIN), and
//! maps everything else (SERVFAIL, REFUSED, timeout, network error) to
//! [`DnsError::Temporary`], so no caller can mistake "could not ask" for
//! "there is nothing".
//!
//! With no nameservers configured, `/etc/resolv.conf` is read here (only
//! its `nameserver` lines: winback asks fully-qualified names, so `search`
//! and `domain` do not apply, and timeout/attempts come from `[dns]`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts, ServerOrderingStrategy,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::error::DnsError;
use crate::config::DnsConfig;

/// The system resolver configuration file.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Cached answers live at most this long, so a DNS fix shows up in the
/// next health check and a long import still sees fresh data.
const MAX_POSITIVE_TTL: Duration = Duration::from_secs(300);
/// Negative answers are cached briefly: a domain fixed minutes ago must not
/// stay "no mail" for the TTL its SOA asks for.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// In-flight queries per TCP connection; batch lookups stay well below it.
const MAX_ACTIVE_REQUESTS: usize = 512;

/// The outcome of one lookup that got a definite answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Records of the asked type (never empty).
    Found(Vec<T>),
    /// The name exists but has no record of this type (NOERROR/NODATA).
    NoRecords,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
}

impl<T> Answer<T> {
    /// The records, or an empty list for NODATA and NXDOMAIN.
    pub fn into_records(self) -> Vec<T> {
        match self {
            Answer::Found(v) => v,
            Answer::NoRecords | Answer::NxDomain => Vec::new(),
        }
    }

    /// The records, empty for NODATA and NXDOMAIN.
    pub fn records(&self) -> &[T] {
        match self {
            Answer::Found(v) => v,
            Answer::NoRecords | Answer::NxDomain => &[],
        }
    }

    /// Maps the records, keeping the negative outcomes.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Answer<U> {
        match self {
            Answer::Found(v) => Answer::Found(v.into_iter().map(f).collect()),
            Answer::NoRecords => Answer::NoRecords,
            Answer::NxDomain => Answer::NxDomain,
        }
    }
}

/// A DNS resolver: cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    nameservers: Vec<SocketAddr>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("nameservers", &self.nameservers).finish()
    }
}

impl Resolver {
    /// Builds the resolver from `[dns]`: its nameservers, or those of
    /// `/etc/resolv.conf` when the list is empty.
    pub fn from_config(cfg: &DnsConfig) -> Result<Resolver, DnsError> {
        let nameservers = if cfg.nameservers.is_empty() {
            system_nameservers(Path::new(RESOLV_CONF))?
        } else {
            cfg.nameservers.clone()
        };
        Self::with_nameservers(&nameservers, cfg.timeout, cfg.attempts)
    }

    /// Builds a resolver that asks exactly these servers (UDP, and TCP for
    /// truncated answers), on any port.
    pub fn with_nameservers(
        nameservers: &[SocketAddr],
        timeout: Duration,
        attempts: usize,
    ) -> Result<Resolver, DnsError> {
        if nameservers.is_empty() {
            return Err(DnsError::Setup("no nameserver to ask; set [dns] nameservers".into()));
        }
        let servers = nameservers
            .iter()
            .map(|sa| {
                let mut udp = ConnectionConfig::udp();
                udp.port = sa.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = sa.port();
                NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
            })
            .collect();
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = attempts.max(1);
        opts.use_hosts_file = ResolveHosts::Never;
        opts.positive_max_ttl = Some(MAX_POSITIVE_TTL);
        opts.negative_max_ttl = Some(MAX_NEGATIVE_TTL);
        opts.max_active_requests = MAX_ACTIVE_REQUESTS;
        opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
        let inner = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
        .with_options(opts)
        .build()
        .map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(Resolver { inner, nameservers: nameservers.to_vec() })
    }

    /// The servers this resolver asks.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.nameservers
    }

    /// The underlying hickory resolver, for questions not wrapped here.
    pub fn hickory(&self) -> &TokioResolver {
        &self.inner
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        self.inner.clear_cache();
    }

    /// MX records of `domain` as `(preference, host)`; the host is lower
    /// case without the trailing dot, and `"."` for the root (null MX).
    pub async fn mx(&self, domain: &str) -> Result<Answer<(u16, String)>, DnsError> {
        self.lookup(domain, RecordType::MX, |rd| match rd {
            RData::MX(mx) => Some((mx.preference, name_to_host(&mx.exchange))),
            _ => None,
        })
        .await
    }

    /// TXT records of `name`, each one's strings joined (as SPF, DKIM and
    /// DMARC require); bytes that are not UTF-8 are replaced.
    pub async fn txt(&self, name: &str) -> Result<Answer<String>, DnsError> {
        self.lookup(name, RecordType::TXT, |rd| match rd {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>()),
            _ => None,
        })
        .await
    }

    /// A records of `name`.
    pub async fn ipv4(&self, name: &str) -> Result<Answer<Ipv4Addr>, DnsError> {
        self.lookup(name, RecordType::A, |rd| match rd {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// AAAA records of `name`.
    pub async fn ipv6(&self, name: &str) -> Result<Answer<Ipv6Addr>, DnsError> {
        self.lookup(name, RecordType::AAAA, |rd| match rd {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// A and AAAA of `name`, asked in parallel, IPv4 first. Addresses from
    /// either win; otherwise a temporary failure of either wins over a
    /// negative answer (an unanswered AAAA must not read as "no address").
    pub async fn ips(&self, name: &str) -> Result<Answer<IpAddr>, DnsError> {
        let (v4, v6) = futures::join!(self.ipv4(name), self.ipv6(name));
        let v4 = v4.map(|a| a.map(IpAddr::V4));
        let v6 = v6.map(|a| a.map(IpAddr::V6));
        match (v4, v6) {
            (Ok(a), Ok(b)) => Ok(merge(a, b)),
            (Ok(Answer::Found(a)), Err(_)) | (Err(_), Ok(Answer::Found(a))) => Ok(Answer::Found(a)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    /// PTR names of `ip` (lower case, no trailing dot).
    pub async fn ptr(&self, ip: IpAddr) -> Result<Answer<String>, DnsError> {
        self.lookup(&reverse_name(ip), RecordType::PTR, |rd| match rd {
            RData::PTR(p) => Some(name_to_host(&p.0)),
            _ => None,
        })
        .await
    }

    async fn lookup<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Answer<T>, DnsError> {
        let fq = fqdn(name)?;
        match self.inner.lookup(fq, rtype).await {
            Ok(lookup) => {
                let found: Vec<T> = lookup.answers().iter().filter_map(|r| pick(&r.data)).collect();
                // Only a CNAME chain came back: the final name has no such record.
                Ok(if found.is_empty() { Answer::NoRecords } else { Answer::Found(found) })
            }
            Err(e) if e.is_nx_domain() => Ok(Answer::NxDomain),
            Err(e) if e.is_no_records_found() => Ok(Answer::NoRecords),
            Err(e) => Err(temporary(name, rtype, &e)),
        }
    }
}

fn merge<T>(a: Answer<T>, b: Answer<T>) -> Answer<T> {
    match (a, b) {
        (Answer::Found(mut x), Answer::Found(y)) => {
            x.extend(y);
            Answer::Found(x)
        }
        (Answer::Found(x), _) | (_, Answer::Found(x)) => Answer::Found(x),
        (Answer::NxDomain, Answer::NxDomain) => Answer::NxDomain,
        _ => Answer::NoRecords,
    }
}

fn temporary(name: &str, rtype: RecordType, e: &NetError) -> DnsError {
    DnsError::Temporary { name: name.to_string(), rtype: rtype.to_string(), reason: e.to_string() }
}

/// Parses `name` as a fully-qualified domain name (IDN allowed), so no
/// search list is ever applied.
pub fn fqdn(name: &str) -> Result<Name, DnsError> {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(DnsError::InvalidName { name: name.to_string(), reason: "empty".into() });
    }
    let mut n = Name::from_utf8(trimmed)
        .map_err(|e| DnsError::InvalidName { name: name.to_string(), reason: e.to_string() })?;
    n.set_fqdn(true);
    Ok(n)
}

/// A name as a lower-case host string without the trailing dot; the root is `"."`.
fn name_to_host(n: &Name) -> String {
    if n.is_root() {
        return ".".into();
    }
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// The nameservers of a resolv.conf file, on port 53. A missing file or
/// one without `nameserver` lines means the local resolver, as in libc.
pub fn system_nameservers(path: &Path) -> Result<Vec<SocketAddr>, DnsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(DnsError::Setup(format!("cannot read {}: {e}", path.display()))),
    };
    let mut servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        servers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    Ok(servers)
}

/// The `nameserver` lines of resolv.conf text; unparsable entries and
/// IPv6 zone suffixes (`%eth0`) are skipped, as libc does.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(addr)) => addr.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_lines() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver ::1 # local\n\
                    nameserver fe80::1%eth0\nnameserver nonsense\noptions timeout:1\n";
        let got = parse_resolv_conf(text);
        assert_eq!(got, vec!["10.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    }

    #[test]
    fn missing_resolv_conf_means_localhost() {
        let got = system_nameservers(Path::new("/nonexistent/resolv.conf")).unwrap();
        assert_eq!(got, vec!["127.0.0.1:53".parse().unwrap()]);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_name("192.0.2.7".parse().unwrap()), "7.2.0.192.in-addr.arpa");
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0"), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
    }

    #[test]
    fn fqdn_rejects_garbage() {
        assert!(fqdn("").is_err());
        assert!(fqdn("a..b").is_err());
        assert_eq!(fqdn("Example.COM.").unwrap().to_ascii(), "example.com.");
        assert_eq!(fqdn("bücher.example").unwrap().to_ascii(), "xn--bcher-kva.example.");
    }
}
