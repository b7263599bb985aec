//! Purchases summarised per customer as they stream past, for
//! `winback customers model`: what the fit and the calibration/holdout
//! check need of each customer (its purchase days up to the calibration
//! date, first and last purchase, valued orders, purchase days after),
//! without keeping every purchase. A store of ten million orders is read
//! once, in about 4 bytes per purchase day and a hundred per customer.

use std::collections::HashMap;

use super::{History, Rft, Spend, Unit};
use crate::clock::Millis;

const DAY: Millis = 86_400_000;

/// One customer's purchases so far.
#[derive(Debug, Default)]
struct Entry {
    /// Days (since 1970) with a purchase up to the calibration date.
    days: Vec<i32>,
    first: Option<Millis>,
    last: Millis,
    valued: u32,
    value: f64,
    /// Days with a purchase after the calibration date, up to the end.
    after: Vec<i32>,
}

/// The purchases of every customer, summarised for a calibration date
/// (`as_of`) and the end of the holdout period (`until`).
#[derive(Debug)]
pub struct Ledger {
    as_of: Millis,
    until: Millis,
    by: HashMap<String, Entry>,
    /// Whether anybody bought after the calibration date.
    any_after: bool,
}

impl Ledger {
    /// An empty ledger.
    pub fn new(as_of: Millis, until: Millis) -> Ledger {
        Ledger { as_of, until, by: HashMap::new(), any_after: false }
    }

    /// The calibration date and the end of the holdout period.
    pub fn period(&self) -> (Millis, Millis) {
        (self.as_of, self.until)
    }

    /// Whether anybody (a new customer too) bought after the calibration date.
    pub fn any_after(&self) -> bool {
        self.any_after
    }

    /// Notes a purchase (in any order).
    pub fn add(&mut self, email: &str, at: Millis, value: Option<f64>) {
        if at > self.until {
            return;
        }
        let e = match self.by.get_mut(email) {
            Some(e) => e,
            None => self.by.entry(email.to_string()).or_default(),
        };
        // Days since 1970 fit an i32 for five million years either way.
        let day = at.div_euclid(DAY).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        if at > self.as_of {
            self.any_after = true;
            e.after.push(day);
            return;
        }
        e.days.push(day);
        e.first = Some(e.first.map_or(at, |f| f.min(at)));
        e.last = if e.days.len() == 1 { at } else { e.last.max(at) };
        if let Some(v) = value.filter(|v| v.is_finite() && *v > 0.0) {
            e.valued += 1;
            e.value += v;
        }
    }

    /// Every customer with a purchase up to the calibration date, by
    /// address, with the number of days it bought on after it.
    pub fn histories(self, unit: Unit) -> Vec<(History, u64)> {
        let (as_of, u) = (self.as_of, unit.millis());
        let mut out: Vec<(History, u64)> = self
            .by
            .into_iter()
            .filter_map(|(email, mut e)| {
                let first = e.first?;
                let repeat = distinct(&mut e.days).saturating_sub(1);
                let after = distinct(&mut e.after) as u64;
                let rft = Rft { x: repeat as f64, t_x: (e.last - first) as f64 / u, t: (as_of - first) as f64 / u };
                let mean = if e.valued == 0 { 0.0 } else { e.value / f64::from(e.valued) };
                Some((History { email, rft, spend: Spend { n: f64::from(e.valued), mean } }, after))
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.email.cmp(&b.0.email));
        out
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
        let rows = [
            ("anna@x.org", D + 5, Some(10.0)),
            ("anna@x.org", D + 9, Some(30.0)),
            ("anna@x.org", 3 * D, None),
            ("anna@x.org", 8 * D, Some(-4.0)),
            ("anna@x.org", 12 * D, Some(1.0)),
            ("anna@x.org", 12 * D + 7, Some(1.0)),
            ("anna@x.org", 40 * D, Some(1.0)),
            ("bert@x.org", 11 * D, Some(5.0)),
        ];
        for reversed in [false, true] {
            let mut l = Ledger::new(10 * D, 20 * D);
            let order: Vec<_> = if reversed { rows.iter().rev().collect() } else { rows.iter().collect() };
            for (e, at, v) in order {
                l.add(e, *at, *v);
            }
            assert!(l.any_after());
            let hs = l.histories(Unit::Days);
            assert_eq!(hs.len(), 1, "Bert has nothing before the date");
            let (h, after) = &hs[0];
            assert_eq!(h.email, "anna@x.org");
            // Three days, two repeats; first day 1 (+5 ms), last day 8.
            assert_eq!(h.rft.x, 2.0);
            assert!((h.rft.t_x - (7.0 - 5.0 / D as f64)).abs() < 1e-9, "{h:?}");
            assert!((h.rft.t - (9.0 - 5.0 / D as f64)).abs() < 1e-9, "{h:?}");
            // Valued and positive: 10 and 30.
            assert_eq!((h.spend.n, h.spend.mean), (2.0, 20.0));
            assert_eq!(*after, 1, "day 12 once; day 40 is past the end");
        }
    }
}
