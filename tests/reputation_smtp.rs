//! The reputation controller driven by real SMTP exchanges: lettre's async
//! SMTP client sends to scripted servers on loopback addresses, each reply
//! becomes a signal, and the controller's gate and target rates decide
//! what is sent next. Time on the controller's side is simulated: each
//! message goes out one interval of its provider's target rate after the
//! previous one, as the throttle would pace it.

mod support;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use regex::Regex;
use winback::clock::Millis;
use winback::config::units::Rate;
use winback::reputation::config::ReputationConfig;
use winback::reputation::{Change, Gate, ProviderKey, ProviderLimits, Reputation, ReputationState, Signal, SignalKind};

use support::scripted_smtp::{Script, ScriptedSmtp, When};

const DOMAIN: &str = "shop.example";
const T0: Millis = 1_750_000_000_000;

/// One provider: its key and a client connected to its scripted server.
struct Provider {
    key: ProviderKey,
    client: AsyncSmtpTransport<Tokio1Executor>,
}

impl Provider {
    fn new(name: &str, server: &ScriptedSmtp) -> Self {
        let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.addr().ip().to_string())
            .port(server.addr().port())
            .timeout(Some(Duration::from_secs(5)))
            .build();
        Provider { key: ProviderKey::new(name), client }
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq)]
enum Attempt {
    Done(SignalKind),
    Held(Gate),
}

/// The controller plus simulated pacing.
struct Driver {
    rep: Reputation,
    now: Millis,
    next_free: HashMap<ProviderKey, Millis>,
    sent_once: std::collections::HashSet<String>,
    changes: Vec<(Millis, Change)>,
}

impl Driver {
    fn new(cfg: ReputationConfig, state: ReputationState, now: Millis) -> Self {
        let limits = ProviderLimits { default: "10/s".parse().unwrap(), overrides: Default::default() };
        Driver {
            rep: Reputation::restore(cfg, limits, state),
            now,
            next_free: HashMap::new(),
            sent_once: Default::default(),
            changes: vec![],
        }
    }

    fn record(&mut self, p: &ProviderKey, kind: SignalKind) {
        for c in self.rep.record(self.now, &Signal::new(DOMAIN, Some(p.clone()), kind)) {
            self.changes.push((self.now, c));
        }
    }

    /// One attempt to `rcpt` through provider `p`, when the gate allows.
    async fn attempt(&mut self, p: &Provider, rcpt: &str) -> Attempt {
        let at = self.now.max(self.next_free.get(&p.key).copied().unwrap_or(self.now));
        let gate = self.rep.gate(at, DOMAIN, &p.key);
        if gate != Gate::Send {
            return Attempt::Held(gate);
        }
        self.now = at;
        let interval = self.rep.target_rate(&p.key).interval().unwrap_or_default();
        self.next_free.insert(p.key.clone(), at + interval.as_millis() as Millis);
        if self.sent_once.insert(rcpt.to_string()) {
            self.record(&p.key, SignalKind::Sent);
        }
        let msg = Message::builder()
            .from(format!("news@{DOMAIN}").parse().unwrap())
            .to(rcpt.parse().unwrap())
            .subject("We miss you")
            .body(format!("Hello {rcpt}\r\n"))
            .unwrap();
        let kind = match p.client.send(msg).await {
            Ok(r) => SignalKind::from_reply(u16::from(r.code()), &r.message().collect::<Vec<_>>().join(" ")),
            Err(e) => SignalKind::from_reply(e.status().map_or(0, u16::from), &e.to_string()),
        };
        self.record(&p.key, kind);
        Attempt::Done(kind)
    }

    /// Sends every queued recipient through `p`, retrying deferrals at the
    /// back of the queue; stops at the first held gate. Returns the attempts.
    async fn drain(&mut self, p: &Provider, queue: &mut VecDeque<String>) -> Vec<(String, Attempt)> {
        let mut out = vec![];
        while let Some(rcpt) = queue.pop_front() {
            let a = self.attempt(p, &rcpt).await;
            match &a {
                Attempt::Done(SignalKind::Deferred { .. }) => queue.push_back(rcpt.clone()),
                Attempt::Held(_) => {
                    queue.push_front(rcpt.clone());
                    out.push((rcpt, a));
                    break;
                }
                _ => {}
            }
            out.push((rcpt, a));
        }
        out
    }

    fn rate_changes(&self, p: &ProviderKey) -> Vec<(Millis, Rate)> {
        self.changes
            .iter()
            .filter_map(|(t, c)| match c {
                Change::ProviderRate { provider, rate } if provider == p => Some((*t, *rate)),
                _ => None,
            })
            .collect()
    }
}

fn recipients(prefix: &str, n: usize) -> VecDeque<String> {
    (0..n).map(|i| format!("{prefix}{i}@mail.example")).collect()
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test]
async fn slow_down_deferrals_cut_the_rate_and_deliveries_restore_it() {
    // Two bursts of "slow down": the first cuts 10/s to 5/s; the second,
    // during the recovery, cuts again. Deliveries bring the rate back.
    let script = Script::accept_all()
        .rcpt(When::Messages(30..34), "421 4.7.0 Try again later, rate limited")
        .rcpt(When::Messages(60..63), "451 4.7.28 Unusual rate of mail, slow down");
    let server = ScriptedSmtp::start(script).await.unwrap();
    let p = Provider::new("google", &server);
    let mut cfg = ReputationConfig::default();
    cfg.adaptive.increase_per_success = 0.1; // 6/min per delivery: recovery within ~50 deliveries
    cfg.adaptive.decrease_holdoff = 2_000; // one cut per burst, and the two bursts are 4 s apart
    let mut d = Driver::new(cfg, ReputationState::default(), T0);

    let mut queue = recipients("user", 200);
    let attempts = d.drain(&p, &mut queue).await;
    assert!(queue.is_empty());
    let deferred = attempts.iter().filter(|(_, a)| matches!(a, Attempt::Done(SignalKind::Deferred { .. }))).count();
    assert_eq!(deferred, 7);
    // Nothing lost: every recipient was delivered exactly once.
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 200);
    let mut rcpts: Vec<_> = accepted.iter().map(|r| r.rcpt.clone()).collect();
    rcpts.sort();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 200);

    let changes = d.rate_changes(&p.key);
    println!("rate changes for google (simulated seconds since start → target rate):");
    for (t, r) in &changes {
        println!("  {:>7.2}s  {r}", (t - T0) as f64 / 1000.0);
    }
    let per_s: Vec<f64> = changes.iter().map(|(_, r)| r.per_second()).collect();
    assert_eq!(per_s.first(), Some(&5.0), "the first burst halves 10/s");
    let second_cut = per_s.windows(2).position(|w| w[1] < w[0]).expect("a second cut");
    assert!(per_s[second_cut] > 5.0 && per_s[second_cut] < 10.0, "recovering when the second burst came");
    assert!((per_s[second_cut + 1] - per_s[second_cut] / 2.0).abs() < 0.05);
    assert_eq!(changes.last().map(|(_, r)| *r), Some("10/s".parse().unwrap()), "fully recovered");
    assert_eq!(d.rep.target_rate(&p.key).to_string(), "10/s");
    // Pacing followed the rate: 200 messages and 7 retries at 10/s would take 20.6 s.
    let elapsed = (d.now - T0) as f64 / 1000.0;
    println!("simulated sending time: {elapsed:.1}s for 207 attempts (20.6s at a constant 10/s)");
    assert!(elapsed > 22.0, "{elapsed}");
}

#[tokio::test]
async fn a_burst_of_blocks_suspends_one_provider_while_others_go_on() {
    let blocking = ScriptedSmtp::start_on(
        loopback(2),
        Script::accept_all().rcpt(When::Messages(10..15), "550 5.7.1 Service unavailable, client host blocked"),
    )
    .await
    .unwrap();
    let fine = ScriptedSmtp::start_on(loopback(3), Script::accept_all()).await.unwrap();
    let g = Provider::new("google", &blocking);
    let y = Provider::new("yahoo", &fine);
    let cfg = ReputationConfig::default(); // 5 blocks within 10 minutes → 1 hour
    let mut d = Driver::new(cfg.clone(), ReputationState::default(), T0);

    let mut gq = recipients("g", 40);
    let mut yq = recipients("y", 40);
    let mut held = None;
    while !(gq.is_empty() && yq.is_empty()) {
        if held.is_none()
            && let Some(rcpt) = gq.pop_front()
        {
            match d.attempt(&g, &rcpt).await {
                Attempt::Held(gate) => {
                    gq.push_front(rcpt);
                    held = Some(gate);
                }
                Attempt::Done(SignalKind::Deferred { .. }) => gq.push_back(rcpt),
                Attempt::Done(_) => {}
            }
        }
        if let Some(rcpt) = yq.pop_front() {
            assert!(matches!(d.attempt(&y, &rcpt).await, Attempt::Done(SignalKind::Delivered)));
        }
        if held.is_some() && yq.is_empty() {
            break;
        }
    }
    let Some(Gate::Suspended { until }) = held else { panic!("google was not suspended: {held:?}") };
    println!(
        "google suspended after {} messages ({} blocks) for {:.0}s; yahoo delivered {}",
        blocking.received().len(),
        blocking.received().iter().filter(|r| r.reply == 550).count(),
        (until - blocked_at(&d)) as f64 / 1000.0,
        fine.accepted().len()
    );
    assert_eq!(blocking.received().len(), 15, "10 accepted, then 5 blocks, then nothing");
    assert_eq!(fine.accepted().len(), 40, "the other provider is not affected");
    assert_eq!(until, blocked_at(&d) + 3_600_000);
    assert_eq!(gq.len(), 25, "the suspended provider's messages wait, none skipped");

    // Restart during the suspension: it holds.
    let state = ReputationState::from_bytes(&d.rep.state().to_bytes()).unwrap();
    let mut d2 = Driver::new(cfg, state, d.now);
    assert_eq!(d2.attempt(&g, "late@mail.example").await, Attempt::Held(Gate::Suspended { until }));
    // After the suspension the queue drains, at a cut rate.
    d2.now = until;
    d2.rep.tick(until);
    assert_eq!(d2.rep.target_rate(&g.key).to_string(), "5/s");
    let attempts = d2.drain(&g, &mut gq).await;
    assert!(attempts.iter().all(|(_, a)| *a == Attempt::Done(SignalKind::Delivered)), "{attempts:?}");
    assert_eq!(blocking.accepted().len(), 35);
}

/// The time of the suspension, from the recorded changes.
fn blocked_at(d: &Driver) -> Millis {
    d.changes.iter().find_map(|(t, c)| matches!(c, Change::ProviderSuspended { .. }).then_some(*t)).unwrap_or(0)
}

#[tokio::test]
async fn the_bounce_rate_pauses_all_sending_until_resumed() {
    // An old list: unknown users answer 550 5.1.1. The first 300 addresses
    // bounce 1 in 50 (2 %), the rest 1 in 5 (20 %).
    let server = ScriptedSmtp::start(
        Script::accept_all().rcpt(When::Recipient(Regex::new("^bad").unwrap()), "550 5.1.1 <x>: user unknown"),
    )
    .await
    .unwrap();
    let p = Provider::new("example.net", &server);
    let bad = |i: usize| if i < 300 { i % 50 == 49 } else { i % 5 == 4 };
    let mut queue: VecDeque<String> =
        (0..1_000).map(|i| format!("{}{i}@old.example", if bad(i) { "bad" } else { "ok" })).collect();
    // Expected from the list alone: the first message at which, with at
    // least 200 sent, 5 % or more have bounced.
    let mut bounced = 0;
    let expected = (0..1_000)
        .find(|&i| {
            bounced += usize::from(bad(i));
            let sent = i + 1;
            sent >= 200 && bounced * 20 >= sent
        })
        .map(|i| i + 1)
        .unwrap();

    let cfg = ReputationConfig::default();
    let mut d = Driver::new(cfg.clone(), ReputationState::default(), T0);
    let attempts = d.drain(&p, &mut queue).await;
    let sent = attempts.iter().filter(|(_, a)| matches!(a, Attempt::Done(_))).count();
    let Some((_, Attempt::Held(Gate::Paused { reason, .. }))) = attempts.last() else {
        panic!("not paused: {:?}", attempts.last())
    };
    println!(
        "messages sent before the pause: {sent} (bounced {})",
        server.received().iter().filter(|r| r.reply == 550).count()
    );
    println!("pause reason: {reason}");
    assert_eq!(sent, expected);
    assert_eq!(server.received().len(), sent, "nothing reached the server after the pause");
    assert!(reason.contains("hard-bounce rate"), "{reason}");
    assert_eq!(queue.len(), 1_000 - sent, "the rest waits in order");

    // A restart keeps the pause.
    let state = ReputationState::from_bytes(&d.rep.state().to_bytes()).unwrap();
    let mut d = Driver::new(cfg, state, d.now + 86_400_000);
    assert!(matches!(d.attempt(&p, "ok-after-restart@old.example").await, Attempt::Held(Gate::Paused { .. })));
    assert_eq!(server.received().len(), sent);
    let snapshot = d.rep.snapshot(d.now);
    assert!(snapshot.render_text().starts_with("reputation: PAUSED"), "{}", snapshot.render_text());

    // `winback resume`: sending goes on from where it stopped.
    assert!(d.rep.resume(d.now).is_some());
    let next = queue.front().cloned().unwrap();
    assert!(matches!(d.attempt(&p, &next).await, Attempt::Done(_)));
    assert_eq!(server.received().last().map(|r| r.rcpt.clone()), Some(next));
}
