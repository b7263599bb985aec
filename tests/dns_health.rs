//! The DNS health check against a real Knot DNS server on loopback: a
//! correct setup passes, and each kind of mistake is reported.
//!
//! Sending IPs are documentation addresses (192.0.2.0/24): they only
//! appear inside DNS names and records, nothing is sent to them. Loopback
//! addresses cannot be used there because the resolver answers reverse
//! lookups of 127.0.0.0/8 itself (RFC 6761).

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::dns::DnsServer;
use winback::config::DkimConfig;
use winback::dns::Resolver;
use winback::dns::config::DnsCheckConfig;
use winback::dns::health::{DnsHealthReport, HealthSetup, Status, check_health};

const RSA_PKCS1: &str = include_str!("data/dkim/rsa2048-pkcs1.pem");
const RSA_PKCS8: &str = include_str!("data/dkim/rsa2048-pkcs8.pem");
const ED25519: &str = include_str!("data/dkim/ed25519.pem");
const RSA_SPKI_B64: &str = include_str!("data/dkim/rsa2048-pkcs1.pub.b64");
const RSA_PKCS1_PUB_B64: &str = include_str!("data/dkim/rsa2048-pkcs1.rsapub.b64");
const OTHER_SPKI_B64: &str = include_str!("data/dkim/rsa-other-pkcs8.pub.b64");
const ED25519_B64: &str = include_str!("data/dkim/ed25519.pub.b64");

/// A TXT record value split into quoted strings of at most 200 bytes, as
/// long DKIM keys must be published.
fn txt(value: &str) -> String {
    value.as_bytes().chunks(200).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
}

fn zone_test() -> String {
    let dkim = |k: &str, p: &str| txt(&format!("v=DKIM1; k={k}; p={}", p.trim()));
    let mut z = String::from(
        r#"
good                    TXT   "v=spf1 include:_spf.good.test -all"
bounces.good            TXT   "v=spf1 include:_spf.good.test ~all"
_spf.good               TXT   "v=spf1 ip4:192.0.2.0/28 a:mail.good.test -all"
bounces.good            MX    10 mail.good.test.
mail.good               A     192.0.2.10
_dmarc.good             TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
bounces.nospf           MX    10 mail.good.test.
_dmarc.nodmarc          TXT   "not a dmarc record"
bounces.deep            TXT   "v=spf1 a:h1.deep.test a:h2.deep.test a:h3.deep.test a:h4.deep.test a:h5.deep.test a:h6.deep.test a:h7.deep.test a:h8.deep.test a:h9.deep.test a:h10.deep.test a:h11.deep.test -all"
bounces.other           TXT   "v=spf1 ip4:192.0.2.0/28 -all"
bounces.other           MX    10 mail.good.test.
_dmarc.strict           TXT   "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:d@strict.test"
_dmarc.monitor          TXT   "v=DMARC1; p=none"
bounces.wrongmx         TXT   "v=spf1 ip4:192.0.2.0/28 -all"
bounces.wrongmx         MX    10 elsewhere.test.
elsewhere               A     192.0.2.50
bounces.backup          MX    10 elsewhere.test.
bounces.backup          MX    20 mail.good.test.
bounces.nullmx          MX    0 .
nofwd                   A     192.0.2.99
"#,
    );
    for i in 1..=11 {
        z.push_str(&format!("h{i}.deep A 127.0.1.{i}\n"));
    }
    for (owner, k, p) in [
        ("sel._domainkey.good", "rsa", RSA_SPKI_B64),
        ("pkcs1pub._domainkey.good", "rsa", RSA_PKCS1_PUB_B64),
        ("other._domainkey.good", "rsa", OTHER_SPKI_B64),
        ("ed._domainkey.good", "ed25519", ED25519_B64),
        ("edasrsa._domainkey.good", "rsa", ED25519_B64),
        ("revoked._domainkey.good", "rsa", ""),
    ] {
        z.push_str(&format!("{owner} TXT {}\n", dkim(k, p)));
    }
    z.push_str(&format!("testing._domainkey.good TXT {}\n", txt(&format!("v=DKIM1; t=y; p={}", RSA_SPKI_B64.trim()))));
    z
}

const REVERSE: &str = "10 PTR mail.good.test.\n12 PTR nofwd.test.\n15 PTR elsewhere.test.\n";
const BL: &str = "13.2.0.192 A 127.0.0.2\n13.2.0.192 TXT \"listed for testing\"\n14.2.0.192 A 127.255.255.254\n";
const DBL: &str = "listed.test A 127.0.1.2\n";

fn server() -> DnsServer {
    DnsServer::start(&[("test", &zone_test()), ("2.0.192.in-addr.arpa", REVERSE), ("bl.test", BL), ("dbl.test", DBL)])
}

fn resolver(dns: &DnsServer) -> Resolver {
    Resolver::with_nameservers(&[dns.addr()], Duration::from_secs(2), 1).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A setup that passes every check.
fn good() -> HealthSetup {
    HealthSetup {
        from_domain: "good.test".into(),
        bounce_domain: "bounces.good.test".into(),
        helo_name: "mail.good.test".into(),
        link_domain: Some("good.test".into()),
        dkim: Some(DkimConfig {
            domain: "good.test".into(),
            selector: "sel".into(),
            private_key_pem: RSA_PKCS1.into(),
        }),
        check: DnsCheckConfig {
            sending_ips: vec![ip("192.0.2.10")],
            from_domain: "good.test".into(),
            interval: Duration::from_secs(3600),
            scheduled: true,
            dnsbl_ip_zones: vec!["bl.test".into()],
            dnsbl_domain_zones: vec!["dbl.test".into()],
            pause_on_listing: true,
            listener_host: Some("mail.good.test".into()),
            listener_ips: vec![],
        },
    }
}

fn status(r: &DnsHealthReport, name: &str) -> (Status, String) {
    let c = r.check(name).unwrap_or_else(|| panic!("no check {name} in:\n{r}"));
    (c.status, c.detail.clone())
}

fn assert_status(r: &DnsHealthReport, name: &str, want: Status, detail_has: &str) {
    let (got, detail) = status(r, name);
    assert_eq!(got, want, "{name}: {detail}\n{r}");
    assert!(detail.contains(detail_has), "{name}: `{detail}` lacks `{detail_has}`");
}

#[tokio::test]
async fn correct_setup_passes_everything() {
    let dns = server();
    let r = check_health(&resolver(&dns), &good()).await;
    for c in &r.checks {
        assert_eq!(c.status, Status::Pass, "{}: {}\n{r}", c.name, c.detail);
    }
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "spf",
            "dkim",
            "dmarc",
            "dmarc-alignment",
            "bounce-mx",
            "fcrdns:192.0.2.10",
            "dnsbl:bl.test:192.0.2.10",
            "dnsbl:dbl.test:good.test",
            "dnsbl:dbl.test:bounces.good.test",
        ]
    );
    assert_status(&r, "spf", Status::Pass, "ip4:192.0.2.0/28 in _spf.good.test via include:_spf.good.test");
    assert!(!r.listed && !r.pause_requested);
    assert_eq!(r.exit_code(), 0);
}

#[tokio::test]
async fn spf_failures() {
    let dns = server();
    let res = resolver(&dns);
    let mut s = good();
    s.bounce_domain = "bounces.nospf.test".into();
    assert_status(&check_health(&res, &s).await, "spf", Status::Fail, "no SPF record");

    let mut s = good();
    s.check.sending_ips = vec![ip("192.0.2.99")];
    let r = check_health(&res, &s).await;
    assert_status(&r, "spf", Status::Fail, "does not authorize 192.0.2.99: result softfail");
    assert_eq!(r.exit_code(), 1);

    let mut s = good();
    s.bounce_domain = "bounces.deep.test".into();
    assert_status(&check_health(&res, &s).await, "spf", Status::Fail, "more than 10 DNS lookups");

    // Without sending IPs only the record itself can be checked.
    let mut s = good();
    s.check.sending_ips.clear();
    assert_status(&check_health(&res, &s).await, "spf", Status::Warn, "sending_ips is empty");
}

#[tokio::test]
async fn dkim_outcomes() {
    let dns = server();
    let res = resolver(&dns);
    let run = |selector: &'static str, pem: &'static str| {
        let res = res.clone();
        async move {
            let mut s = good();
            s.dkim =
                Some(DkimConfig { domain: "good.test".into(), selector: selector.into(), private_key_pem: pem.into() });
            check_health(&res, &s).await
        }
    };
    assert_status(&run("sel", RSA_PKCS8).await, "dkim", Status::Pass, "publishes the rsa key");
    assert_status(&run("pkcs1pub", RSA_PKCS1).await, "dkim", Status::Pass, "publishes the rsa key");
    assert_status(&run("ed", ED25519).await, "dkim", Status::Pass, "publishes the ed25519 key");
    let missing = run("nokey", RSA_PKCS1).await;
    assert_status(&missing, "dkim", Status::Fail, "no DKIM key at nokey._domainkey.good.test");
    // The fix is spelled out, with the key openssl derives.
    assert!(status(&missing, "dkim").1.contains(RSA_SPKI_B64.trim()));
    assert_status(&run("other", RSA_PKCS1).await, "dkim", Status::Fail, "does not match");
    assert_status(&run("revoked", RSA_PKCS1).await, "dkim", Status::Fail, "revoked");
    assert_status(&run("edasrsa", ED25519).await, "dkim", Status::Fail, "k=rsa key but [dkim] has a ed25519 key");
    assert_status(&run("testing", RSA_PKCS1).await, "dkim", Status::Warn, "t=y");
    assert_status(
        &run("sel", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").await,
        "dkim",
        Status::Fail,
        "private_key_file",
    );

    let mut s = good();
    s.dkim = None;
    let r = check_health(&res, &s).await;
    assert_status(&r, "dkim", Status::Warn, "no [dkim]");
    // SPF still aligns, so DMARC can pass, but with no fallback.
    assert_status(&r, "dmarc-alignment", Status::Warn, "no DKIM signature");
}

#[tokio::test]
async fn dmarc_outcomes() {
    let dns = server();
    let res = resolver(&dns);
    let with_from = |from: &str| {
        let mut s = good();
        s.from_domain = from.into();
        s
    };
    let r = check_health(&res, &with_from("nodmarc.test")).await;
    assert_status(&r, "dmarc", Status::Fail, "no DMARC record at _dmarc.nodmarc.test");
    // A subdomain inherits the organisational domain's policy.
    let r = check_health(&res, &with_from("news.good.test")).await;
    assert_status(&r, "dmarc", Status::Pass, "_dmarc.good.test applies p=reject to news.good.test (organisational");
    assert_status(&check_health(&res, &with_from("monitor.test")).await, "dmarc", Status::Warn, "policy none");

    // Misaligned: bounce domain and DKIM d= under another organisation.
    let mut s = good();
    s.bounce_domain = "bounces.other.test".into();
    if let Some(d) = s.dkim.as_mut() {
        d.domain = "other.test".into();
    }
    let r = check_health(&res, &s).await;
    assert_status(&r, "dmarc-alignment", Status::Fail, "SPF domain bounces.other.test does not align");
    assert_eq!(r.exit_code(), 1);

    // Strict SPF alignment fails for a bounce subdomain; strict DKIM passes.
    let mut s = with_from("strict.test");
    if let Some(d) = s.dkim.as_mut() {
        d.domain = "strict.test".into();
    }
    let r = check_health(&res, &s).await;
    assert_status(&r, "dmarc-alignment", Status::Warn, "does not align with strict.test (strict)");
}

#[tokio::test]
async fn bounce_mx_outcomes() {
    let dns = server();
    let res = resolver(&dns);
    let with_bounce = |b: &str| {
        let mut s = good();
        s.bounce_domain = b.into();
        s
    };
    let r = check_health(&res, &with_bounce("bounces.wrongmx.test")).await;
    assert_status(&r, "bounce-mx", Status::Fail, "not at winback's listener mail.good.test");
    let r = check_health(&res, &with_bounce("bounces.backup.test")).await;
    assert_status(&r, "bounce-mx", Status::Warn, "only mail.good.test");
    let r = check_health(&res, &with_bounce("bounces.nullmx.test")).await;
    assert_status(&r, "bounce-mx", Status::Fail, "null MX");
    // Matching by listener IP instead of name.
    let mut s = with_bounce("bounces.wrongmx.test");
    s.check.listener_host = None;
    s.check.listener_ips = vec![ip("192.0.2.50")];
    assert_status(&check_health(&res, &s).await, "bounce-mx", Status::Pass, "elsewhere.test (10)");
}

#[tokio::test]
async fn reverse_dns_outcomes() {
    let dns = server();
    let res = resolver(&dns);
    let mut s = good();
    s.check.sending_ips = vec![ip("192.0.2.11"), ip("192.0.2.12"), ip("192.0.2.15")];
    let r = check_health(&res, &s).await;
    assert_status(&r, "fcrdns:192.0.2.11", Status::Fail, "no PTR record");
    assert_status(&r, "fcrdns:192.0.2.12", Status::Fail, "does not resolve back");
    // elsewhere.test → 192.0.2.50, not .15.
    assert_status(&r, "fcrdns:192.0.2.15", Status::Fail, "PTR elsewhere.test");

    let mut s = good();
    s.helo_name = "smtp.good.test".into();
    let r = check_health(&res, &s).await;
    assert_status(&r, "fcrdns:192.0.2.10", Status::Warn, "EHLO name is smtp.good.test");
}

#[tokio::test]
async fn blocklist_listing_requests_pause() {
    let dns = server();
    let res = resolver(&dns);
    let mut s = good();
    s.check.sending_ips = vec![ip("192.0.2.10"), ip("192.0.2.13")];
    s.link_domain = Some("listed.test".into());
    let r = check_health(&res, &s).await;
    assert_status(&r, "dnsbl:bl.test:192.0.2.13", Status::Fail, "LISTED on bl.test (127.0.0.2): listed for testing");
    assert_status(&r, "dnsbl:bl.test:192.0.2.10", Status::Pass, "not listed");
    assert_status(&r, "dnsbl:dbl.test:listed.test", Status::Fail, "LISTED");
    assert!(r.listed && r.pause_requested);
    assert_eq!(r.listings.len(), 2);
    assert_eq!(r.listings[0].codes, ["127.0.0.2"]);
    assert!(r.prometheus().contains("winback_dns_pause_requested 1"));

    s.check.pause_on_listing = false;
    let r = check_health(&res, &s).await;
    assert!(r.listed && !r.pause_requested);

    // A refusal code is not a listing.
    let mut s = good();
    s.check.sending_ips = vec![ip("192.0.2.14")];
    let r = check_health(&res, &s).await;
    assert_status(&r, "dnsbl:bl.test:192.0.2.14", Status::Error, "refused the query");
    assert!(!r.listed);
}

#[tokio::test]
async fn unreachable_dns_is_error_not_fail() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let res = Resolver::with_nameservers(&[silent.local_addr().unwrap()], Duration::from_millis(200), 1).unwrap();
    let r = check_health(&res, &good()).await;
    for name in ["spf", "dkim", "dmarc", "bounce-mx", "fcrdns:192.0.2.10", "dnsbl:bl.test:192.0.2.10"] {
        assert_eq!(status(&r, name).0, Status::Error, "{name}\n{r}");
    }
    assert_eq!(r.exit_code(), 75);
}

/// Writes a config for the good setup plus `dns_check` lines, and runs `winback check-dns`.
fn run_cli(dns: &DnsServer, dns_check: &str, json: bool) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dkim/rsa2048-pkcs1.pem");
    let config = format!(
        r#"state_dir = "{state}"
[sender]
from = "Good Shop <hello@good.test>"
bounce_domain = "bounces.good.test"
helo_name = "mail.good.test"
public_base_url = "https://good.test"
[dkim]
domain = "good.test"
selector = "sel"
private_key_file = "{key}"
[dns]
nameservers = ["{addr}"]
timeout = "2s"
[dns_check]
listener_host = "mail.good.test"
dnsbl_ip_zones = ["bl.test"]
dnsbl_domain_zones = ["dbl.test"]
{dns_check}
"#,
        state = dir.path().display(),
        addr = dns.addr(),
    );
    let path = dir.path().join("winback.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_winback"));
    cmd.current_dir(dir.path()).arg("--config").arg(&path).arg("check-dns");
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

#[test]
fn cli_exit_codes_and_formats() {
    let dns = server();
    let out = run_cli(&dns, r#"sending_ips = ["192.0.2.10"]"#, false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("PASS  spf "), "{text}");
    assert!(text.contains("9 passed, 0 warnings, 0 failed, 0 could not run"), "{text}");

    let out = run_cli(&dns, r#"sending_ips = ["192.0.2.99", "192.0.2.13"]"#, true);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["listed"], true);
    assert_eq!(json["pause_requested"], false);
    let spf = json["checks"].as_array().unwrap().iter().find(|c| c["name"] == "spf").unwrap();
    assert_eq!(spf["status"], "fail");

    let out = run_cli(&dns, r#"sending_ips = ["mail.good.test"]"#, false);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[dns_check] sending_ips") && err.contains("not an IP address"), "{err}");
}

#[tokio::test]
async fn periodic_run_reports_until_cancelled() {
    let dns = server();
    let mut setup = good();
    setup.check.interval = Duration::from_millis(100);
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let task = tokio::spawn(winback::dns::health::run_periodic(resolver(&dns), setup, cancel.clone(), move |r| {
        let _ = tx.try_send(r);
    }));
    for _ in 0..2 {
        let report = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(report.exit_code(), 0, "{report}");
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}
