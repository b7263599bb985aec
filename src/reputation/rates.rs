//! Rates from counts, each only once its denominator reaches a minimum
//! volume: three bounces out of ten messages say nothing about a list.
//!
//! Bounce and deferral rates are per message sent; complaint, unsubscribe
//! and human-open rates per message delivered, as mailbox providers count.

use serde::{Deserialize, Serialize};

use super::counters::Counts;

/// A rate winback tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Hard bounces per message sent.
    HardBounce,
    /// Spam complaints per message delivered.
    Complaint,
    /// Deferred attempts per message sent.
    Deferral,
    /// Unsubscribes per message delivered.
    Unsubscribe,
    /// Human opens per message delivered.
    HumanOpen,
}

impl Metric {
    /// All metrics.
    pub const ALL: [Metric; 5] =
        [Metric::HardBounce, Metric::Complaint, Metric::Deferral, Metric::Unsubscribe, Metric::HumanOpen];

    /// Stable name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::HardBounce => "hard_bounce",
            Metric::Complaint => "complaint",
            Metric::Deferral => "deferral",
            Metric::Unsubscribe => "unsubscribe",
            Metric::HumanOpen => "human_open",
        }
    }

    /// `(numerator, denominator)` of this metric in some counts.
    pub fn parts(self, c: &Counts) -> (u32, u32) {
        match self {
            Metric::HardBounce => (c.hard_bounces.total(), c.sent),
            Metric::Complaint => (c.complaints, c.delivered),
            Metric::Deferral => (c.deferred, c.sent),
            Metric::Unsubscribe => (c.unsubscribes, c.delivered),
            Metric::HumanOpen => (c.human_opens, c.delivered),
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rates of one set of counts; `None` below the minimum volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Hard bounces per message sent.
    pub hard_bounce: Option<f64>,
    /// Complaints per message delivered.
    pub complaint: Option<f64>,
    /// Deferred attempts per message sent (may exceed 1 with retries).
    pub deferral: Option<f64>,
    /// Unsubscribes per message delivered.
    pub unsubscribe: Option<f64>,
    /// Human opens per message delivered.
    pub human_open: Option<f64>,
}

impl Rates {
    /// Rates of `c`, counting a rate only when its denominator is at least `min_volume` (and not zero).
    pub fn of(c: &Counts, min_volume: u32) -> Rates {
        let r = |m: Metric| {
            let (num, den) = m.parts(c);
            (den >= min_volume.max(1)).then(|| f64::from(num) / f64::from(den))
        };
        Rates {
            hard_bounce: r(Metric::HardBounce),
            complaint: r(Metric::Complaint),
            deferral: r(Metric::Deferral),
            unsubscribe: r(Metric::Unsubscribe),
            human_open: r(Metric::HumanOpen),
        }
    }

    /// The rate of one metric.
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::HardBounce => self.hard_bounce,
            Metric::Complaint => self.complaint,
            Metric::Deferral => self.deferral,
            Metric::Unsubscribe => self.unsubscribe,
            Metric::HumanOpen => self.human_open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reputation::signal::{Reason, SignalKind};

    fn counts(kinds: &[(SignalKind, usize)]) -> Counts {
        let mut c = Counts::default();
        for (k, n) in kinds {
            for _ in 0..*n {
                c.record(k);
            }
        }
        c
    }

    #[test]
    fn rates_need_the_minimum_volume() {
        let c = counts(&[
            (SignalKind::Sent, 199),
            (SignalKind::Delivered, 190),
            (SignalKind::HardBounce { reason: Reason::BadMailbox }, 9),
        ]);
        let r = Rates::of(&c, 200);
        assert_eq!(r, Rates::default());
        let c = counts(&[
            (SignalKind::Sent, 400),
            (SignalKind::Delivered, 200),
            (SignalKind::HardBounce { reason: Reason::BadMailbox }, 10),
            (SignalKind::HardBounce { reason: Reason::Blocked }, 10),
            (SignalKind::Deferred { code: 421, reason: Reason::RateLimited }, 40),
            (SignalKind::Complaint, 1),
            (SignalKind::Unsubscribe, 4),
            (SignalKind::Open { human: true }, 50),
            (SignalKind::Open { human: false }, 100),
        ]);
        let r = Rates::of(&c, 200);
        assert_eq!(r.hard_bounce, Some(0.05));
        assert_eq!(r.deferral, Some(0.1));
        assert_eq!(r.complaint, Some(0.005));
        assert_eq!(r.unsubscribe, Some(0.02));
        assert_eq!(r.human_open, Some(0.25));
        assert_eq!(r.get(Metric::Complaint), r.complaint);
        // Delivered below the minimum: per-delivery rates do not count yet.
        let r = Rates::of(&c, 201);
        assert_eq!((r.hard_bounce, r.complaint), (Some(0.05), None));
    }

    #[test]
    fn zero_volume_never_divides() {
        assert_eq!(Rates::of(&Counts::default(), 0), Rates::default());
    }
}
