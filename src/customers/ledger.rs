//! Purchases summarised per customer, one customer at a time, for
//! `winback customers model`: what the fit and the calibration/holdout
//! check need of each customer (its purchase days up to the calibration
//! date, first and last purchase, the values of its repeat purchase days,
//! purchase days after).
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
    /// Reused for each customer's purchase days up to the calibration
    /// date, with the value of each order (0 when unknown).
    days: Vec<(i32, f64)>,
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
        let (mut first, mut last) = (None::<Millis>, Millis::MIN);
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
            self.days.push((day, v.filter(|v| v.is_finite() && *v > 0.0).unwrap_or(0.0)));
            first = Some(first.map_or(at, |f| f.min(at)));
            last = last.max(at);
        }
        self.any_after |= !self.after.is_empty();
        let first = first?;
        let u = self.unit.millis();
        let (days, spend) = repeat_days(&mut self.days);
        let summary = Summary {
            rft: Rft { x: days as f64, t_x: (last - first) as f64 / u, t: (self.as_of - first) as f64 / u },
            spend,
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

/// The repeat purchase days (order days after the first) and the
/// Gamma–Gamma spend of them: each day's order values summed, the mean over
/// the days with a value (Fader & Hardie, 2013).
fn repeat_days(orders: &mut [(i32, f64)]) -> (usize, Spend) {
    orders.sort_unstable_by_key(|(day, _)| *day);
    let mut days = orders.chunk_by(|a, b| a.0 == b.0).map(|day| day.iter().map(|(_, v)| v).sum::<f64>());
    days.next(); // the first day
    let (mut repeat, mut valued, mut sum) = (0usize, 0usize, 0.0);
    for v in days {
        repeat += 1;
        if v > 0.0 {
            valued += 1;
            sum += v;
        }
    }
    let mean = if valued == 0 { 0.0 } else { sum / valued as f64 };
    (repeat, Spend { n: valued as f64, mean })
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
            // Repeat days 3 (no value) and 8 (a refund, not a value): no
            // repeat spend; day 1's 10 + 30 is the first day's.
            assert_eq!((h.spend.n, h.spend.mean), (0.0, 0.0));
            assert_eq!(h.after, 1, "day 12 once; day 40 is past the end");
            assert_eq!(l.into_customers(), vec![h]);
        }
        // The paper's customer 1: three days, the first left out, the last
        // of two orders (9.96 + 5.00): two repeat days of mean 22.345.
        let mut l = Ledger::new(600 * D, 600 * D, Unit::Days);
        let s = l.customer([(D, Some(11.77)), (7 * D, Some(29.73)), (500 * D, Some(9.96)), (500 * D + 9, Some(5.0))]);
        let spend = s.unwrap().spend;
        assert_eq!(spend.n, 2.0);
        assert!((spend.mean - 22.345).abs() < 1e-9, "{spend:?}");
        let mut quiet = Ledger::new(10 * D, 20 * D, Unit::Days);
        quiet.customer([(2 * D, None)]);
        assert!(!quiet.any_after());
    }
}
