//! DNS blocklists: is a sending IP (`4.3.2.1.ZONE`) or one of our domains
//! (`DOMAIN.ZONE`) listed? A 127.0.0.0/8 answer is a listing, except
//! 127.255.255.0/24, which blocklists use to refuse a query (for example
//! one sent through a public resolver); that is reported as an error.

use std::net::{IpAddr, Ipv4Addr};

use super::report::{Check, Listing, Status};
use crate::dns::resolver::{Answer, Resolver, reverse_name};

/// What to look up in which zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A sending IP, for an IP zone.
    Ip(IpAddr),
    /// One of our domains, for a domain zone.
    Domain(String),
}

impl Subject {
    fn label(&self) -> String {
        match self {
            Subject::Ip(ip) => ip.to_string(),
            Subject::Domain(d) => d.clone(),
        }
    }

    fn query(&self, zone: &str) -> String {
        match self {
            Subject::Ip(ip) => {
                let rev = reverse_name(*ip);
                let base = rev.trim_end_matches("in-addr.arpa").trim_end_matches("ip6.arpa");
                format!("{base}{zone}")
            }
            Subject::Domain(d) => format!("{d}.{zone}"),
        }
    }
}

/// Checks every subject against every zone, concurrently. Returns one
/// check per pair and the listings found.
pub async fn check_all(resolver: &Resolver, pairs: &[(Subject, String)]) -> (Vec<Check>, Vec<Listing>) {
    let results = futures::future::join_all(pairs.iter().map(|(s, z)| check_one(resolver, s, z))).await;
    let mut checks = Vec::with_capacity(results.len());
    let mut listings = Vec::new();
    for (check, listing) in results {
        checks.push(check);
        listings.extend(listing);
    }
    (checks, listings)
}

fn is_refusal(a: &Ipv4Addr) -> bool {
    let [x, y, z, _] = a.octets();
    (x, y, z) == (127, 255, 255)
}

async fn check_one(resolver: &Resolver, subject: &Subject, zone: &str) -> (Check, Option<Listing>) {
    let who = subject.label();
    let name = format!("dnsbl:{zone}:{who}");
    let query = subject.query(zone);
    let codes = match resolver.ipv4(&query).await {
        Err(e) => return (Check::new(name, Status::Error, format!("cannot query {zone}: {e}")), None),
        Ok(Answer::NoRecords | Answer::NxDomain) => {
            return (Check::new(name, Status::Pass, format!("{who} is not listed on {zone}")), None);
        }
        Ok(Answer::Found(codes)) => codes,
    };
    let listed: Vec<&Ipv4Addr> = codes.iter().filter(|a| a.octets()[0] == 127 && !is_refusal(a)).collect();
    let shown = codes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    if listed.is_empty() {
        let why = if codes.iter().any(is_refusal) {
            "the zone refused the query (it usually refuses queries through public resolvers or over quota); \
             query it through your own resolver"
        } else {
            "the answer is not a 127.x.y.z code; the zone name may be wrong"
        };
        return (Check::new(name, Status::Error, format!("{zone} answered {shown} for {who}: {why}")), None);
    }
    let reason = match resolver.txt(&query).await {
        Ok(a) => a.into_records().into_iter().next(),
        Err(_) => None,
    };
    let detail = format!(
        "{who} is LISTED on {zone} ({shown}){}; request delisting from the list's operator",
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    );
    let listing = Listing {
        subject: who,
        zone: zone.to_string(),
        codes: listed.iter().map(ToString::to_string).collect(),
        reason,
    };
    (Check::new(name, Status::Fail, detail), Some(listing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names() {
        let ip = Subject::Ip("192.0.2.7".parse().unwrap());
        assert_eq!(ip.query("zen.example"), "7.2.0.192.zen.example");
        let v6 = Subject::Ip("2001:db8::1".parse().unwrap()).query("bl.example");
        assert!(v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.bl.example"), "{v6}");
        assert_eq!(Subject::Domain("shop.example".into()).query("dbl.example"), "shop.example.dbl.example");
    }
}
