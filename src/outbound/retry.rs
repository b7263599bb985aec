//! When to try a deferred message again, and when to give up on it.
//!
//! Delays grow exponentially from `[transport] retry_initial`, doubling per
//! failed attempt up to `retry_max`, with ±10 % jitter so messages deferred
//! together (a relay that was down) do not all come back at once. A message
//! whose first attempt is older than `max_retry_age` has expired.

use std::time::Duration;

use rand::Rng;

use crate::clock::{Millis, ms};
use crate::config::TransportConfig;

/// Relative jitter around the exponential delay.
const JITTER: f64 = 0.10;

/// Delay before the next attempt, after `attempt` failed attempts (1 for
/// the first failure; 0 is treated as 1).
pub fn retry_delay(attempt: u32, cfg: &TransportConfig) -> Duration {
    retry_delay_with(attempt, cfg, &mut rand::thread_rng())
}

/// [`retry_delay`] with a given random source.
pub fn retry_delay_with(attempt: u32, cfg: &TransportConfig, rng: &mut impl Rng) -> Duration {
    let max = cfg.retry_max.max(cfg.retry_initial);
    // Capped at 2^63 so the float stays finite; the cap to `max` follows.
    let doublings = attempt.saturating_sub(1).min(63) as i32;
    let base = (cfg.retry_initial.as_secs_f64() * 2f64.powi(doublings)).min(max.as_secs_f64());
    let factor = rng.gen_range((1.0 - JITTER)..=(1.0 + JITTER));
    Duration::from_secs_f64(base * factor).min(max)
}

/// Whether a message first tried at `first_attempt_at` should no longer be
/// retried at `now`.
pub fn expired(first_attempt_at: Millis, now: Millis, cfg: &TransportConfig) -> bool {
    now.saturating_sub(first_attempt_at) >= ms(cfg.max_retry_age)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::config::TransportKind;

    fn cfg(initial: u64, max: u64) -> TransportConfig {
        TransportConfig {
            kind: TransportKind::Mx(Default::default()),
            timeout: Duration::from_secs(60),
            max_retry_age: Duration::from_secs(3 * 86_400),
            retry_initial: Duration::from_secs(initial),
            retry_max: Duration::from_secs(max),
        }
    }

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let c = cfg(60, 3_600);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for (attempt, base) in [(0, 60.0), (1, 60.0), (2, 120.0), (3, 240.0), (4, 480.0), (6, 1_920.0)] {
            for _ in 0..200 {
                let d = retry_delay_with(attempt, &c, &mut rng).as_secs_f64();
                assert!((base * 0.9..=base * 1.1).contains(&d), "attempt {attempt}: {d}s not near {base}s");
            }
        }
        for attempt in [7, 10, 31, 32, 63, 64, u32::MAX] {
            for _ in 0..50 {
                let d = retry_delay_with(attempt, &c, &mut rng).as_secs_f64();
                assert!((3_600.0 * 0.9..=3_600.0).contains(&d), "attempt {attempt}: {d}s not capped near 1h");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let c = cfg(60, 3_600);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let ds: std::collections::HashSet<_> = (0..50).map(|_| retry_delay_with(3, &c, &mut rng)).collect();
        assert!(ds.len() > 40, "only {} distinct delays", ds.len());
        // A retry_max below retry_initial does not make the delay shrink below it.
        let inverted = cfg(600, 60);
        let d = retry_delay(5, &inverted);
        assert!(d <= Duration::from_secs(600) && d >= Duration::from_secs(540), "{d:?}");
    }

    #[test]
    fn expiry_follows_max_retry_age() {
        let c = cfg(60, 3_600);
        let day: Millis = 86_400_000;
        assert!(!expired(0, 3 * day - 1, &c));
        assert!(expired(0, 3 * day, &c));
        assert!(!expired(5 * day, 0, &c), "a clock going backwards never expires");
        assert!(expired(i64::MIN, i64::MAX, &c), "no overflow");
    }
}
