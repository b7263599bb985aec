//! The client's address behind trusted reverse proxies.
//!
//! `X-Forwarded-For` is only believed when the connection comes from a
//! configured trusted proxy: anyone else could write any address there.
//! The list is read from the right (the entry our proxy added) and the
//! first address that is not itself a trusted proxy is the client.

use std::net::IpAddr;

use super::signals::NetSet;

/// The client address for a request that arrived from `peer` with the
/// given `X-Forwarded-For` header values (in header order).
pub fn client_ip<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &NetSet) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            // Garbage in the chain: stop at the last address we could trust.
            None => break,
        }
    }
    client
}

/// An XFF entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    None
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted() -> NetSet {
        NetSet::new(["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        assert_eq!(client_ip(ip("198.51.100.7"), ["17.0.0.1"], &trusted()), ip("198.51.100.7"));
    }

    #[test]
    fn trusted_chain_is_walked_from_the_right() {
        let t = trusted();
        assert_eq!(client_ip(ip("127.0.0.1"), ["17.0.0.1"], &t), ip("17.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), ["6.6.6.6, 17.0.0.1, 10.1.1.1"], &t), ip("17.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), ["6.6.6.6", "17.0.0.1:443"], &t), ip("17.0.0.1"));
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), ["[2001:db8::1]:80"], &t), ip("2001:db8::1"));
        assert_eq!(client_ip(ip("127.0.0.1"), ["junk, 10.2.2.2"], &t), ip("10.2.2.2"));
        assert_eq!(client_ip(ip("127.0.0.1"), [], &t), ip("127.0.0.1"));
    }
}
