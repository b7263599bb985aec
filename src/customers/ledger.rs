//! Purchases summarised per customer, one customer at a time, for
//! `winback customers model`: what the fit and the calibration/holdout
//! check need of each customer (its purchase days up to the calibration
//! date, first and last purchase, valued orders, purchase days after).
//! The store hands over each contact's events together (see
//! `Reader::for_each_contact_events`), so a store of ten million orders is
//! read once and only a few dozen bytes per customer are kept.

use super::{Rft, Spend, Unit};
use crate::clock::Millis;

const DAY: Millis = 86_400_000;

/// What the models need of one customer: (x, tₓ, T), their spend, and the
/// days they bought on after the calibration date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Repeat buying up to the calibration date.
    pub rft: Rft,
    /// Valued orders up to the calibration date and their mean.
    pub spend: Spend,
    /// Days with a purchase after the calibration date, up to the end.
    pub after: u64,
}

/// The customers' summaries for a calibration date (`as_of`) and the end
/// of the holdout period (`until`).
#[derive(Debug)]
pub struct Ledger {
    as_of: Millis,
    until: Millis,
    unit: Unit,
    customers: Vec<Summary>,
    /// Whether anybody bought after the calibration date.
    any_after: bool,
    /// Reused for each customer's purchase days.
    days: Vec<i32>,
    after: Vec<i32>,
}

impl Ledger {
    /// An empty ledger; times are measured in `unit`.
    pub fn new(as_of: Millis, until: Millis, unit: Unit) -> Ledger {
        Ledger { as_of, until, unit, customers: Vec::new(), any_after: false, days: Vec::new(), after: Vec::new() }
    }

    /// The calibration date and the end of the holdout period.
    pub fn period(&self) -> (Millis, Millis) {
        (self.as_of, self.until)
    }

    /// Whether anybody (a new customer too) bought after the calibration date.
    pub fn any_after(&self) -> bool {
        self.any_after
    }

    /// Adds one customer from all their purchases, (time, value), in any
    /// order; returns the summary, `None` when they bought nothing up to
    /// the calibration date (they are then not a customer of the fit).
    pub fn customer(&mut self, purchases: impl IntoIterator<Item = (Millis, Option<f64>)>) -> Option<Summary> {
        self.days.clear();
        self.after.clear();
        let (mut first, mut last, mut valued, mut value) = (None::<Millis>, Millis::MIN, 0u32, 0.0);
        for (at, v) in purchases {
            if at > self.until {
                continue;
            }
            // Days since 1970 fit an i32 for five million years either way.
            let day = at.div_euclid(DAY).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            if at > self.as_of {
                self.after.push(day);
                continue;
            }
            self.days.push(day);
            first = Some(first.map_or(at, |f| f.min(at)));
            last = last.max(at);
            if let Some(v) = v.filter(|v| v.is_finite() && *v > 0.0) {
                valued += 1;
                value += v;
            }
        }
        self.any_after |= !self.after.is_empty();
        let first = first?;
        let u = self.unit.millis();
        let summary = Summary {
            rft: Rft {
                x: distinct(&mut self.days).saturating_sub(1) as f64,
                t_x: (last - first) as f64 / u,
                t: (self.as_of - first) as f64 / u,
            },
            spend: Spend { n: f64::from(valued), mean: if valued == 0 { 0.0 } else { value / f64::from(valued) } },
            after: distinct(&mut self.after) as u64,
        };
        self.customers.push(summary);
        Some(summary)
    }

    /// The customers with a purchase up to the calibration date, in the
    /// order they were added.
    pub fn into_customers(self) -> Vec<Summary> {
        self.customers
    }
}

/// How many different days.
fn distinct(days: &mut Vec<i32>) -> usize {
    days.sort_unstable();
    days.dedup();
    days.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Millis = DAY;

    #[test]
    fn summarises_in_any_order_by_day_and_period() {
        // Anna: days 1 (twice), 3 and 8 before the date; 12 and 12 after;
        // 40 is past the end. Bert buys only after the date.
        let anna = [
            (D + 5, Some(10.0)),
            (D + 9, Some(30.0)),
            (3 * D, None),
            (8 * D, Some(-4.0)),
            (12 * D, Some(1.0)),
            (12 * D + 7, Some(1.0)),
            (40 * D, Some(1.0)),
        ];
        for reversed in [false, true] {
            let mut l = Ledger::new(10 * D, 20 * D, Unit::Days);
            let order: Vec<_> = if reversed { anna.iter().rev().copied().collect() } else { anna.to_vec() };
            let h = l.customer(order).unwrap();
            assert_eq!(l.customer([(11 * D, Some(5.0))]), None, "Bert has nothing before the date");
            assert!(l.any_after());
            // Three days, two repeats; first day 1 (+5 ms), last day 8.
            assert_eq!(h.rft.x, 2.0);
            assert!((h.rft.t_x - (7.0 - 5.0 / D as f64)).abs() < 1e-9, "{h:?}");
            assert!((h.rft.t - (9.0 - 5.0 / D as f64)).abs() < 1e-9, "{h:?}");
            // Valued and positive: 10 and 30.
            assert_eq!((h.spend.n, h.spend.mean), (2.0, 20.0));
            assert_eq!(h.after, 1, "day 12 once; day 40 is past the end");
            assert_eq!(l.into_customers(), vec![h]);
        }
        let mut quiet = Ledger::new(10 * D, 20 * D, Unit::Days);
        quiet.customer([(2 * D, None)]);
        assert!(!quiet.any_after());
    }
}
