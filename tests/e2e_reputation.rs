//! Reputation protection in the running daemon: the real binary sends to a
//! scripted SMTP server on loopback that answers with configured 4xx/5xx
//! patterns. Shown here: the global pause when the hard-bounce rate
//! crosses 5% (with the number of messages sent before it), the pause
//! surviving a restart and lifted by `winback resume` through the daemon
//! with nothing lost or sent twice; a provider's rate cut on "slow down"
//! deferrals and its recovery; a provider's suspension after sender-side
//! blocks while other providers go on; the warm-up cap surviving a restart;
//! and all of it on `GET /metrics`.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use regex::Regex;
use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use support::scripted_smtp::{Script, ScriptedSmtp, When};

/// A one-step sequence (so every contact gets exactly one message) after
/// the `[reputation]` keys in `keys`.
fn config(port: u16, keys: &str) -> String {
    smtp_config(port, "200/s", &format!("{keys}\n{ONE_MESSAGE}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"))
}

fn import(wb: &Winback, emails: &[String]) {
    let mut csv = String::from("email,name,last_engaged_at\n");
    for e in emails {
        csv += &format!("{e},Someone,2020-01-01\n");
    }
    std::fs::write(wb.path("contacts.csv"), csv).unwrap();
    let out = wb.ok(&["contacts", "import", "contacts.csv"]);
    assert!(out.contains(&format!("imported: {} new contact(s)", emails.len())), "{out}");
}

/// Waits until `f` holds on the server's records.
fn wait_server(
    server: &ScriptedSmtp,
    wb: &Winback,
    what: &str,
    f: impl Fn(&[support::scripted_smtp::Received]) -> bool,
) {
    wb.wait_until(Duration::from_secs(60), || f(&server.received()), || format!("timed out waiting for {what}"));
}

/// Messages counted as sent (let through the gate) in the last day.
fn admitted(status: &serde_json::Value) -> i64 {
    let all = &status["reputation"]["scopes"][0];
    assert_eq!(all["name"], "all", "{all:#}");
    all["windows"][1]["counts"]["sent"].as_i64().unwrap_or(0)
}

/// Whether every message let through has its outcome recorded (none of
/// these scripts defers, so each ends sent or failed).
fn settled(status: &serde_json::Value) -> bool {
    let n = |k: &str| status["messages"][k].as_i64().unwrap_or(0);
    n("sent") + n("failed") == admitted(status)
}

/// How often the sender has logged that it holds all sending.
fn holds(wb: &Winback) -> usize {
    wb.log().matches("sending held").count()
}

/// Waits until the sender logs a hold beyond the first `before`: it has
/// looked at the outbox and sends nothing more (a state, not a time).
fn wait_held(wb: &Winback, before: usize) {
    wb.wait_until(
        Duration::from_secs(30),
        || holds(wb) != before,
        || "timed out waiting for the sender to hold".into(),
    );
}

fn pause_of(status: &serde_json::Value) -> &serde_json::Value {
    &status["reputation"]["pause"]
}

fn provider<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["reputation"]["providers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

/// `GET /metrics` from the daemon's metrics listener (its address is logged).
fn metrics(wb: &Winback) -> String {
    let log = wb.log();
    let addr_re = Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let addr = log
        .lines()
        .filter(|l| l.contains("metrics listening"))
        .filter_map(|l| addr_re.find(l).map(|m| m.as_str().to_string()))
        .next_back()
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"));
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

fn gauge(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_bounces_pause_sending_across_a_restart_until_resumed() {
    const CONTACTS: usize = 400;
    const MIN_VOLUME: usize = 100;
    // One recipient in ten does not exist: a 10% hard-bounce rate.
    let server =
        ScriptedSmtp::start(Script::accept_all().rcpt(When::OneIn(10), "550 5.1.1 no such user")).await.unwrap();
    let mut wb = Winback::new(&config(server.addr().port(), &format!("min_volume = {MIN_VOLUME}")));
    // Ten recipient domains, so the per-domain limit is not what paces it.
    let emails: Vec<String> = (0..CONTACTS).map(|i| format!("user{i}@d{}.example", i % 10)).collect();
    import(&wb, &emails);
    wb.start();

    let status = wb.wait_for(Duration::from_secs(60), "the pause", |s| !pause_of(s).is_null());
    assert!(pause_of(&status)["reason"].as_str().unwrap().contains("hard-bounce rate"), "{status:#}");
    // Messages let through before the pause finish their transactions;
    // wait for their outcomes (not a fixed time), after which no more can
    // reach the server: every later one is stopped at the gate.
    let status = wb.wait_for(Duration::from_secs(60), "the outcomes of the messages let through", settled);
    let before_pause = server.received().len();
    println!("messages sent before the pause: {before_pause} (minimum volume {MIN_VOLUME}, 10% bouncing)");
    assert_eq!(before_pause as i64, admitted(&status), "every message counted as sent reached the server");
    assert!(
        (MIN_VOLUME..=MIN_VOLUME + 10).contains(&before_pause),
        "the pause must come once the minimum volume is reached: {before_pause} sent"
    );
    assert!(wb.log().contains("all sending paused"), "logged at error level:\n{}", wb.log());
    let m = metrics(&wb);
    assert_eq!(gauge(&m, "winback_reputation_paused"), 1.0);
    assert!(m.contains("winback_messages_total{outcome=\"sent\"}"), "{m}");

    // A restart keeps the pause: nothing more goes out.
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
    let held = holds(&wb);
    wb.start();
    wait_held(&wb, held);
    assert_eq!(server.received().len(), before_pause, "sent while paused after a restart");
    let status = wb.status();
    assert!(!pause_of(&status).is_null(), "the pause survives the restart");
    // So do the rolling counters behind the rates.
    assert_eq!(admitted(&status), before_pause as i64, "{status:#}");

    // The cause is fixed; `winback resume` goes to the running daemon.
    server.set_script(Script::accept_all());
    let out = wb.ok(&["resume"]);
    assert!(out.contains("sending resumed"), "{out}");
    wait_server(&server, &wb, "every contact's message", |r| r.len() == CONTACTS);
    let status = wb.wait_for(Duration::from_secs(20), "outcomes recorded", |s| {
        s["messages"]["sent"].as_i64().unwrap_or(0) + s["messages"]["failed"].as_i64().unwrap_or(0) == CONTACTS as i64
    });
    assert!(pause_of(&status).is_null(), "{status:#}");
    // Nothing lost, nothing skipped, nothing sent twice.
    let mut per_rcpt: HashMap<String, usize> = HashMap::new();
    for r in server.received() {
        *per_rcpt.entry(r.rcpt).or_default() += 1;
    }
    assert_eq!(per_rcpt.len(), CONTACTS);
    assert!(per_rcpt.values().all(|&n| n == 1), "a contact was mailed twice");
    assert_eq!(status["suppressed"]["hard_bounce"], (before_pause / 10) as i64, "{status:#}");
    assert!(wb.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_downs_cut_a_provider_rate_and_blocks_suspend_a_provider() {
    let script = Script::accept_all()
        .rcpt(When::Recipient(Regex::new(r"@slow\.example$").unwrap()), "451 4.7.1 rate limited, slow down")
        .rcpt(
            When::Recipient(Regex::new(r"@blocked\.example$").unwrap()),
            "550 5.7.1 Service unavailable; client host blocked using Spamhaus",
        );
    let server = ScriptedSmtp::start(script).await.unwrap();
    let keys = r#"
[reputation.adaptive]
decrease_factor = 0.5
decrease_holdoff = "1s"
increase_per_success = "10/s"
min_rate = "1/s"
suspend_after = 3
suspend_within = "10m"
suspend_for = "1h"
"#;
    let mut wb = Winback::new(&config(server.addr().port(), keys));
    let mut emails = Vec::new();
    for d in ["slow", "blocked", "fine"] {
        emails.extend((0..10).map(|i| format!("user{i}@{d}.example")));
    }
    import(&wb, &emails);
    wb.start();

    let status = wb.wait_for(Duration::from_secs(30), "slow.example cut, blocked.example suspended", |s| {
        provider(s, "slow.example")["reduced"] == true && !provider(s, "blocked.example")["suspended_until"].is_null()
    });
    let slow = provider(&status, "slow.example");
    let cut = slow["target_per_second"].as_f64().unwrap();
    println!("slow.example: cut to {cut}/s after deferrals (configured {})", slow["configured_rate"]);
    assert!(cut < 10.0, "{slow:#}");
    let m = metrics(&wb);
    assert_eq!(gauge(&m, "winback_reputation_provider_reduced{provider=\"slow.example\"}"), 1.0, "{m}");
    assert_eq!(gauge(&m, "winback_reputation_provider_suspended{provider=\"blocked.example\"}"), 1.0, "{m}");

    // The other provider is untouched; the blocked one got no more than
    // the blocks that suspended it (plus what was already in flight).
    wait_server(&server, &wb, "fine.example delivered", |r| {
        r.iter().filter(|x| x.rcpt.ends_with("@fine.example") && x.reply == 250).count() == 10
    });
    std::thread::sleep(Duration::from_secs(1));
    let blocked = server.received().iter().filter(|x| x.rcpt.ends_with("@blocked.example")).count();
    println!("blocked.example: suspended after {blocked} refusals");
    assert!((3..=6).contains(&blocked), "{blocked} attempts to a suspended provider");
    assert!(wb.log().contains("postponed"), "{}", wb.log());

    // The provider stops deferring: retries succeed and the rate recovers.
    server.set_script(Script::accept_all().rcpt(
        When::Recipient(Regex::new(r"@blocked\.example$").unwrap()),
        "550 5.7.1 Service unavailable; client host blocked using Spamhaus",
    ));
    wait_server(&server, &wb, "slow.example delivered", |r| {
        r.iter().filter(|x| x.rcpt.ends_with("@slow.example") && x.reply == 250).count() == 10
    });
    let status = wb.wait_for(Duration::from_secs(30), "slow.example recovered", |s| {
        provider(s, "slow.example")["reduced"] == false
    });
    let slow = provider(&status, "slow.example");
    assert_eq!(slow["target_rate"], slow["configured_rate"], "back to the configured rate: {slow:#}");
    assert!(wb.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_up_cap_holds_across_a_restart() {
    let server = ScriptedSmtp::start(Script::accept_all()).await.unwrap();
    let keys = "\n[reputation.warmup]\nenabled = true\nstart = 5\nfactor = 1.5\nmax = 1000\n";
    let mut wb = Winback::new(&config(server.addr().port(), keys));
    let emails: Vec<String> = (0..12).map(|i| format!("user{i}@d{}.example", i % 3)).collect();
    import(&wb, &emails);
    wb.start();
    wait_server(&server, &wb, "the first day's cap", |r| r.len() >= 5);
    wait_held(&wb, 0);
    let status = wb.wait_for(Duration::from_secs(30), "the outcomes of the messages let through", settled);
    assert_eq!(server.received().len(), 5, "the cap is 5 on the first day: {status:#}");

    assert!(wb.stop());
    let held = holds(&wb);
    wb.start();
    wait_held(&wb, held);
    assert_eq!(server.received().len(), 5, "a restart does not reset the warm-up");
    let status = wb.status();
    let scope = status["reputation"]["scopes"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "shop.test"))
        .cloned()
        .unwrap_or_else(|| panic!("no shop.test scope: {status:#}"));
    assert_eq!(scope["warmup"]["cap"], 5, "{scope:#}");
    assert_eq!(scope["warmup"]["sent_today"], 5, "{scope:#}");
    assert_eq!(status["queue_depth"], 7, "the rest wait in order: {status:#}");
    assert!(wb.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocklist_listing_pauses_sending_when_configured() {
    // A real DNS server publishes a blocklist that lists the sending IP.
    let dns = support::dns::DnsServer::start(&[(
        "bl.test",
        "99.2.0.192 A 127.0.0.2\n99.2.0.192 TXT \"listed for testing\"\n",
    )]);
    let server = ScriptedSmtp::start(Script::accept_all()).await.unwrap();
    // Keys of [reputation] first, then the [dns] and [dns_check] tables.
    let keys = format!(
        r#"
[dns]
nameservers = ["{}"]
timeout = "2s"
[dns_check]
sending_ips = ["192.0.2.99"]
dnsbl_ip_zones = ["bl.test"]
pause_on_listing = true
interval = "1h"
"#,
        dns.addr()
    );
    let mut wb = Winback::new(&config(server.addr().port(), &keys));
    import(&wb, &(0..5).map(|i| format!("user{i}@d.example")).collect::<Vec<_>>());
    wb.start();
    let status = wb.wait_for(Duration::from_secs(20), "the listing pause", |s| !pause_of(s).is_null());
    assert_eq!(pause_of(&status)["scope"], "dnsbl", "{status:#}");
    assert!(pause_of(&status)["reason"].as_str().unwrap().contains("192.0.2.99 on bl.test"), "{status:#}");
    wait_held(&wb, 0);
    assert!(server.received().is_empty(), "nothing goes out while listed");
    let m = metrics(&wb);
    assert_eq!(gauge(&m, "winback_reputation_paused"), 1.0);
    assert!(m.contains("winback_dns_check_status"), "the DNS check is exported:\n{m}");

    // The operator decides to send anyway.
    assert!(wb.ok(&["resume"]).contains("sending resumed"));
    wait_server(&server, &wb, "the mail after resume", |r| r.len() == 5);
    assert!(wb.stop());
}
