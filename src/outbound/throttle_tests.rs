//! Tests of the throttle: rates, bursts, connection caps and
//! reconfiguration.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn limits(global: &str, per_domain: &str, overrides: &[(&str, &str)], max_connections: usize) -> LimitsConfig {
    LimitsConfig {
        global: global.parse().unwrap(),
        per_domain: per_domain.parse().unwrap(),
        domain: overrides.iter().map(|(d, r)| (d.to_string(), r.parse().unwrap())).collect(),
        max_connections,
    }
}

/// Permits granted for `domain` within `window` of simulated time, with
/// `workers` tasks competing for them (each drops its permit at once).
async fn count_in(t: &Arc<Throttle>, domain: &str, workers: usize, window: Duration) -> usize {
    let end = Instant::now() + window;
    let count = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (t, count, domain) = (Arc::clone(t), Arc::clone(&count), domain.to_string());
            tokio::spawn(async move {
                // A permit granted exactly at `end` belongs to the next window.
                while let Ok(_permit) = tokio::time::timeout_at(end, t.acquire(&domain)).await {
                    if Instant::now() >= end {
                        break;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed)
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn per_domain_rate_over_a_simulated_minute() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "600/min", &[], 8)));
    let (a, b) = tokio::join!(count_in(&t, "a.example", 4, MINUTE), count_in(&t, "B.Example.", 4, MINUTE));
    assert_eq!(a, 600);
    assert_eq!(b, 600, "domains are limited separately, case and trailing dot folded");
}

#[tokio::test(start_paused = true)]
async fn global_rate_bounds_all_domains_together() {
    let t = Arc::new(Throttle::new(&limits("20/s", "unlimited", &[], 8)));
    let (a, b, c) = tokio::join!(
        count_in(&t, "a.example", 3, MINUTE),
        count_in(&t, "b.example", 3, MINUTE),
        count_in(&t, "c.example", 3, MINUTE)
    );
    assert_eq!(a + b + c, 1_200, "{a} + {b} + {c}");
    assert_eq!(t.tracked_domains(), 0, "unlimited domains need no limiter");
}

#[tokio::test(start_paused = true)]
async fn override_applies_to_its_domain_only_and_global_still_caps() {
    let t = Arc::new(Throttle::new(&limits("10/s", "600/min", &[("Gmail.com", "300/min")], 8)));
    let (g, o) = tokio::join!(count_in(&t, "gmail.com", 4, MINUTE), count_in(&t, "other.example", 4, MINUTE));
    assert_eq!(g, 300);
    // The global 600/min leaves 300 for the other domain, below its own 600.
    assert_eq!(o, 300);
    assert_eq!(t.domain_rate("gmail.com"), "300/min".parse().unwrap());
    assert_eq!(t.domain_rate("other.example"), "600/min".parse().unwrap());
}

#[tokio::test(start_paused = true)]
async fn no_catch_up_burst_after_downtime() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "600/min", &[], 8)));
    assert_eq!(count_in(&t, "a.example", 2, Duration::from_secs(1)).await, 10);
    tokio::time::advance(Duration::from_secs(3_600)).await;
    // An hour idle buys one cell of burst, not 36 000.
    assert_eq!(count_in(&t, "a.example", 8, Duration::from_millis(1)).await, BURST.get() as usize);
    assert_eq!(count_in(&t, "a.example", 8, Duration::from_secs(1)).await, 10);
}

#[tokio::test(start_paused = true)]
async fn rates_change_at_run_time() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "600/min", &[("slow.example", "60/min")], 8)));
    t.set_domain_rate("a.example", "120/min".parse().unwrap());
    assert_eq!(count_in(&t, "a.example", 4, MINUTE).await, 120);
    // Halve it while waiters are sleeping on the old limiter.
    let counter = {
        let t = Arc::clone(&t);
        tokio::spawn(async move { count_in(&t, "a.example", 4, MINUTE).await })
    };
    tokio::time::sleep(Duration::from_secs(30)).await;
    t.set_domain_rate("a.example", "60/min".parse().unwrap());
    let n = counter.await.unwrap();
    assert!((89..=91).contains(&n), "60 in the first half minute, 30 in the second: {n}");
    assert_eq!(t.domain_rate("a.example"), "60/min".parse().unwrap());
    t.clear_domain_rate("a.example");
    assert_eq!(t.domain_rate("a.example"), "600/min".parse().unwrap());
    assert_eq!(count_in(&t, "a.example", 4, Duration::from_secs(10)).await, 100);

    t.set_domain_rate("slow.example", Rate::Unlimited);
    let start = Instant::now();
    for _ in 0..1_000 {
        drop(t.acquire("slow.example").await);
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "unlimited never waits");
    t.clear_domain_rate("slow.example");
    assert_eq!(count_in(&t, "slow.example", 2, MINUTE).await, 60, "back to its [limits.domain] rate");

    t.set_global_rate("1/s".parse().unwrap());
    assert_eq!(t.global_rate(), "1/s".parse().unwrap());
    assert_eq!(count_in(&t, "b.example", 2, Duration::from_secs(10)).await, 10);
}

#[tokio::test(start_paused = true)]
async fn connection_cap_and_release_on_drop() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "unlimited", &[], 2)));
    let (live, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (t, live, peak) = (Arc::clone(&t), Arc::clone(&live), Arc::clone(&peak));
            tokio::spawn(async move {
                let _permit = t.acquire(&format!("d{i}.example")).await;
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                live.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    let start = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), Duration::from_secs(3), "6 one-second sends through 2 slots");
    assert_eq!(t.available_connections(), 2);

    // Cancelling a waiting acquire leaks nothing.
    let held = t.acquire("x.example").await;
    let _held2 = t.acquire("x.example").await;
    assert!(tokio::time::timeout(Duration::from_secs(5), t.acquire("x.example")).await.is_err());
    drop(held);
    assert_eq!(t.available_connections(), 1);
    let _again = tokio::time::timeout(Duration::from_millis(1), t.acquire("y.example")).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn idle_domain_limiters_are_pruned() {
    let t = Throttle::new(&limits("unlimited", "60/min", &[], 8));
    for i in 0..PRUNE_AT {
        drop(t.acquire(&format!("d{i}.example")).await);
    }
    assert_eq!(t.tracked_domains(), PRUNE_AT);
    tokio::time::advance(Duration::from_secs(2)).await;
    drop(t.acquire("fresh.example").await);
    assert_eq!(t.tracked_domains(), 1, "idle, fully replenished limiters were dropped");
    // A pruned domain starts again exactly where a replenished one would.
    drop(t.acquire("d0.example").await);
    assert!(tokio::time::timeout(Duration::from_millis(999), t.acquire("d0.example")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn reconfigure_changes_rates_and_replaces_runtime_overrides() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "60/min", &[("slow.example", "6/min")], 8)));
    t.set_domain_rate("tuned.example", "30/min".parse().unwrap());
    t.set_domain_rate("recovered.example", "60/min".parse().unwrap());
    assert_eq!(count_in(&t, "a.example", 2, MINUTE).await, 60);
    let tuned = || -> Vec<(String, Rate)> { vec![("Tuned.Example".to_string(), "15/min".parse().unwrap())] };
    t.reconfigure(&limits("1/s", "120/min", &[("slow.example", "12/min")], 8), tuned());
    assert_eq!(t.global_rate(), "1/s".parse().unwrap());
    assert_eq!(count_in(&t, "a.example", 2, MINUTE).await, 60, "the new global rate caps the faster domain rate");
    t.reconfigure(&limits("unlimited", "120/min", &[("slow.example", "12/min")], 8), tuned());
    assert_eq!(count_in(&t, "a.example", 2, MINUTE).await, 120, "a live limiter follows the new per_domain rate");
    assert_eq!(count_in(&t, "slow.example", 2, MINUTE).await, 12);
    assert_eq!(count_in(&t, "tuned.example", 2, MINUTE).await, 15, "the override recomputed for the new limits");
    assert_eq!(t.domain_rate("recovered.example"), "120/min".parse().unwrap(), "an old override is gone");
    t.clear_domain_rate("tuned.example");
    assert_eq!(t.domain_rate("tuned.example"), "120/min".parse().unwrap());
}

#[tokio::test(start_paused = true)]
async fn reconfigure_grows_the_cap_at_once_and_shrinks_it_as_slots_come_back() {
    let t = Arc::new(Throttle::new(&limits("unlimited", "unlimited", &[], 3)));
    let held: Vec<Permit> = vec![t.acquire("a").await, t.acquire("b").await, t.acquire("c").await];
    t.reconfigure(&limits("unlimited", "unlimited", &[], 1), []);
    assert_eq!((t.max_connections(), t.available_connections()), (1, 0));
    let mut held = held.into_iter();
    drop(held.next());
    drop(held.next());
    assert_eq!(t.available_connections(), 0, "two returned slots retired, one still in use");
    drop(held.next());
    assert_eq!(t.available_connections(), 1);
    let one = t.acquire("d").await;
    assert!(tokio::time::timeout(Duration::from_secs(5), t.acquire("e")).await.is_err(), "cap 1 holds");
    t.reconfigure(&limits("unlimited", "unlimited", &[], 4), []);
    assert_eq!((t.max_connections(), t.available_connections()), (4, 3));
    drop(one);
    assert_eq!(t.available_connections(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_takes_a_faster_rate_at_once() {
    let t = Arc::new(Throttle::new(&limits("1/h", "unlimited", &[], 8)));
    drop(t.acquire("a.example").await);
    let waiter = {
        let t = Arc::clone(&t);
        tokio::spawn(async move {
            let start = Instant::now();
            drop(t.acquire("a.example").await);
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    t.reconfigure(&limits("unlimited", "unlimited", &[], 8), []);
    let waited = waiter.await.unwrap();
    assert_eq!(waited, Duration::from_secs(5), "not the hour the old rate asked for");
}
