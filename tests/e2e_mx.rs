//! Direct MX delivery through the real binary: a real DNS server (knotd)
//! on loopback maps the test domains to SMTP servers on 127.0.0.x, all on
//! one port. Shown: MX hosts tried in preference order (the first is down,
//! the second takes the mail), the A-record fallback of a domain without
//! MX, a null MX refused for good (and the address suppressed), and two
//! domains served by one MX host counted as one provider.
//!
//! Also: opportunistic STARTTLS against a real Postfix offering it with a
//! self-signed certificate (used, though unverifiable) next to a host that
//! does not offer it (plain text); and the per-provider connection cap and
//! the messages-per-connection limit, counted by the scripted server while
//! enough mail flows that both matter.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::daemon::{ONE_MESSAGE, Winback};
use support::dns::DnsServer;
use support::postfix::{Postfix, PostfixOptions};
use support::scripted_smtp::{Script, ScriptedSmtp};
use support::smtp_sink::{SinkOptions, SmtpSink};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// winback delivering directly to port `port` of the MX hosts that `dns`
/// names, with `transport` (keys) added to `[transport]` and `limits` as
/// `[limits]`; the one-message sequence; the daemon not started yet.
fn mx_winback(dns: &DnsServer, port: u16, transport: &str, limits: &str) -> Winback {
    Winback::new(&format!(
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
{transport}
[limits]
{limits}
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
{ONE_MESSAGE}"#,
        dns = dns.addr()
    ))
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

    let mut wb = mx_winback(&dns, port, "connections_per_provider = 2\nmessages_per_connection = 2", "");
    let mut emails: Vec<String> = (0..3).map(|i| format!("u{i}@a.test")).collect();
    emails.extend((0..2).map(|i| format!("u{i}@b.test")));
    emails.extend((0..3).map(|i| format!("v{i}@c1.test")));
    emails.extend((0..3).map(|i| format!("w{i}@c2.test")));
    emails.push("x@null.test".into());
    wb.import(&emails.iter().map(String::as_str).collect::<Vec<_>>());
    wb.start();

    wb.wait_until(
        Duration::from_secs(60),
        || second.accepted().len() >= 3 && fallback.accepted().len() >= 2 && shared.accepted().len() >= 6,
        || {
            format!(
                "not delivered: mx2 {}, A fallback {}, shared MX {}",
                second.accepted().len(),
                fallback.accepted().len(),
                shared.accepted().len()
            )
        },
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_used_when_the_mx_host_offers_it() {
    if !Postfix::available(true) {
        return;
    }
    // tls.test's MX is a real Postfix offering STARTTLS with a self-signed
    // certificate, relaying on to a sink; plain.test's MX offers no
    // STARTTLS. Both on the one port direct delivery uses.
    let sink = SmtpSink::start(SinkOptions::default());
    let opts = PostfixOptions {
        relay: vec![("tls.test".into(), sink.port())],
        listen: Some(Ipv4Addr::new(127, 0, 0, 6)),
        starttls: true,
        ..Default::default()
    };
    let postfix = Postfix::start(&opts).unwrap_or_else(|e| panic!("cannot start Postfix: {e}"));
    let plain = ScriptedSmtp::start_at(SocketAddr::new(ip(7), postfix.port()), Script::accept_all()).await.unwrap();
    let dns = DnsServer::start(&[
        ("tls.test", "@ MX 10 mx\nmx A 127.0.0.6\n"),
        ("plain.test", "@ MX 10 mx\nmx A 127.0.0.7\n"),
    ]);
    let mut wb = mx_winback(&dns, postfix.port(), "", "");
    wb.import(&["reader@tls.test", "reader@plain.test"]);
    wb.start();

    let got = sink.wait_for(1, Duration::from_secs(60));
    assert_eq!(
        got.len(),
        1,
        "not delivered through Postfix.\nPostfix log:\n{}\nwinback log:\n{}",
        postfix.maillog(),
        wb.log()
    );
    wb.wait_until(Duration::from_secs(30), || plain.accepted().len() == 1, || "not delivered in plain text".into());
    assert_eq!(plain.accepted()[0].rcpt, "reader@plain.test");

    // Postfix logs the session it had with winback: TLS, no certificate
    // asked of the client (hence "Anonymous"), then the message accepted
    // and passed on; the last line is written once the sink has answered.
    let sent = ["to=<reader@tls.test>", "status=sent"];
    let log = postfix.maillog_with(&sent, Duration::from_secs(30));
    assert!(log.contains("Anonymous TLS connection established from"), "no TLS session:\n{log}");
    assert!(sent.iter().all(|l| log.contains(l)), "{log}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_connection_cap_and_messages_per_connection_hold() {
    const MESSAGES: usize = 40;
    const PER_CONNECTION: usize = 3;
    // c1.test and c2.test share one MX host: one provider, whose cap (2)
    // is well below the 8 connections the sender may use at once.
    let dns = DnsServer::start(&[
        ("c1.test", "@ MX 10 mx.cap.test.\n"),
        ("c2.test", "@ MX 10 mx.cap.test.\n"),
        ("cap.test", "mx A 127.0.0.8\n"),
    ]);
    // The first greeting waits for a second connection: the cap is reached
    // however fast the transactions are, unless winback never opens two.
    let script = Script::accept_all().greet_when_open(2);
    let server = ScriptedSmtp::start_at(SocketAddr::new(ip(8), 0), script).await.unwrap();
    let mut wb = mx_winback(
        &dns,
        server.addr().port(),
        &format!("connections_per_provider = 2\nmessages_per_connection = {PER_CONNECTION}"),
        "global = \"1000/s\"\nmax_connections = 8",
    );
    let emails: Vec<String> = (0..MESSAGES).map(|i| format!("u{i}@c{}.test", 1 + i % 2)).collect();
    wb.import(&emails.iter().map(String::as_str).collect::<Vec<_>>());
    wb.start();

    wb.wait_until(
        Duration::from_secs(60),
        || server.accepted().len() >= MESSAGES,
        || format!("{} of {MESSAGES} delivered", server.accepted().len()),
    );
    let per_connection = server.messages_per_connection();
    let max = server.max_concurrent();
    eprintln!(
        "{MESSAGES} messages over {} connections, at most {max} at once: {per_connection:?}",
        per_connection.len()
    );
    assert_eq!(max, 2, "the provider's connections at once (cap 2, reached with 8 senders)");
    assert!(per_connection.iter().all(|&n| n <= PER_CONNECTION), "{per_connection:?}");
    assert!(per_connection.contains(&PER_CONNECTION), "connections are reused: {per_connection:?}");
    assert_eq!(per_connection.iter().sum::<usize>(), MESSAGES, "one transaction per message");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_starttls_falls_back_to_plain_text() {
    // The MX host offers STARTTLS but refuses it: opportunistic TLS must
    // still deliver, in plain text.
    let dns = DnsServer::start(&[("broken.test", "@ MX 10 mx\nmx A 127.0.0.9\n")]);
    let script = Script::accept_all().broken_starttls("454 4.7.0 TLS not available due to local problem");
    let server = ScriptedSmtp::start_at(SocketAddr::new(ip(9), 0), script).await.unwrap();
    let mut wb = mx_winback(&dns, server.addr().port(), "", "global = \"100/s\"");
    wb.import(&["a@broken.test", "b@broken.test", "c@broken.test"]);
    wb.start();
    wb.wait_until(
        Duration::from_secs(30),
        || server.accepted().len() >= 3,
        || format!("{} of 3 delivered", server.accepted().len()),
    );
    assert!(wb.log().contains("STARTTLS failed"), "{}", wb.log());
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
