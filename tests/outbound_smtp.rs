//! The SMTP transport against a real SMTP server (Postfix's smtp-sink):
//! a pooled, throttled batch arrives exactly once with its headers, and
//! soft rejects, hard rejects, dropped connections, timeouts and a relay
//! that is down become the right `SendOutcome`.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use support::smtp_sink::{SinkOptions, SmtpSink, free_port};
use winback::config::Config;
use winback::domain::Contact;
use winback::outbound::compose::{Composed, Composer, OutgoingMessage, parse_message_id};
use winback::outbound::templates::Templates;
use winback::outbound::throttle::Throttle;
use winback::outbound::transport::{SendOutcome, Transport};
use winback::token::{Keys, Purpose};

/// A config sending to 127.0.0.1:`port`; `transport_extra` is added to `[transport]`.
fn config(port: u16, transport_extra: &str) -> Config {
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/config/templates");
    let toml = format!(
        r#"
[sender]
from = "Example Shop <hello@shop.example>"
bounce_domain = "bounces.shop.example"
public_base_url = "https://shop.example"
feedback_id = "shop"
helo_name = "mail.shop.example"
[transport]
kind = "smtp"
host = "127.0.0.1"
port = {port}
tls = "none"
timeout = "5s"
{transport_extra}
[limits]
global = "unlimited"
per_domain = "unlimited"
max_connections = 4
[templates]
dir = "{templates}"
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
    Config::from_toml("test.toml", &toml).unwrap()
}

fn keys() -> Keys {
    Keys::from_secret([9; 32])
}

fn composer(cfg: &Config) -> Composer {
    let templates = Arc::new(Templates::load(&cfg.templates_dir, &cfg.sequences).unwrap());
    Composer::new(cfg, keys(), templates).unwrap()
}

fn composed(cfg: &Config, id: u64, email: &str) -> Composed {
    let mut c = Contact::new(email, 0);
    c.name = Some(format!("Contact {id}"));
    composer(cfg)
        .compose(&OutgoingMessage { id, contact: &c, sequence: "winback", step: 0, variant: None }, None)
        .unwrap()
}

/// Sends one message through a fresh transport for `cfg`.
async fn send_one(cfg: &Config) -> SendOutcome {
    let m = composed(cfg, 1, "someone@example.org");
    let t = Transport::from_config(cfg).unwrap();
    let out = t.send(&m.envelope_from, &m.recipient, &m.bytes).await;
    t.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_throttled_batch_arrives_exactly_once_with_headers() {
    let sink = SmtpSink::start(SinkOptions::default());
    let cfg = config(sink.port(), "");
    let transport = Arc::new(Transport::from_config(&cfg).unwrap());
    let throttle = Arc::new(Throttle::new(&cfg.limits));
    let composer = composer(&cfg);
    let messages: Vec<Composed> = (1..=40u64)
        .map(|id| {
            let mut c = Contact::new(format!("user{id}@{}.example", ["a", "b", "c"][id as usize % 3]), 0);
            c.name = Some(format!("User {id}"));
            composer
                .compose(&OutgoingMessage { id, contact: &c, sequence: "winback", step: 0, variant: None }, None)
                .unwrap()
        })
        .collect();

    let tasks: Vec<_> = messages
        .iter()
        .cloned()
        .map(|m| {
            let (transport, throttle) = (Arc::clone(&transport), Arc::clone(&throttle));
            tokio::spawn(async move {
                let domain = m.recipient.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
                let _permit = throttle.acquire(&domain).await;
                transport.send(&m.envelope_from, &m.recipient, &m.bytes).await
            })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            SendOutcome::Sent { reply } => assert!(reply.starts_with("250"), "{reply}"),
            other => panic!("not sent: {other:?}"),
        }
    }
    transport.shutdown().await;

    let received = sink.wait_for(messages.len(), Duration::from_secs(10));
    assert_eq!(received.len(), messages.len(), "every message arrives, none twice");
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    for r in &received {
        let parsed = mail_parser::MessageParser::default().parse(&r.bytes).unwrap();
        let id = parsed.message_id().and_then(parse_message_id).expect("our Message-ID");
        *by_id.entry(id).or_default() += 1;
        let sent = &messages[(id - 1) as usize];
        assert_eq!(r.mail_from, sent.envelope_from);
        assert_eq!(r.rcpt, std::slice::from_ref(&sent.recipient));
        assert_eq!(r.helo.as_deref(), Some("mail.shop.example"));
        let expected: Vec<u8> = String::from_utf8(sent.bytes.clone()).unwrap().replace("\r\n", "\n").into_bytes();
        assert!(r.bytes == expected, "message {id} arrived altered");
        let token = parsed.header_raw("X-Winback-Token").unwrap().trim();
        assert_eq!(keys().verify(Purpose::Message, token).map(|t| t.message), Some(id));
        assert!(parsed.header_raw("List-Unsubscribe").unwrap().contains("https://shop.example/u/"));
        assert_eq!(parsed.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
        assert_eq!(parsed.subject(), Some(format!("We miss you, User {id}").as_str()));
    }
    assert_eq!(by_id.len(), messages.len());
    assert!(by_id.values().all(|&n| n == 1), "{by_id:?}");
    assert_eq!(throttle.available_connections(), 4, "all connection slots returned");
}

#[tokio::test]
async fn soft_reject_is_deferred_with_code_and_enhanced_status() {
    let sink = SmtpSink::start(SinkOptions {
        soft_reject: vec!["RCPT"],
        soft_reply: Some("451 4.7.1 Try again later"),
        ..SinkOptions::default()
    });
    let out = send_one(&config(sink.port(), "")).await;
    assert!(
        matches!(&out, SendOutcome::Deferred { code: Some(451), enhanced: Some(e), text } if e == "4.7.1" && text.contains("Try again later")),
        "{out:?}"
    );
    assert!(sink.messages().is_empty());

    // smtp-sink's default soft reply, on DATA this time.
    let sink = SmtpSink::start(SinkOptions { soft_reject: vec!["DATA"], ..SinkOptions::default() });
    let out = send_one(&config(sink.port(), "")).await;
    assert!(
        matches!(&out, SendOutcome::Deferred { code: Some(450), enhanced: Some(e), .. } if e == "4.3.0"),
        "{out:?}"
    );
}

#[tokio::test]
async fn hard_reject_is_failed_with_code_and_enhanced_status() {
    let sink = SmtpSink::start(SinkOptions {
        hard_reject: vec!["RCPT"],
        hard_reply: Some("550 5.1.1 <someone@example.org>: Recipient address rejected"),
        ..SinkOptions::default()
    });
    let out = send_one(&config(sink.port(), "")).await;
    assert!(
        matches!(&out, SendOutcome::Failed { code: 550, enhanced: Some(e), text } if e == "5.1.1" && text.contains("Recipient address rejected")),
        "{out:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn dropped_connection_and_relay_down_are_deferred() {
    let sink = SmtpSink::start(SinkOptions { disconnect: vec!["DATA"], ..SinkOptions::default() });
    let out = send_one(&config(sink.port(), "")).await;
    assert!(matches!(&out, SendOutcome::Deferred { code: None, .. }), "{out:?}");
    assert!(sink.messages().is_empty());

    let port = free_port();
    let out = send_one(&config(port, "")).await;
    match &out {
        SendOutcome::Deferred { code: None, enhanced: None, text } => {
            assert!(text.contains(&format!("127.0.0.1:{port}")), "names the relay: {text}")
        }
        other => panic!("expected a deferral, got {other:?}"),
    }
}

#[tokio::test]
async fn slow_relay_times_out_as_deferred() {
    let sink = SmtpSink::start(SinkOptions { extra_args: vec!["-w", "3"], ..SinkOptions::default() });
    let mut cfg = config(sink.port(), "");
    cfg.transport.timeout = Duration::from_millis(500);
    let out = send_one(&cfg).await;
    assert!(matches!(&out, SendOutcome::Deferred { code: None, text, .. } if text.contains("timed out")), "{out:?}");
}

#[tokio::test]
async fn auth_is_used_and_its_rejection_defers_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("password");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let auth = format!("username = \"winback\"\npassword_file = \"{}\"", pw.display());

    let sink = SmtpSink::start(SinkOptions::default());
    let out = send_one(&config(sink.port(), &auth)).await;
    assert!(out.is_sent(), "{out:?}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);

    // Wrong credentials concern every recipient: defer, never fail them all.
    let sink = SmtpSink::start(SinkOptions {
        hard_reject: vec!["AUTH"],
        hard_reply: Some("535 5.7.8 Authentication credentials invalid"),
        ..SinkOptions::default()
    });
    let out = send_one(&config(sink.port(), &auth)).await;
    assert!(
        matches!(&out, SendOutcome::Deferred { code: Some(535), enhanced: Some(e), .. } if e == "5.7.8"),
        "{out:?}"
    );
}

#[tokio::test]
async fn sequential_sends_reuse_one_connection() {
    let sink = SmtpSink::start(SinkOptions::default());
    let probe = sink.wait_sessions(1, Duration::from_secs(5));
    let cfg = config(sink.port(), "");
    let t = Transport::from_config(&cfg).unwrap();
    for id in 1..=10 {
        let m = composed(&cfg, id, &format!("u{id}@example.org"));
        let out = t.send(&m.envelope_from, &m.recipient, &m.bytes).await;
        assert!(out.is_sent(), "message {id}: {out:?}");
    }
    t.shutdown().await;
    assert_eq!(sink.wait_for(10, Duration::from_secs(5)).len(), 10);
    assert_eq!(sink.wait_sessions(probe + 1, Duration::from_secs(5)), probe + 1, "one session for ten messages");
    // Nothing else arrives late.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.sessions(), probe + 1);
}
