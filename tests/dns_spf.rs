//! SPF evaluation (`check_host`) against records served by a real Knot
//! DNS server on loopback. IPs are documentation addresses used as data.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::dns::DnsServer;
use winback::dns::Resolver;
use winback::dns::health::spf_eval::{SpfResult, check_host};

const ZONE: &str = r#"
ip4          TXT  "v=spf1 ip4:192.0.2.0/24 -all"
ip6          TXT  "v=spf1 ip6:2001:db8::/32 -all"
a            TXT  "v=spf1 a:host.spf.test/30 -all"
host         A    192.0.2.65
mx           TXT  "v=spf1 mx ~all"
mx           MX   10 host.spf.test.
redirect     TXT  "v=spf1 redirect=ip4.spf.test"
redirnone    TXT  "v=spf1 redirect=nothing.spf.test"
soft         TXT  "v=spf1 ~all"
neutral      TXT  "v=spf1 ?all"
nomatch      TXT  "v=spf1 ip4:198.51.100.1"
incnone      TXT  "v=spf1 include:nothing.spf.test -all"
incfail      TXT  "v=spf1 include:ip4.spf.test ip4:203.0.113.0/24 -all"
two          TXT  "v=spf1 -all"
two          TXT  "v=spf1 +all"
broken       TXT  "v=spf1 ip4:999.1.1.1 -all"
exists       TXT  "v=spf1 exists:%{i}.allow.spf.test -all"
ptr          TXT  "v=spf1 ptr -all"
voids        TXT  "v=spf1 a:v1.spf.test a:v2.spf.test a:v3.spf.test +all"
twovoids     TXT  "v=spf1 a:v1.spf.test a:v2.spf.test +all"
loop         TXT  "v=spf1 include:loop.spf.test -all"
other        TXT  "hello world"
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn eval(dns: &DnsServer, addr: &str, domain: &str) -> (SpfResult, Option<String>, Vec<String>) {
    let r = Resolver::with_nameservers(&[dns.addr()], Duration::from_secs(2), 1).unwrap();
    let o = check_host(&r, ip(addr), domain).await;
    (o.result, o.matched, o.unsupported)
}

#[tokio::test]
async fn mechanisms_and_qualifiers() {
    let dns = DnsServer::start(&[("spf.test", ZONE)]);
    let cases: &[(&str, &str, SpfResult)] = &[
        ("192.0.2.7", "ip4.spf.test", SpfResult::Pass),
        ("198.51.100.7", "ip4.spf.test", SpfResult::Fail),
        ("2001:db8::25", "ip6.spf.test", SpfResult::Pass),
        ("2001:db9::25", "ip6.spf.test", SpfResult::Fail),
        ("192.0.2.66", "a.spf.test", SpfResult::Pass),
        ("192.0.2.70", "a.spf.test", SpfResult::Fail),
        ("192.0.2.65", "mx.spf.test", SpfResult::Pass),
        ("192.0.2.66", "mx.spf.test", SpfResult::SoftFail),
        ("192.0.2.9", "redirect.spf.test", SpfResult::Pass),
        ("198.51.100.9", "redirect.spf.test", SpfResult::Fail),
        ("192.0.2.9", "soft.spf.test", SpfResult::SoftFail),
        ("192.0.2.9", "neutral.spf.test", SpfResult::Neutral),
        ("192.0.2.9", "nomatch.spf.test", SpfResult::Neutral),
        ("203.0.113.5", "incfail.spf.test", SpfResult::Pass),
        ("198.51.100.5", "incfail.spf.test", SpfResult::Fail),
        ("192.0.2.9", "other.spf.test", SpfResult::None),
        ("192.0.2.9", "missing.spf.test", SpfResult::None),
        ("192.0.2.9", "twovoids.spf.test", SpfResult::Pass),
    ];
    for (addr, domain, want) in cases {
        let (got, matched, _) = eval(&dns, addr, domain).await;
        assert_eq!(&got, want, "{addr} at {domain} (matched {matched:?})");
    }
    let (_, matched, _) = eval(&dns, "192.0.2.9", "redirect.spf.test").await;
    assert_eq!(matched.as_deref(), Some("ip4:192.0.2.0/24 in ip4.spf.test via redirect in redirect.spf.test"));
}

#[tokio::test]
async fn permanent_errors() {
    let dns = DnsServer::start(&[("spf.test", ZONE)]);
    for (domain, why) in [
        ("incnone.spf.test", "include:nothing.spf.test has no SPF record"),
        ("redirnone.spf.test", "redirect=nothing.spf.test has no SPF record"),
        ("two.spf.test", "2 SPF records"),
        ("broken.spf.test", "not an IPv4 address"),
        ("voids.spf.test", "more than 2 lookups returned nothing"),
        ("loop.spf.test", "more than 10 DNS lookups"),
    ] {
        let (got, _, _) = eval(&dns, "192.0.2.9", domain).await;
        match got {
            SpfResult::PermError(e) => assert!(e.contains(why), "{domain}: `{e}` lacks `{why}`"),
            other => panic!("{domain}: expected permerror, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn exists_and_ptr_are_reported_unsupported() {
    let dns = DnsServer::start(&[("spf.test", ZONE)]);
    let (got, _, unsupported) = eval(&dns, "192.0.2.9", "exists.spf.test").await;
    assert_eq!(got, SpfResult::Fail);
    assert_eq!(unsupported.len(), 1);
    assert!(unsupported[0].starts_with("exists:%{i}.allow.spf.test"), "{unsupported:?}");
    let (got, _, unsupported) = eval(&dns, "192.0.2.9", "ptr.spf.test").await;
    assert_eq!(got, SpfResult::Fail);
    assert!(unsupported[0].starts_with("ptr"), "{unsupported:?}");
}
