//! Prints the render time of the dashboard's pages over 1,000,000
//! contacts and 90 days of history.
//!
//! The inputs are built directly at that scale, not through a store of a
//! million contacts (importing and mailing them would take minutes): the
//! messages, events and reactivations of 1,000,000 contacts who entered a
//! sequence with a 20% control group and two variants over 90 days; the
//! report from them by `report::compute` (what `winback report --json`
//! runs; timed and printed too, since the dashboard reuses it for
//! `[dashboard] refresh`); the daily rollups written into a real store and
//! read back for 90 days (timed); reputation counters of 12 providers
//! over 30 days. Then each page is rendered 30 times: the median and the
//! worst are printed. The target for the main page is 100 ms; nothing is
//! asserted on time.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use winback::config::Config;
use winback::dashboard::pages::{self, Page};
use winback::dashboard::view::Inputs;
use winback::domain::{Event, Origin};
use winback::reputation::config::ReputationConfig;
use winback::reputation::{ProviderKey, ProviderLimits, Reputation, Signal, SignalKind};
use winback::store::rollup::{self, DAY_MS};
use winback::store::{Counts, MessageRecord, MessageState, Reactivation, Store};

const CONTACTS: u64 = 1_000_000;
const DAYS: i64 = 90;
const TODAY: i64 = 20_400;

fn config() -> Config {
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/config/templates");
    let toml = format!(
        r#"
state_dir = "/tmp/winback-bench-dashboard"
[sender]
from = "Shop <hello@shop.test>"
bounce_domain = "bounces.shop.test"
public_base_url = "https://shop.test"
[templates]
dir = "{templates}"
[report]
cost_per_message = "0.002"
[[sequence]]
name = "wb"
grace = "14d"
holdout = "20%"
[[sequence.step]]
after = "0s"
subject = "We miss you"
template = "miss-you"
offer_cost = "10%"
[[sequence.step.variant]]
name = "a"
[[sequence.step.variant]]
name = "b"
subject = "Something new"
[[sequence.step]]
after = "7d"
subject = "Last chance"
template = "miss-you"
final = true
"#
    );
    Config::from_toml("bench", &toml).unwrap_or_else(|e| panic!("{e}"))
}

/// A cheap deterministic spread.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 7
}

struct Data {
    counts: Counts,
    messages: Vec<MessageRecord>,
    events: Vec<Event>,
    reactivations: Vec<Reactivation>,
}

fn generate() -> Data {
    let first_day = TODAY - DAYS + 1;
    let (mut messages, mut events, mut reactivations) = (Vec::new(), Vec::new(), Vec::new());
    let (mut mailed, mut control) = (0i64, 0i64);
    let mut id = 0;
    for c in 0..CONTACTS {
        let h = mix(c);
        let email = format!("c{c}@p{}.example", h % 12);
        let day = first_day + (h >> 8) as i64 % DAYS;
        let at = day * DAY_MS + (h % 80_000_000) as i64;
        if h.is_multiple_of(5) {
            control += 1;
            if (h >> 16).is_multiple_of(50) {
                reactivations.push(Reactivation { email, sequence: "wb".into(), after_step: 0, at, control: true });
            }
            continue;
        }
        mailed += 1;
        let steps = if (h >> 20).is_multiple_of(3) { 2 } else { 1 };
        let mut first_id = 0;
        for step in 0..steps {
            id += 1;
            first_id = if step == 0 { id } else { first_id };
            let sent = at + i64::from(step) * 7 * DAY_MS;
            messages.push(MessageRecord {
                id,
                email: email.clone(),
                sequence: "wb".into(),
                step,
                created_at: sent,
                state: MessageState::Sent,
                attempts: 1,
                first_attempt_at: Some(sent),
                sent_at: Some(sent),
                message_id: None,
                last_reply: None,
                links: vec![],
                variant: Some(if (h >> 24).is_multiple_of(2) { "a" } else { "b" }.into()),
            });
        }
        let mut ev = |kind: &str, origin: Origin, dt: i64, value: Option<f64>| {
            let mut e = Event::new(email.clone(), kind, at + dt);
            e.origin = origin;
            e.value = value;
            e.message = Some(first_id);
            events.push(e);
        };
        if (h >> 30) % 10 < 3 {
            ev("open", if (h >> 34).is_multiple_of(3) { Origin::Machine } else { Origin::Human }, 60_000, None);
        }
        if (h >> 36).is_multiple_of(20) {
            ev("click", Origin::Human, 120_000, None);
        }
        if (h >> 40).is_multiple_of(25) {
            ev("purchase", Origin::Human, 3_600_000, Some(20.0 + ((h >> 44) % 80) as f64));
            reactivations.push(Reactivation {
                email: email.clone(),
                sequence: "wb".into(),
                after_step: 1,
                at: at + 3_600_000,
                control: false,
            });
        }
    }
    let mut counts = Counts::default();
    counts.0.insert("kpi:entered:wb".into(), mailed);
    counts.0.insert("kpi:control:entered:wb".into(), control);
    counts.0.insert("kpi:sunset:wb".into(), mailed / 3);
    counts.0.insert("kpi:control:finished:wb".into(), control / 2);
    counts.0.insert("suppressed:unengaged".into(), mailed / 3);
    counts.0.insert("events:open:machine".into(), 1);
    Data { counts, messages, events, reactivations }
}

/// The figures the store's rollups would hold for `d`, written into a
/// real store, then the 90 days read back as the dashboard does.
fn rollups(d: &Data) -> (rollup::Rollups, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    store
        .write(|w| {
            for m in &d.messages {
                w.roll(m.sent_at.unwrap_or(m.created_at), rollup::SENT, 1.0);
            }
            for e in &d.events {
                w.roll(e.at, &rollup::event_key(&e.kind, e.origin), 1.0);
                if let Some(v) = e.value {
                    w.roll(e.at, rollup::PURCHASE_VALUE, v);
                    w.roll(e.at, rollup::REVENUE, v);
                }
            }
            for r in &d.reactivations {
                w.roll(r.at, if r.control { rollup::REACTIVATED_CONTROL } else { rollup::REACTIVATED }, 1.0);
            }
            for day in TODAY - DAYS + 1..=TODAY {
                for (i, reason) in ["unengaged", "hard_bounce", "complaint", "unsubscribed"].iter().enumerate() {
                    w.roll(day * DAY_MS, &format!("suppressed:{reason}"), ((day + i as i64) % 7) as f64 * 40.0);
                }
            }
            Ok(())
        })
        .expect("write rollups");
    let start = Instant::now();
    let r = store.read().expect("read").rollups(TODAY - DAYS + 1, TODAY).expect("rollups");
    (r, start.elapsed())
}

fn reputation() -> Reputation {
    let limits = ProviderLimits { default: "600/min".parse().unwrap(), overrides: Default::default() };
    let mut rep = Reputation::new(ReputationConfig::default(), limits);
    let now = TODAY * DAY_MS + 40_000_000;
    for p in 0..12u64 {
        let key = ProviderKey::new(&format!("provider{p}"));
        for day in 0..30i64 {
            let t = now - day * DAY_MS;
            for i in 0..200u64 {
                let kind = match mix(p * 10_000 + day as u64 * 200 + i) % 400 {
                    0..=3 => SignalKind::HardBounce { reason: winback::reputation::signal::Reason::BadMailbox },
                    4 => SignalKind::Complaint,
                    5..=12 => {
                        SignalKind::Deferred { code: 421, reason: winback::reputation::signal::Reason::RateLimited }
                    }
                    _ => SignalKind::Delivered,
                };
                rep.record(t, &Signal::new("shop.test", Some(key.clone()), SignalKind::Sent));
                rep.record(t, &Signal::new("shop.test", Some(key.clone()), kind));
            }
        }
    }
    rep
}

fn main() {
    let cfg = config();
    let t = Instant::now();
    let data = generate();
    println!(
        "inputs: {CONTACTS} contacts, {} messages, {} events, {} reactivations over {DAYS} days (built in {:.1} s)",
        data.messages.len(),
        data.events.len(),
        data.reactivations.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let report =
        winback::report::compute(&cfg, &data.counts, &data.messages, &data.events, &data.reactivations, TODAY * DAY_MS);
    println!(
        "report::compute (what `winback report --json` and the dashboard's refresh run): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let (rollups, read) = rollups(&data);
    println!("rollups: {} days read from the store in {:.2} ms", rollups.len(), read.as_secs_f64() * 1e3);
    let rep = reputation();
    let now = TODAY * DAY_MS + 40_000_000;
    let inputs = Inputs {
        report: Arc::new(report),
        rollups,
        days: (TODAY - DAYS + 1..=TODAY).collect(),
        suppressed: vec![("unengaged".into(), 250_000), ("hard_bounce".into(), 4_000)],
        machine_open_share: Some(0.33),
        reputation: Some((rep.snapshot(now), rep.history(now))),
        dns: None,
    };
    for page in Page::ALL {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let html = pages::render(page, black_box(&inputs)).expect("render");
            times.push(t.elapsed());
            bytes = html.len();
        }
        times.sort();
        println!(
            "render {:<28} median {:>7.2} ms, worst {:>7.2} ms, {:>7} bytes{}",
            page.path(),
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            bytes,
            if page == Page::Overview { "   (main page; target <= 100 ms)" } else { "" }
        );
    }
}
