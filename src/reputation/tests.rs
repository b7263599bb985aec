//! Controller tests with simulated time.

use super::*;
use crate::metrics::Exposition;

const T0: Millis = 1_750_000_000_000 - 1_750_000_000_000 % 86_400_000 + 8 * 3_600_000;
const SEC: Millis = 1_000;
const DOMAIN: &str = "shop.example";

fn google() -> ProviderKey {
    ProviderKey::new("google")
}

fn rep(cfg: ReputationConfig) -> Reputation {
    Reputation::new(cfg, ProviderLimits { default: "10/s".parse().unwrap(), overrides: Default::default() })
}

fn sig(kind: SignalKind) -> Signal {
    Signal::new(DOMAIN, Some(google()), kind)
}

/// Sends `n` messages from `t`, one per second: each is sent and then
/// delivered, or hard-bounced when `bounce(i)`. Returns the changes.
fn traffic(r: &mut Reputation, t: Millis, n: u32, bounce: impl Fn(u32) -> bool) -> Vec<Change> {
    let mut out = vec![];
    for i in 0..n {
        let now = t + Millis::from(i) * SEC;
        out.extend(r.record(now, &sig(SignalKind::Sent)));
        let outcome =
            if bounce(i) { SignalKind::HardBounce { reason: Reason::BadMailbox } } else { SignalKind::Delivered };
        out.extend(r.record(now, &sig(outcome)));
    }
    out
}

fn paused(ch: &[Change]) -> Option<&Pause> {
    ch.iter().find_map(|c| match c {
        Change::Paused(p) => Some(p),
        _ => None,
    })
}

#[test]
fn bounces_pause_only_past_the_minimum_volume_and_the_pause_survives_restart() {
    let mut r = rep(ReputationConfig::default());
    // 10 % bounces, but only 150 messages: no verdict yet.
    let ch = traffic(&mut r, T0, 150, |i| i % 10 == 0);
    assert!(paused(&ch).is_none());
    assert_eq!(r.gate(T0 + 200 * SEC, DOMAIN, &google()), Gate::Send);
    // The 200th message brings the volume; 20 bounces of 200 is 10 %.
    let ch = traffic(&mut r, T0 + 150 * SEC, 50, |i| i % 10 == 0);
    let p = paused(&ch).expect("paused").clone();
    assert_eq!(p.since, T0 + 199 * SEC);
    assert!(p.reason.contains("hard-bounce rate 10.00% reached the pause threshold 5.00%"), "{}", p.reason);
    assert!(r.take_dirty());
    let now = T0 + 300 * SEC;
    assert!(matches!(r.gate(now, DOMAIN, &google()), Gate::Paused { .. }));
    assert!(!r.may_send(now, "other.example", &ProviderKey::new("yahoo")), "a pause stops all sending");

    // Restart: the state goes through bytes and a new controller.
    let bytes = r.state().to_bytes();
    let mut r = Reputation::restore(
        ReputationConfig::default(),
        ProviderLimits { default: "10/s".parse().unwrap(), overrides: Default::default() },
        ReputationState::from_bytes(&bytes).unwrap(),
    );
    assert_eq!(
        r.gate(now + 86_400 * SEC, DOMAIN, &google()),
        Gate::Paused { reason: p.reason.clone(), since: p.since }
    );
    assert_eq!(r.snapshot(now).pause, Some(p.clone()));
    // Resume: old signals no longer count, so it does not pause again at once.
    let lifted = r.resume(now);
    assert_eq!(lifted, Some(p));
    assert_eq!(r.gate(now, DOMAIN, &google()), Gate::Send);
    let ch = traffic(&mut r, now, 199, |i| i % 10 == 0);
    assert!(paused(&ch).is_none(), "199 new messages are below the minimum volume");
    let ch = traffic(&mut r, now + 199 * SEC, 1, |_| true);
    assert!(paused(&ch).is_some(), "the list is still bad");
}

#[test]
fn complaints_pause_and_warnings_are_reported_once() {
    let mut r = rep(ReputationConfig::default());
    let mut ch = traffic(&mut r, T0, 1_000, |_| false);
    ch.extend(r.record(T0 + 1_000 * SEC, &sig(SignalKind::Complaint)));
    let warned: Vec<_> = ch.iter().filter(|c| matches!(c, Change::Warned { .. })).collect();
    assert_eq!(warned.len(), 2, "the domain and the total each warn once: {warned:?}");
    let ch = r.record(T0 + 1_001 * SEC, &sig(SignalKind::Complaint));
    assert!(ch.is_empty(), "no repeat while the level stays: {ch:?}");
    assert_eq!(r.assess(T0 + 1_001 * SEC, DOMAIN).level, Level::Warn);
    let ch = r.record(T0 + 1_002 * SEC, &sig(SignalKind::Complaint));
    let p = paused(&ch).expect("3 complaints per 1000 deliveries pause");
    assert_eq!(p.breaches[0].metric, Metric::Complaint);
    assert_eq!(p.scope, DOMAIN);
}

#[test]
fn a_cool_down_lifts_the_pause_by_itself() {
    let cfg = ReputationConfig { cool_down: Some(3_600 * SEC), ..Default::default() };
    let mut r = rep(cfg);
    let ch = traffic(&mut r, T0, 200, |i| i % 5 == 0);
    let p = paused(&ch).expect("paused").clone();
    assert_eq!(p.until, Some(p.since + 3_600 * SEC));
    assert!(r.tick(p.since + 3_599 * SEC).is_empty());
    assert!(!r.may_send(p.since + 3_599 * SEC, DOMAIN, &google()));
    // The gate already opens at the end; tick records it.
    assert!(r.may_send(p.since + 3_600 * SEC, DOMAIN, &google()));
    assert_eq!(r.tick(p.since + 3_600 * SEC), vec![Change::Resumed { automatic: true }]);
    assert!(r.state().pause.is_none());
}

#[test]
fn deferrals_cut_the_provider_rate_and_deliveries_restore_it() {
    let mut cfg = ReputationConfig::default();
    cfg.adaptive.increase_per_success = 0.1;
    let mut r = rep(cfg);
    let yahoo = ProviderKey::new("yahoo");
    traffic(&mut r, T0, 20, |_| false);
    let ch = r.record(T0 + 30 * SEC, &sig(SignalKind::Deferred { code: 421, reason: Reason::RateLimited }));
    assert_eq!(ch, vec![Change::ProviderRate { provider: google(), rate: "5/s".parse().unwrap() }]);
    assert_eq!(r.target_rate(&google()).to_string(), "5/s");
    assert_eq!(r.target_rate(&yahoo).to_string(), "10/s", "other providers keep their rate");
    assert_eq!(r.reduced_rates().len(), 1);
    // Reduced, not suspended: sending goes on.
    assert_eq!(r.gate(T0 + 31 * SEC, DOMAIN, &google()), Gate::Send);
    let ch = traffic(&mut r, T0 + 40 * SEC, 60, |_| false);
    assert_eq!(ch.last(), Some(&Change::ProviderRate { provider: google(), rate: "10/s".parse().unwrap() }));
    assert_eq!(r.target_rate(&google()).to_string(), "10/s");
    assert!(r.reduced_rates().is_empty());
}

#[test]
fn blocks_suspend_one_provider() {
    let mut r = rep(ReputationConfig::default());
    let block = SignalKind::HardBounce { reason: Reason::Blocked };
    let mut ch = vec![];
    for i in 0..5 {
        ch.extend(r.record(T0 + i * SEC, &sig(block)));
    }
    let until = T0 + 4 * SEC + 3_600 * SEC;
    assert!(ch.contains(&Change::ProviderSuspended { provider: google(), until }), "{ch:?}");
    assert_eq!(r.gate(T0 + 10 * SEC, DOMAIN, &google()), Gate::Suspended { until });
    assert_eq!(r.gate(T0 + 10 * SEC, DOMAIN, &ProviderKey::new("yahoo")), Gate::Send);
    // Durable across a restart.
    let state = ReputationState::from_bytes(&r.state().to_bytes()).unwrap();
    let mut r = Reputation::restore(ReputationConfig::default(), r.limits.clone(), state);
    assert_eq!(r.gate(until - 1, DOMAIN, &google()), Gate::Suspended { until });
    assert_eq!(r.gate(until, DOMAIN, &google()), Gate::Send);
    assert_eq!(r.tick(until), vec![Change::ProviderResumed { provider: google() }]);
    assert_eq!(r.target_rate(&google()).to_string(), "5/s", "back at a cut rate");
}

#[test]
fn warmup_caps_daily_volume_and_survives_restart() {
    let mut cfg = ReputationConfig::default();
    cfg.warmup.enabled = true;
    let mut r = rep(cfg.clone());
    let mut sent_per_day = vec![];
    let mut state: Option<Vec<u8>> = None;
    for day in 0..4 {
        if let Some(s) = state.take() {
            // Restart every day, in the middle of the warm-up.
            r = Reputation::restore(cfg.clone(), r.limits.clone(), ReputationState::from_bytes(&s).unwrap());
        }
        let start = T0 + day * 86_400 * SEC;
        let mut n = 0;
        let mut t = start;
        loop {
            match r.gate(t, DOMAIN, &google()) {
                Gate::Send => {}
                Gate::OverDailyCap { until } => {
                    assert_eq!(until, start - 8 * 3_600 * SEC + 86_400 * SEC, "next UTC midnight");
                    break;
                }
                g => panic!("{g:?}"),
            }
            traffic(&mut r, t, 1, |_| false);
            n += 1;
            t += SEC;
        }
        sent_per_day.push(n);
        state = Some(r.state().to_bytes());
    }
    assert_eq!(sent_per_day, vec![50, 75, 113, 169]);
    let s = r.snapshot(T0 + 3 * 86_400 * SEC);
    let w = s.scopes.iter().find(|s| s.name == DOMAIN).and_then(|s| s.warmup.clone()).unwrap();
    assert_eq!((w.cap, w.sent_today, w.clean_days), (169, 169, 3));
}

#[test]
fn a_warning_holds_the_warmup() {
    let mut cfg = ReputationConfig::default();
    cfg.warmup.enabled = true;
    cfg.warmup.start = 400;
    let mut r = rep(cfg);
    // 3 % bounces over 400 messages: a warning, not a pause.
    let ch = traffic(&mut r, T0, 400, |i| i % 33 == 0);
    assert!(ch.iter().any(|c| matches!(c, Change::Warned { .. })));
    assert!(paused(&ch).is_none());
    let ch = r.tick(T0 + 86_400 * SEC);
    assert_eq!(ch, vec![Change::Warmup { domain: DOMAIN.into(), step: warmup::WarmupStep::Held(400) }]);
}

#[test]
fn providers_beyond_the_cap_share_one_key() {
    let cfg = ReputationConfig { max_providers: 2, ..Default::default() };
    let mut r = rep(cfg);
    for name in ["a.example", "b.example", "c.example", "d.example"] {
        r.record(T0, &Signal::new(DOMAIN, Some(ProviderKey::new(name)), SignalKind::Sent));
    }
    let s = r.snapshot(T0);
    let names: Vec<_> = s.providers.iter().map(|p| p.name.as_str().to_string()).collect();
    assert_eq!(names, vec!["a.example", "b.example", "other"]);
    assert_eq!(s.providers[2].windows[0].counts.sent, 2);
    // Forgotten after 30 idle days.
    r.tick(T0 + 31 * 86_400 * SEC);
    assert!(r.snapshot(T0 + 31 * 86_400 * SEC).providers.is_empty());
}

#[test]
fn snapshot_serializes_renders_and_exports_metrics() {
    let mut r = rep(ReputationConfig::default());
    traffic(&mut r, T0, 400, |i| i % 40 == 0);
    r.record(T0 + 401 * SEC, &sig(SignalKind::Open { human: true }));
    r.record(T0 + 402 * SEC, &sig(SignalKind::Deferred { code: 421, reason: Reason::RateLimited }));
    let now = T0 + 500 * SEC;
    let s = r.snapshot(now);
    assert_eq!(s.level, Level::Warn);
    let json = serde_json::to_string(&s).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["thresholds"]["hard_bounce"]["pause"], 0.05);
    assert_eq!(v["scopes"][0]["name"], "all");
    assert_eq!(v["scopes"][0]["windows"][1]["window"], "24h");
    assert_eq!(v["scopes"][0]["windows"][1]["rates"]["hard_bounce"], 0.025);
    assert_eq!(v["providers"][0]["target_rate"], "5/s");

    let text = s.render_text();
    assert!(text.starts_with("reputation: WARN\n"), "{text}");
    assert!(text.contains("hard bounces warn 2.00% pause 5.00%; complaints warn 0.10% pause 0.30%"), "{text}");
    assert!(text.contains("warn: hard-bounce rate 2.50% reached the warn threshold 2.00%"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("google") && l.contains("5/s") && l.contains("10/s")), "{text}");

    let mut e = Exposition::new();
    s.write_metrics(&mut e).unwrap();
    let m = e.render();
    for line in [
        "winback_reputation_paused 0",
        "winback_reputation_level{domain=\"shop.example\"} 1",
        "winback_reputation_threshold{metric=\"complaint\",level=\"pause\"} 0.003",
        "winback_reputation_events{domain=\"all\",window=\"24h\",event=\"sent\"} 400",
        "winback_reputation_rate{domain=\"all\",window=\"24h\",metric=\"hard_bounce\"} 0.025",
        "winback_reputation_provider_rate_per_second{provider=\"google\"} 5",
        "winback_reputation_provider_reduced{provider=\"google\"} 1",
        "# TYPE winback_reputation_rate gauge",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line}\n{m}");
    }
    // All traffic fell within the last hour, so that window has the rate too.
    assert!(m.contains("window=\"1h\",metric=\"hard_bounce\"} 0.025"));
}

#[test]
fn a_reconfigured_threshold_applies_to_what_was_already_counted() {
    let mut r = rep(ReputationConfig::default());
    // 10 % bounces over 150 messages: below the default minimum volume.
    assert!(paused(&traffic(&mut r, T0, 150, |i| i % 10 == 0)).is_none());
    let mut cfg = ReputationConfig::default();
    cfg.thresholds.min_volume = 100;
    r.reconfigure(cfg, ProviderLimits { default: "20/s".parse().unwrap(), overrides: Default::default() });
    assert_eq!(r.config().thresholds.min_volume, 100);
    assert_eq!(r.target_rate(&google()), "20/s".parse().unwrap(), "the new configured rate");
    let ch = traffic(&mut r, T0 + 150 * SEC, 1, |_| false);
    assert!(paused(&ch).is_some(), "the 150 counted before the reload reach the new minimum volume: {ch:?}");
}
