//! The last 30 days of the reputation counters, day by day: what the
//! dashboard draws against the thresholds. Read from the daily ring every
//! [`RollingCounters`] keeps (and the store persists), so it costs
//! O(days × providers) and needs no second bookkeeping.

use serde::{Deserialize, Serialize};

use super::counters::{Counts, MAX_SPAN, RollingCounters};
use super::provider::ProviderKey;
use super::{ALL, Reputation};
use crate::clock::Millis;

const DAY: Millis = 86_400_000;

/// How many days the history holds (today included).
pub const DAYS: usize = (MAX_SPAN / DAY) as usize;

/// One key's counts per day, oldest first, every day of the span present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailySeries {
    /// The sending domain, [`ALL`], or the provider.
    pub name: String,
    /// `(day number since 1970 UTC, counts)`.
    pub days: Vec<(i64, Counts)>,
}

/// The daily history of every scope and provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The day numbers covered, oldest first.
    pub days: Vec<i64>,
    /// All sending domains together.
    pub all: DailySeries,
    /// Per provider, by name.
    pub providers: Vec<DailySeries>,
}

impl Reputation {
    /// The daily history at `now`.
    pub fn history(&self, now: Millis) -> History {
        let today = now.div_euclid(DAY);
        let days: Vec<i64> = (0..DAYS as i64).rev().map(|b| today - b).collect();
        let empty = || days.iter().map(|d| (*d, Counts::default())).collect::<Vec<_>>();
        let series = |name: &str, c: Option<&RollingCounters>| DailySeries {
            name: name.to_string(),
            days: c.map_or_else(empty, |c| c.daily(now, DAYS)),
        };
        let mut keys: Vec<&ProviderKey> = self.providers.keys().collect();
        keys.sort();
        History {
            all: series(ALL, self.scope_counters(ALL)),
            providers: keys.into_iter().map(|k| series(k.as_str(), self.providers.get(k))).collect(),
            days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reputation::{ProviderLimits, Signal, SignalKind, config::ReputationConfig};

    #[test]
    fn history_has_thirty_days_per_provider_from_the_daily_ring() {
        let limits = ProviderLimits { default: "600/min".parse().unwrap(), overrides: Default::default() };
        let mut rep = Reputation::new(ReputationConfig::default(), limits);
        let g = ProviderKey::new("google");
        let day0 = 20_000 * DAY;
        let sig = |k| Signal::new("shop.example", Some(g.clone()), k);
        // 40 days ago (out of the span), 3 days ago and today.
        rep.record(day0 - 40 * DAY, &sig(SignalKind::Sent));
        for _ in 0..4 {
            rep.record(day0 - 3 * DAY + 5, &sig(SignalKind::Sent));
        }
        rep.record(day0 - 3 * DAY + 9, &sig(SignalKind::Complaint));
        rep.record(
            day0 + 7,
            &sig(SignalKind::Deferred { code: 450, reason: crate::reputation::signal::Reason::Policy }),
        );
        let h = rep.history(day0 + 1_000);
        assert_eq!(h.days.len(), DAYS);
        assert_eq!((h.days[0], h.days[DAYS - 1]), (20_000 - 29, 20_000));
        let p = h.providers.iter().find(|s| s.name == "google").expect("google");
        let on = |d: i64| p.days.iter().find(|(x, _)| *x == d).map(|(_, c)| *c).unwrap();
        assert_eq!(on(20_000 - 3).sent, 4);
        assert_eq!(on(20_000 - 3).complaints, 1);
        assert_eq!(on(20_000).deferred, 1);
        assert_eq!(p.days.iter().map(|(_, c)| c.sent).sum::<u32>(), 4, "the day 40 days ago is out");
        assert_eq!(h.all.days.iter().map(|(_, c)| c.sent).sum::<u32>(), 4);
    }
}
