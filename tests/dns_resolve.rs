//! Resolver, mail-domain and MX-target lookups against a real Knot DNS
//! server on loopback.

mod support;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use support::dns::DnsServer;
use winback::config::DnsConfig;
use winback::dns::{DnsError, MailDomain, MailDomainChecker, MxHost, Resolver, mail_domain, mx_targets};

const ZONE: &str = r#"
withmx          MX    20 mx2.withmx
withmx          MX    10 mx1.withmx
mx1.withmx      A     127.0.0.11
mx2.withmx      A     127.0.0.12
mx2.withmx      AAAA  ::1
aonly           A     127.0.0.20
v6only          AAAA  ::1
nullmx          MX    0 .
txtonly         TXT   "no mail here"
deadmx          MX    10 nowhere.example.test.
halfdead        MX    10 nowhere.example.test.
halfdead        MX    20 mx1.withmx
equal           MX    10 e1.equal
equal           MX    10 e2.equal
equal           MX    10 e3.equal
equal           MX    5  first.equal
e1.equal        A     127.0.0.31
e2.equal        A     127.0.0.32
e3.equal        A     127.0.0.33
first.equal     A     127.0.0.30
alias           CNAME withmx
"#;

fn server() -> DnsServer {
    DnsServer::start(&[("example.test", ZONE)])
}

fn resolver(addr: SocketAddr) -> Resolver {
    Resolver::with_nameservers(&[addr], Duration::from_secs(2), 1).expect("resolver")
}

fn host(p: u16, h: &str) -> MxHost {
    MxHost { preference: p, host: h.into() }
}

#[tokio::test]
async fn mail_domain_classifies_every_case() {
    let dns = server();
    let r = resolver(dns.addr());
    assert_eq!(
        mail_domain(&r, "withmx.example.test").await,
        MailDomain::Mx(vec![host(10, "mx1.withmx.example.test"), host(20, "mx2.withmx.example.test")])
    );
    assert_eq!(mail_domain(&r, "aonly.example.test").await, MailDomain::Implicit);
    assert_eq!(mail_domain(&r, "v6only.example.test").await, MailDomain::Implicit);
    assert_eq!(mail_domain(&r, "nullmx.example.test").await, MailDomain::NullMx);
    assert_eq!(mail_domain(&r, "missing.example.test").await, MailDomain::NoMail);
    assert_eq!(mail_domain(&r, "txtonly.example.test").await, MailDomain::NoMail);
    // Case and a trailing dot do not matter; a CNAME to a domain with MX is followed.
    assert!(matches!(mail_domain(&r, "WithMX.Example.Test.").await, MailDomain::Mx(_)));
    assert!(matches!(mail_domain(&r, "alias.example.test").await, MailDomain::Mx(_)));
    // Not a domain name at all: cannot receive mail.
    assert_eq!(mail_domain(&r, "bad..name").await, MailDomain::NoMail);
}

#[tokio::test]
async fn unanswerable_questions_are_tempfail_not_nomail() {
    let dns = server();
    // knotd answers REFUSED for a zone it does not serve.
    let r = resolver(dns.addr());
    let got = mail_domain(&r, "other.invalid-zone").await;
    assert!(matches!(got, MailDomain::TempFail(_)), "{got:?}");
    assert!(!got.is_undeliverable());

    // A server that never answers: a timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::with_nameservers(&[silent.local_addr().unwrap()], Duration::from_millis(300), 1).unwrap();
    let got = mail_domain(&r, "withmx.example.test").await;
    let MailDomain::TempFail(why) = got else { panic!("expected TempFail, got {got:?}") };
    assert!(!why.is_empty());
    let err = mx_targets(&r, "withmx.example.test").await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
}

#[tokio::test]
async fn mx_targets_in_preference_order_with_addresses() {
    let dns = server();
    let r = resolver(dns.addr());
    let got = mx_targets(&r, "withmx.example.test").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].preference, got[0].host.as_str()), (10, "mx1.withmx.example.test"));
    assert_eq!(got[0].addrs, vec!["127.0.0.11".parse::<IpAddr>().unwrap()]);
    assert_eq!(got[1].addrs, vec!["127.0.0.12".parse::<IpAddr>().unwrap(), "::1".parse::<IpAddr>().unwrap()]);

    let got = mx_targets(&r, "equal.example.test").await.unwrap();
    assert_eq!(got[0].host, "first.equal.example.test");
    let mut rest: Vec<&str> = got[1..].iter().map(|t| t.host.as_str()).collect();
    rest.sort();
    assert_eq!(rest, ["e1.equal.example.test", "e2.equal.example.test", "e3.equal.example.test"]);

    // A host without addresses is skipped, the next one is used.
    let got = mx_targets(&r, "halfdead.example.test").await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].host, "mx1.withmx.example.test");
}

#[tokio::test]
async fn mx_targets_fallbacks_and_errors() {
    let dns = server();
    let r = resolver(dns.addr());
    let got = mx_targets(&r, "aonly.example.test").await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].preference, got[0].host.as_str()), (0, "aonly.example.test"));
    assert_eq!(got[0].addrs, vec!["127.0.0.20".parse::<IpAddr>().unwrap()]);

    let err = mx_targets(&r, "nullmx.example.test").await.unwrap_err();
    assert!(matches!(err, DnsError::NullMx { .. }), "{err:?}");
    assert!(err.to_string().contains("null MX"), "{err}");
    let err = mx_targets(&r, "missing.example.test").await.unwrap_err();
    assert!(matches!(err, DnsError::NoSuchDomain { .. }), "{err:?}");
    let err = mx_targets(&r, "txtonly.example.test").await.unwrap_err();
    assert!(matches!(err, DnsError::NoMailHost { .. }), "{err:?}");
    let err = mx_targets(&r, "deadmx.example.test").await.unwrap_err();
    assert!(matches!(err, DnsError::NoMailHost { .. }), "{err:?}");
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn resolver_from_config_uses_explicit_port() {
    let dns = server();
    let cfg = DnsConfig { nameservers: vec![dns.addr()], timeout: Duration::from_secs(2), attempts: 2 };
    let r = Resolver::from_config(&cfg).unwrap();
    assert_eq!(r.nameservers(), &[dns.addr()]);
    assert_eq!(mail_domain(&r, "aonly.example.test").await, MailDomain::Implicit);
}

#[tokio::test]
async fn checker_resolves_batches_once_and_retries_tempfail() {
    let dns = server();
    let checker = MailDomainChecker::with_limits(resolver(dns.addr()), 4, 1000);
    let input = [
        "withmx.example.test",
        "WITHMX.example.test",
        "aonly.example.test",
        "nullmx.example.test",
        "missing.example.test",
        "txtonly.example.test",
        "refused.other-zone",
    ];
    let got = checker.check_all(input).await;
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(matches!(got["withmx.example.test"], MailDomain::Mx(_)));
    assert_eq!(got["aonly.example.test"], MailDomain::Implicit);
    assert_eq!(got["nullmx.example.test"], MailDomain::NullMx);
    assert_eq!(got["missing.example.test"], MailDomain::NoMail);
    assert!(matches!(got["refused.other-zone"], MailDomain::TempFail(_)));
    // Definite answers are remembered, temporary failures are not.
    assert_eq!(checker.cached_len(), 5);
    assert_eq!(checker.check("AOnly.example.test").await, MailDomain::Implicit);
    assert_eq!(checker.cached_len(), 5);
}

#[tokio::test]
async fn checker_cache_is_bounded() {
    let dns = server();
    let checker = MailDomainChecker::with_limits(resolver(dns.addr()), 2, 2);
    let got = checker.check_all(["withmx.example.test", "aonly.example.test", "nullmx.example.test"]).await;
    assert_eq!(got.len(), 3);
    assert_eq!(checker.cached_len(), 2);
}
