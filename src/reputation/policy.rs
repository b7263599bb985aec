//! Thresholds → a level: `Ok`, `Warn` (log, hold the warm-up) or `Pause`
//! (stop all sending), with the breaches that explain it.

use serde::{Deserialize, Serialize};

use super::config::{Threshold, Thresholds};
use super::rates::{Metric, Rates};

/// How worrying the rates are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Below every warning threshold (or not enough volume to tell).
    Ok,
    /// At or above a warning threshold.
    Warn,
    /// At or above a pause threshold.
    Pause,
}

impl Level {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Pause => "pause",
        }
    }
}

/// One rate at or over one of its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// Which rate.
    pub metric: Metric,
    /// Its value (fraction).
    pub rate: f64,
    /// The threshold it reached (fraction).
    pub threshold: f64,
    /// Warn or pause.
    pub level: Level,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.metric {
            Metric::HardBounce => "hard-bounce rate",
            Metric::Complaint => "complaint rate",
            Metric::Deferral => "deferral rate",
            Metric::Unsubscribe => "unsubscribe rate",
            Metric::HumanOpen => "human open rate",
        };
        write!(
            f,
            "{what} {} reached the {} threshold {}",
            percent(self.rate),
            self.level.as_str(),
            percent(self.threshold)
        )
    }
}

/// A fraction as a percentage with enough digits for 0.1% thresholds.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The verdict on one set of rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The worst level reached.
    pub level: Level,
    /// Every threshold reached (the highest level per metric).
    pub breaches: Vec<Breach>,
}

impl Assessment {
    /// The breaches as one sentence.
    pub fn describe(&self) -> String {
        self.breaches.iter().map(Breach::to_string).collect::<Vec<_>>().join("; ")
    }
}

impl Thresholds {
    /// The thresholds with the metric each applies to.
    pub fn by_metric(&self) -> [(Metric, Threshold); 2] {
        [(Metric::HardBounce, self.hard_bounce), (Metric::Complaint, self.complaint)]
    }

    /// Judges rates (already cut by the minimum volume) against these thresholds.
    pub fn assess(&self, rates: &Rates) -> Assessment {
        let mut breaches = Vec::new();
        for (metric, t) in self.by_metric() {
            let Some(rate) = rates.get(metric) else { continue };
            let hit = if rate >= t.pause {
                Some((Level::Pause, t.pause))
            } else if rate >= t.warn {
                Some((Level::Warn, t.warn))
            } else {
                None
            };
            if let Some((level, threshold)) = hit {
                breaches.push(Breach { metric, rate, threshold, level });
            }
        }
        let level = breaches.iter().map(|b| b.level).max().unwrap_or(Level::Ok);
        Assessment { level, breaches }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reputation::config::ReputationConfig;

    fn rates(hard: Option<f64>, complaint: Option<f64>) -> Rates {
        Rates { hard_bounce: hard, complaint, ..Rates::default() }
    }

    #[test]
    fn levels_follow_the_default_thresholds() {
        let t = ReputationConfig::default().thresholds;
        assert_eq!(t.assess(&rates(None, None)).level, Level::Ok);
        assert_eq!(t.assess(&rates(Some(0.019), Some(0.0009))).level, Level::Ok);
        let a = t.assess(&rates(Some(0.02), None));
        assert_eq!(a.level, Level::Warn);
        assert_eq!(a.describe(), "hard-bounce rate 2.00% reached the warn threshold 2.00%");
        assert_eq!(t.assess(&rates(Some(0.049), Some(0.001))).level, Level::Warn);
        let a = t.assess(&rates(Some(0.03), Some(0.003)));
        assert_eq!(a.level, Level::Pause);
        assert_eq!(a.breaches.len(), 2);
        assert_eq!(
            a.breaches[1],
            Breach { metric: Metric::Complaint, rate: 0.003, threshold: 0.003, level: Level::Pause }
        );
        assert_eq!(t.assess(&rates(Some(0.05), None)).level, Level::Pause);
        // No volume, no verdict, however bad the few messages were.
        assert_eq!(t.assess(&rates(None, None)).breaches, vec![]);
    }
}
