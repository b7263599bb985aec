//! Where to deliver mail for a domain directly: its MX hosts with their
//! addresses, in the order to try them (RFC 5321 §5.1).

use std::net::IpAddr;

use rand::seq::SliceRandom;
use serde::Serialize;

use super::error::DnsError;
use super::mail_domain::{MxHost, classify_mx};
use super::resolver::{Answer, Resolver};

/// One host to deliver to, with its addresses (IPv4 first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxTarget {
    /// MX preference (0 for the implicit MX).
    pub preference: u16,
    /// Lower-case host name without the trailing dot.
    pub host: String,
    /// Addresses to connect to, never empty.
    pub addrs: Vec<IpAddr>,
}

/// The MX hosts of `domain` with their addresses, in preference order
/// (shuffled within equal preference to spread load); the domain itself
/// when it has no MX but has A/AAAA. Hosts without an address are left
/// out; if none is left the error says whether to retry.
pub async fn mx_targets(resolver: &Resolver, domain: &str) -> Result<Vec<MxTarget>, DnsError> {
    let hosts = match resolver.mx(domain).await? {
        Answer::NxDomain => return Err(DnsError::NoSuchDomain { domain: domain.to_string() }),
        Answer::Found(records) => match classify_mx(records) {
            None => return Err(DnsError::NullMx { domain: domain.to_string() }),
            Some(hosts) => hosts,
        },
        Answer::NoRecords => {
            return match resolver.ips(domain).await? {
                Answer::Found(addrs) => Ok(vec![MxTarget { preference: 0, host: domain.to_string(), addrs }]),
                Answer::NoRecords | Answer::NxDomain => Err(DnsError::NoMailHost {
                    domain: domain.to_string(),
                    detail: "no MX and no A/AAAA record".into(),
                }),
            };
        }
    };
    let hosts = shuffle_equal_preference(hosts);
    let lookups = futures::future::join_all(hosts.iter().map(|h| resolver.ips(&h.host))).await;
    let mut targets = Vec::with_capacity(hosts.len());
    let mut temporary = None;
    for (h, res) in hosts.into_iter().zip(lookups) {
        match res {
            Ok(Answer::Found(addrs)) => targets.push(MxTarget { preference: h.preference, host: h.host, addrs }),
            Ok(_) => {}
            Err(e) => temporary = temporary.or(Some(e)),
        }
    }
    match (targets.is_empty(), temporary) {
        (false, _) => Ok(targets),
        (true, Some(e)) => Err(e),
        (true, None) => Err(DnsError::NoMailHost {
            domain: domain.to_string(),
            detail: "none of its MX hosts has an A/AAAA record".into(),
        }),
    }
}

/// Keeps the preference order but shuffles hosts of equal preference.
fn shuffle_equal_preference(mut hosts: Vec<MxHost>) -> Vec<MxHost> {
    let mut rng = rand::thread_rng();
    for group in hosts.chunk_by_mut(|a, b| a.preference == b.preference) {
        group.shuffle(&mut rng);
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_keeps_preference_order() {
        let hosts: Vec<MxHost> = [(10, "a"), (10, "b"), (10, "c"), (20, "d"), (30, "e"), (30, "f")]
            .into_iter()
            .map(|(p, h)| MxHost { preference: p, host: h.into() })
            .collect();
        for _ in 0..20 {
            let got = shuffle_equal_preference(hosts.clone());
            let prefs: Vec<u16> = got.iter().map(|h| h.preference).collect();
            assert_eq!(prefs, vec![10, 10, 10, 20, 30, 30]);
            assert_eq!(got[3].host, "d");
            let mut first: Vec<&str> = got[..3].iter().map(|h| h.host.as_str()).collect();
            first.sort();
            assert_eq!(first, vec!["a", "b", "c"]);
        }
    }
}
