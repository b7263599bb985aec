//! When a customer is lapsed or at risk, by the `[lapse] mode`:
//! `fixed` (no engagement for `inactive_after`), `cadence` (the time since
//! the last order exceeds `factor` × the customer's typical gap, within
//! `min` and `max`), or `p_alive` (P(alive) under the last fitted BG/NBD
//! falls below a threshold). Customers the mode cannot judge — never
//! bought, bought once, not yet scored — fall back to `fixed`. The at-risk
//! stage comes `at_risk_factor` typical gaps after the last order.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bgnbd::{BgNbd, Rft};
use crate::clock::Millis;
use crate::domain::Contact;

const DAY: f64 = 86_400_000.0;

/// How lapse is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LapseMode {
    /// No engagement for `inactive_after`.
    Fixed,
    /// Against the customer's own rhythm.
    Cadence {
        /// Typical gaps of silence that make a customer lapsed.
        factor: f64,
        /// Never sooner than this after the last order.
        min: Duration,
        /// Always by this long after the last order.
        max: Duration,
    },
    /// By the BG/NBD's P(alive).
    PAlive {
        /// Lapsed below this.
        below: f64,
    },
}

/// Where a customer stands before a sequence takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// About to lapse: a retention message may go out.
    AtRisk,
    /// Lapsed: a win-back sequence may start.
    Lapsed,
}

impl Stage {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AtRisk => "at_risk",
            Stage::Lapsed => "lapsed",
        }
    }
}

fn after(t: Millis, d: Duration) -> Millis {
    t.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn days(t: Millis, days: f64) -> Millis {
    t.saturating_add((days * DAY).min(1e15) as i64)
}

/// When the contact counts as lapsed under `mode` (before any re-entry
/// wait): by the mode when it can judge the customer, else `inactive_after`
/// past the last engagement (at once if it never engaged).
pub fn lapsed_at(c: &Contact, mode: LapseMode, inactive_after: Duration) -> Millis {
    let fixed = match c.last_engaged_at {
        Some(t) => after(t, inactive_after),
        None => c.created_at,
    };
    let p = &c.customer.purchases;
    match mode {
        LapseMode::Fixed => fixed,
        LapseMode::Cadence { factor, min, max } => match (p.typical_gap_days(), p.last) {
            (Some(gap), Some(last)) => {
                let wait = (factor * gap * DAY).clamp(min.as_millis() as f64, max.as_millis() as f64);
                last.saturating_add(wait as i64)
            }
            _ => fixed,
        },
        LapseMode::PAlive { .. } => match &c.customer.scores {
            // Scores from before the last order are stale until the next refresh.
            Some(s) if p.last.is_none_or(|l| l <= s.at) => s.p_alive_lapse_at.unwrap_or(fixed),
            _ => fixed,
        },
    }
}

/// When the contact becomes at risk: `factor` typical gaps after its last
/// order, unless it entered a retention sequence since that order.
pub fn at_risk_at(c: &Contact, factor: f64) -> Option<Millis> {
    let p = &c.customer.purchases;
    let (gap, last) = (p.typical_gap_days()?, p.last?);
    if c.customer.retention_at.is_some_and(|r| r >= last) {
        return None;
    }
    Some(days(last, factor * gap))
}

/// When P(alive) of a customer with history `c` (in the model's unit of
/// `unit_ms`, measured from its first order at `first`) falls below
/// `below` if it buys nothing more; `None` when the model never lets it
/// fall (no repeat purchase: BG/NBD holds such a customer alive).
pub fn p_alive_crossing(m: &BgNbd, c: &Rft, below: f64, first: Millis, unit_ms: f64) -> Option<Millis> {
    if c.x <= 0.0 {
        return None;
    }
    // P(alive) = 1 / (1 + a/(b+x−1) · ((α+T)/(α+tₓ))^(r+x)) < below
    // ⇔ T > (α+tₓ) · (odds · (b+x−1)/a)^(1/(r+x)) − α, odds = 1/below − 1.
    let k = (1.0 / below - 1.0) * (m.b + c.x - 1.0) / m.a;
    let t = (m.alpha + c.t_x) * k.max(0.0).powf(1.0 / (m.r + c.x)) - m.alpha;
    let t = t.max(c.t_x);
    t.is_finite().then(|| first.saturating_add((t * unit_ms).min(1e15) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossing_is_where_p_alive_meets_the_threshold() {
        let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let c = Rft { x: 4.0, t_x: 20.0, t: 30.0 };
        // Milliseconds per unit 1000: the crossing in thousandths of a unit.
        let at = p_alive_crossing(&m, &c, 0.3, 0, 1000.0).unwrap() as f64 / 1000.0;
        let p = |t: f64| m.p_alive(&Rft { t, ..c });
        assert!((p(at) - 0.3).abs() < 1e-4, "{} at {at}", p(at));
        assert!(p(at - 1.0) > 0.3 && p(at + 1.0) < 0.3);
        assert_eq!(p_alive_crossing(&m, &Rft { x: 0.0, t_x: 0.0, t: 9.0 }, 0.3, 0, 1.0), None);
        // Already below at the last purchase: lapsed from it.
        let low = BgNbd { a: 50.0, b: 1.0, ..m };
        assert_eq!(p_alive_crossing(&low, &c, 0.9, 0, 1.0), Some(20));
    }
}
