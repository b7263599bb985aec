//! The customer model at scale: 1,000,000 customers with about 10,000,000
//! orders (`WINBACK_BENCH_CUSTOMERS` to change). Prints, with the peak
//! resident set (VmHWM) after each phase:
//! - summarising: every order through `PurchaseSummary::add`, as the
//!   engine does for each purchase event (orders/second);
//! - gathering every buyer's figures and fitting BG/NBD and Gamma–Gamma
//!   (on the evenly spaced sample the refresh uses);
//! - scoring every customer (quintiles, named RFM segment, P(alive),
//!   expected purchases, CLV).
//!
//! Customers are generated one at a time from a fixed seed and dropped
//! after use, as the refresh streams them from the store; reading and
//! writing the store is not part of these figures.

use std::time::Instant;

use winback::config::Config;
use winback::customers::refresh::{Gathered, Scorer};
use winback::domain::Contact;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_790_000_000_000;

/// xorshift64*, uniform in (0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// Customer `i`: orders with random gaps (mean 5 to 205 days), a
/// geometric number of them (mean 10), values 5 to 100. Returns the
/// contact and how many orders it got.
fn customer(i: u64) -> (Contact, u64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    let mut c = Contact::new(format!("c{i}@example.net"), NOW - 1_200 * DAY);
    let mean_gap = 5.0 + 200.0 * rng.next() * rng.next();
    let n = 1 + (-(rng.next().ln()) * 9.0) as u64;
    let mut t = NOW - 1_100 * DAY + (300.0 * rng.next()) as i64 * DAY;
    for _ in 0..n {
        if t > NOW {
            break;
        }
        c.customer.purchases.add(t, Some((5.0 + 95.0 * rng.next()).round()));
        t += ((-(rng.next().ln()) * mean_gap * DAY as f64) as i64).max(DAY);
    }
    (c, n)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let customers: u64 =
        std::env::var("WINBACK_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let cfg = Config::from_toml("bench", "").expect("default config");

    let start = Instant::now();
    let mut orders = 0u64;
    let mut g = Gathered::default();
    for i in 0..customers {
        let (c, n) = customer(i);
        orders += n;
        g.add(&c, NOW, cfg.customers.unit);
    }
    let summarise = start.elapsed().as_secs_f64();
    println!(
        "summarise + gather: {customers} customers, {orders} orders in {summarise:.2} s ({:.0} orders/s); peak RSS {:.0} MB",
        orders as f64 / summarise,
        peak_rss_mb()
    );

    let start = Instant::now();
    let (scorer, notes, bg, gg) = Scorer::new(&cfg.customers, cfg.lapse.mode, NOW, g);
    let fit = start.elapsed().as_secs_f64();
    println!("fit: {fit:.2} s; peak RSS {:.0} MB", peak_rss_mb());
    if let Some(b) = bg {
        let p = b.params;
        println!("  BG/NBD r {:.4} alpha {:.4} a {:.4} b {:.4} ({} customers)", p.r, p.alpha, p.a, p.b, b.customers);
    }
    if let Some(m) = gg.and_then(|g| g.pooled_mean) {
        println!("  Gamma-Gamma: no spread between customers, population mean {m:.2}");
    } else if let Some(g) = gg {
        let p = g.params;
        println!("  Gamma-Gamma p {:.4} q {:.4} gamma {:.4} ({} customers)", p.p, p.q, p.gamma, g.customers);
    }
    for n in notes {
        println!("  note: {n}");
    }

    let start = Instant::now();
    let (mut scored, mut clv) = (0u64, 0.0);
    for i in 0..customers {
        let (c, _) = customer(i);
        if let Some(s) = scorer.score(&c) {
            scored += 1;
            clv += s.clv.unwrap_or(0.0);
        }
    }
    let score = start.elapsed().as_secs_f64();
    println!(
        "score: {scored} customers in {score:.2} s ({:.0}/s), mean CLV {:.2}; peak RSS {:.0} MB",
        scored as f64 / score,
        clv / scored.max(1) as f64,
        peak_rss_mb()
    );
    println!("refresh + fit total: {:.2} s", summarise + fit + score);
}
