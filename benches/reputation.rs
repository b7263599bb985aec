//! Prints what the reputation controller costs: time per recorded signal
//! and per gate question, the time of a status snapshot with many
//! providers, and the memory of one key's rolling counters.

use std::hint::black_box;
use std::time::Instant;

use winback::reputation::config::ReputationConfig;
use winback::reputation::{Gate, ProviderKey, ProviderLimits, Reputation, RollingCounters, Signal, SignalKind};

const T0: i64 = 1_750_000_000_000;

fn main() {
    let limits = ProviderLimits { default: "600/min".parse().unwrap(), overrides: Default::default() };
    // Warm-up on, so recording and the gate take their longest path.
    let mut cfg = ReputationConfig::default();
    cfg.warmup.enabled = true;
    let mut rep = Reputation::new(cfg, limits);
    let providers: Vec<ProviderKey> = (0..500).map(|i| ProviderKey::new(&format!("p{i}.example"))).collect();
    let signals: Vec<Signal> = providers
        .iter()
        .flat_map(|p| {
            [SignalKind::Sent, SignalKind::Delivered, SignalKind::Open { human: true }]
                .map(|k| Signal::new("shop.example", Some(p.clone()), k))
        })
        .collect();

    let n = 1_000_000usize;
    let start = Instant::now();
    for i in 0..n {
        // Ten signals per simulated second, spread over 28 hours.
        let now = T0 + (i as i64) * 100;
        black_box(rep.record(now, &signals[i % signals.len()]));
    }
    let per_record = start.elapsed().as_nanos() as f64 / n as f64;
    println!("record: {per_record:.0} ns per signal ({n} signals, 500 providers, policy judged on each)");

    let now = T0 + (n as i64) * 100;
    let start = Instant::now();
    let mut answers = std::collections::BTreeMap::new();
    for i in 0..n {
        let kind = match rep.gate(now, "shop.example", &providers[i % providers.len()]) {
            Gate::Send => "send",
            Gate::Paused { .. } => "paused",
            Gate::Suspended { .. } => "suspended",
            Gate::OverDailyCap { .. } => "over the warm-up cap",
        };
        *answers.entry(kind).or_insert(0) += 1;
    }
    let per_gate = start.elapsed().as_nanos() as f64 / n as f64;
    println!("gate: {per_gate:.0} ns per question (answers: {answers:?})");

    let start = Instant::now();
    let snap = rep.snapshot(now);
    let took = start.elapsed();
    let json = serde_json::to_vec(&snap).unwrap();
    let mut e = winback::metrics::Exposition::new();
    snap.write_metrics(&mut e).unwrap();
    let text = e.render();
    println!(
        "snapshot: {:.1} ms for {} providers; {} KB as JSON; {} KB of metrics ({} lines), {} ms with both",
        took.as_secs_f64() * 1e3,
        snap.providers.len(),
        json.len() / 1024,
        text.len() / 1024,
        text.lines().count(),
        start.elapsed().as_millis()
    );
    println!(
        "memory: {} KB of rolling counters per key (sending domain or provider), whatever the traffic",
        RollingCounters::new().memory_bytes() / 1024
    );
}
