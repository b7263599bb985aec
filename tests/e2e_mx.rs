//! Direct MX delivery through the real binary: a real DNS server (knotd)
//! on loopback maps the test domains to SMTP servers on 127.0.0.x, all on
//! one port. Shown: MX hosts tried in preference order (the first is down,
//! the second takes the mail), the A-record fallback of a domain without
//! MX, a null MX refused for good (and the address suppressed), and two
//! domains served by one MX host counted as one provider.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use support::daemon::Winback;
use support::dns::DnsServer;
use support::scripted_smtp::{Script, ScriptedSmtp};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_delivery_follows_mx_records() {
    let dns = DnsServer::start(&[
        ("a.test", "@ MX 10 mx1\n@ MX 20 mx2\nmx1 A 127.0.0.2\nmx2 A 127.0.0.3\n"),
        ("b.test", "@ A 127.0.0.4\n"),
        ("null.test", "@ MX 0 .\n"),
        ("c1.test", "@ MX 10 mx.shared.test.\n"),
        ("c2.test", "@ MX 10 mx.shared.test.\n"),
        ("shared.test", "mx A 127.0.0.5\n"),
    ]);
    // Every MX host listens on the same port; 127.0.0.2 (a.test's first
    // choice) has no server at all.
    let second = ScriptedSmtp::start_at(SocketAddr::new(ip(3), 0), Script::accept_all()).await.unwrap();
    let port = second.addr().port();
    let fallback = ScriptedSmtp::start_at(SocketAddr::new(ip(4), port), Script::accept_all()).await.unwrap();
    let shared = ScriptedSmtp::start_at(SocketAddr::new(ip(5), port), Script::accept_all()).await.unwrap();

    let mut wb = Winback::new(&format!(
        r#"
state_dir = "{{dir}}/var"
[sender]
from = "Shop <hello@shop.test>"
bounce_domain = "bounces.shop.test"
public_base_url = "http://127.0.0.1:1"
[transport]
kind = "mx"
port = {port}
timeout = "5s"
connections_per_provider = 2
messages_per_connection = 2
[dns]
nameservers = ["{dns}"]
timeout = "2s"
[hygiene]
check_dns = false
[http]
listen = "127.0.0.1:0"
[scheduler]
tick = "200ms"
[templates]
dir = "{{dir}}/config/templates"
[[sequence]]
name = "wb"
grace = "1h"
[[sequence.step]]
after = "0s"
subject = "We miss you"
template = "miss-you"
final = true
"#,
        dns = dns.addr()
    ));
    let mut csv = String::from("email,last_engaged_at\n");
    let mut emails: Vec<String> = (0..3).map(|i| format!("u{i}@a.test")).collect();
    emails.extend((0..2).map(|i| format!("u{i}@b.test")));
    emails.extend((0..3).map(|i| format!("v{i}@c1.test")));
    emails.extend((0..3).map(|i| format!("w{i}@c2.test")));
    emails.push("x@null.test".into());
    for e in &emails {
        csv += &format!("{e},2020-01-01\n");
    }
    std::fs::write(wb.path("contacts.csv"), csv).unwrap();
    wb.ok(&["contacts", "import", "contacts.csv"]);
    wb.start();

    let deadline = Instant::now() + Duration::from_secs(60);
    while second.accepted().len() < 3 || fallback.accepted().len() < 2 || shared.accepted().len() < 6 {
        assert!(
            Instant::now() < deadline,
            "not delivered: mx2 {}, A fallback {}, shared MX {}; log:\n{}",
            second.accepted().len(),
            fallback.accepted().len(),
            shared.accepted().len(),
            wb.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(second.accepted().iter().all(|r| r.rcpt.ends_with("@a.test")));
    assert!(fallback.accepted().iter().all(|r| r.rcpt.ends_with("@b.test")));
    assert!(shared.accepted().iter().all(|r| r.rcpt.ends_with("@c1.test") || r.rcpt.ends_with("@c2.test")));

    let status = wb.wait_for(Duration::from_secs(20), "the null MX refused", |s| s["suppressed"]["hard_bounce"] == 1);
    let shown = wb.ok(&["contacts", "show", "x@null.test"]);
    assert!(shown.contains("5.1.2") && shown.contains("null MX"), "{shown}");
    let providers: Vec<String> = status["reputation"]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(providers.contains(&"shared.test".to_string()), "c1 and c2 share a provider: {providers:?}");
    assert!(!providers.iter().any(|p| p.starts_with("c1") || p.starts_with("c2")), "{providers:?}");
    assert_eq!(second.received().len() + fallback.received().len() + shared.received().len(), 11, "each once");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
