//! Outbound throughput figures: composition (plain, RSA-2048 DKIM,
//! Ed25519 DKIM), Maildir delivery, and SMTP delivery to a local
//! smtp-sink over pooled connections. Prints messages per second.
//!
//! Run: `cargo bench --bench outbound` (needs /usr/sbin/smtp-sink from the
//! Debian package `postfix` for the SMTP figure).

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use winback::config::Config;
use winback::domain::Contact;
use winback::outbound::compose::{Composed, Composer, OutgoingMessage};
use winback::outbound::templates::Templates;
use winback::outbound::throttle::Throttle;
use winback::outbound::transport::Transport;
use winback::token::Keys;

const N: u64 = 2_000;

fn config(extra: &str) -> Config {
    let root = env!("CARGO_MANIFEST_DIR");
    let toml = format!(
        r#"
[sender]
from = "Example Shop <hello@shop.example>"
bounce_domain = "bounces.shop.example"
public_base_url = "https://shop.example"
[limits]
global = "unlimited"
per_domain = "unlimited"
max_connections = 8
[templates]
dir = "{root}/config/templates"
{extra}
[[sequence]]
name = "winback"
grace = "14d"
  [[sequence.step]]
  after = "0s"
  subject = "We miss you{{% if name %}}, {{{{ name }}}}{{% endif %}}"
  template = "miss-you"
  final = true
"#
    );
    Config::from_toml("bench.toml", &toml).expect("bench config")
}

fn compose_all(cfg: &Config, n: u64) -> (Vec<Composed>, Duration) {
    let templates = Arc::new(Templates::load(&cfg.templates_dir, &cfg.sequences).expect("templates"));
    let composer = Composer::new(cfg, Keys::from_secret([5; 32]), templates).expect("composer");
    let contacts: Vec<Contact> = (0..n)
        .map(|i| {
            let mut c = Contact::new(format!("user{i}@d{}.example", i % 50), 0);
            c.name = Some(format!("User {i}"));
            c
        })
        .collect();
    let start = Instant::now();
    let out = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let msg = OutgoingMessage { id: i as u64, contact: c, sequence: "winback", step: 0, variant: None };
            composer.compose(&msg, None).expect("compose")
        })
        .collect();
    (out, start.elapsed())
}

fn report(what: &str, n: usize, took: Duration) {
    println!("{what:<40} {n:>6} msgs in {:>8.3} s = {:>9.0} msgs/s", took.as_secs_f64(), n as f64 / took.as_secs_f64());
}

async fn deliver(transport: Arc<Transport>, throttle: Arc<Throttle>, msgs: &[Composed]) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = msgs
        .iter()
        .cloned()
        .map(|m| {
            let (t, th) = (Arc::clone(&transport), Arc::clone(&throttle));
            tokio::spawn(async move {
                let domain = m.recipient.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
                let _permit = th.acquire(&domain).await;
                t.send(&m.envelope_from, &m.recipient, &m.bytes).await
            })
        })
        .collect();
    for task in tasks {
        let out = task.await.expect("send task");
        assert!(out.is_sent(), "{out:?}");
    }
    transport.shutdown().await;
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dkim");
    let plain = config("");
    let (msgs, took) = compose_all(&plain, N);
    report("compose (no DKIM)", msgs.len(), took);
    for (name, file) in
        [("compose + DKIM rsa-sha256 (2048)", "rsa-pkcs1.pem"), ("compose + DKIM ed25519", "ed25519.pem")]
    {
        let cfg = config(&format!(
            "[dkim]\ndomain = \"shop.example\"\nselector = \"s\"\nprivate_key_file = \"{keys}/{file}\""
        ));
        let (m, took) = compose_all(&cfg, N);
        report(name, m.len(), took);
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let maildir = Arc::new(Transport::maildir(&dir.path().join("out"), "bench").expect("maildir"));
    let throttle = Arc::new(Throttle::new(&plain.limits));
    let took = deliver(maildir, Arc::clone(&throttle), &msgs).await;
    report("maildir delivery (fsync each)", msgs.len(), took);

    let sink = smtp_sink::SmtpSink::start(smtp_sink::SinkOptions::default());
    let mut cfg = plain.clone();
    cfg.transport.kind = winback::config::TransportKind::Smtp(winback::config::SmtpRelay {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: winback::config::TlsMode::None,
        auth: None,
    });
    let smtp = Arc::new(Transport::from_config(&cfg).expect("smtp transport"));
    let took = deliver(smtp, throttle, &msgs).await;
    report("smtp to smtp-sink, 8 pooled connections", msgs.len(), took);
    let got = sink.wait_for(msgs.len(), Duration::from_secs(30)).len();
    assert_eq!(got, msgs.len(), "sink received every message");
}
