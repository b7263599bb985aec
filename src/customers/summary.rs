//! A customer's purchase history in brief, kept on the contact and updated
//! in O(1) per purchase whatever order purchases arrive in: orders, first
//! and last order, total and valued spend, and the gaps between orders
//! (their mean exactly, their median from a small log-scale histogram),
//! the value of the first order day apart (the Gamma–Gamma model's spend
//! is the mean of the *repeat* purchase days), plus the scores of the last
//! refresh ([`Scores`]).

use serde::{Deserialize, Serialize};

use super::gamma_gamma::Spend;
use crate::clock::Millis;

const DAY: i64 = 86_400_000;
/// Histogram buckets: bucket `k` holds gaps of `[2^(k/2), 2^((k+1)/2))`
/// days (bucket 0 also the shorter ones), up to about 11 years.
pub const GAP_BUCKETS: usize = 24;

/// The purchase summary of one customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PurchaseSummary {
    /// Orders recorded (every purchase event).
    #[serde(default)]
    pub orders: u32,
    /// Distinct order days (purchases on the day of the first or last
    /// known order count once): the BG/NBD's `x + 1`.
    #[serde(default)]
    pub days: u32,
    /// First order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Millis>,
    /// Last order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Millis>,
    /// Sum of the known order values.
    #[serde(default)]
    pub total: f64,
    /// Orders with a known positive value.
    #[serde(default)]
    pub valued: u32,
    /// The known order values of the first order day, summed; `None` in
    /// summaries from before it was kept (their spend then counts every
    /// valued order, see [`Self::repeat_spend`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_day_value: Option<f64>,
    /// Valued orders on the first order day.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub first_day_valued: u32,
    /// Gaps between consecutive order days, by [`gap_bucket`] (only gaps
    /// seen in order: a purchase older than the last splits a gap of
    /// unknown ends and is left out here; the mean stays exact).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The bucket of a gap of `days` days.
pub fn gap_bucket(days: f64) -> usize {
    if days < 1.0 { 0 } else { ((2.0 * days.log2()).floor() as usize).min(GAP_BUCKETS - 1) }
}

/// The geometric middle of a bucket, in days.
fn bucket_middle(k: usize) -> f64 {
    2f64.powf((k as f64 + 0.5) / 2.0)
}

impl PurchaseSummary {
    /// Whether no purchase is known.
    pub fn is_empty(&self) -> bool {
        self.orders == 0
    }

    /// Adds one purchase. A purchase without value on the day of a known
    /// order (the date an import reports for an order already recorded)
    /// is that order and changes nothing.
    pub fn add(&mut self, at: Millis, value: Option<f64>) {
        let value = value.filter(|v| v.is_finite() && *v > 0.0);
        let day = at.div_euclid(DAY);
        let known_day = |t: Option<Millis>| t.is_some_and(|t| t.div_euclid(DAY) == day);
        let same_day = known_day(self.first) || known_day(self.last);
        if same_day && value.is_none() {
            return;
        }
        self.orders += 1;
        if let Some(v) = value {
            self.total += v;
            self.valued += 1;
        }
        self.note_first_day(at, value);
        if same_day {
            return;
        }
        self.days += 1;
        match self.last {
            Some(last) if at > last => {
                let gap = (at - last) as f64 / DAY as f64;
                if self.gaps.is_empty() {
                    self.gaps = vec![0; GAP_BUCKETS];
                }
                self.gaps[gap_bucket(gap)] += 1;
                self.last = Some(at);
            }
            None => self.last = Some(at),
            Some(_) => {}
        }
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
    }

    /// Keeps the first order day's value: a purchase on it adds to it, an
    /// earlier one starts a new first day (the old one's value is then
    /// repeat spend, in the total already). Called before `first` moves.
    fn note_first_day(&mut self, at: Millis, value: Option<f64>) {
        let day = at.div_euclid(DAY);
        let (v, n) = (value.unwrap_or(0.0), u32::from(value.is_some()));
        match self.first.map(|f| f.div_euclid(DAY)) {
            Some(first) if day == first => {
                // A summary from before kept no first-day value: it stays
                // unknown rather than counting this order alone.
                if let Some(sum) = &mut self.first_day_value {
                    *sum += v;
                    self.first_day_valued += n;
                }
            }
            Some(first) if day > first => {}
            _ => {
                self.first_day_value = Some(v);
                self.first_day_valued = n;
            }
        }
    }

    /// What the Gamma–Gamma model takes of the customer (Fader & Hardie,
    /// 2013): the repeat purchase days with a known value and the mean value
    /// of such a day, the first order day left out and a day's orders
    /// summed. Repeat days are counted as the order days after the first
    /// with a valued order among them (exact when every order has a
    /// value). A summary from before the first day's value was kept gives
    /// every valued order and their mean instead.
    pub fn repeat_spend(&self) -> Spend {
        let Some(first_value) = self.first_day_value else {
            return Spend { n: f64::from(self.valued), mean: self.average_value().unwrap_or(0.0) };
        };
        let days = self.days.saturating_sub(1).min(self.valued.saturating_sub(self.first_day_valued));
        let repeat = (self.total - first_value).max(0.0);
        Spend { n: f64::from(days), mean: if days == 0 { 0.0 } else { repeat / f64::from(days) } }
    }

    /// The mean gap between order days, in days (`None` below two days).
    pub fn mean_gap_days(&self) -> Option<f64> {
        let (first, last) = (self.first?, self.last?);
        (self.days >= 2).then(|| (last - first) as f64 / DAY as f64 / f64::from(self.days - 1))
    }

    /// The median gap from the histogram, in days (within a factor √2 of
    /// the true one), when at least one gap was seen in order.
    pub fn median_gap_days(&self) -> Option<f64> {
        let n: u32 = self.gaps.iter().sum();
        if n == 0 {
            return None;
        }
        let mut seen = 0;
        for (k, c) in self.gaps.iter().enumerate() {
            seen += c;
            if 2 * seen >= n {
                return Some(bucket_middle(k));
            }
        }
        None
    }

    /// The customer's typical gap between orders, in days: the median of
    /// the gaps when at least three were seen in order (robust to one
    /// long pause), else the mean; `None` for one-time buyers.
    pub fn typical_gap_days(&self) -> Option<f64> {
        let seen: u32 = self.gaps.iter().sum();
        if seen >= 3 { self.median_gap_days() } else { self.mean_gap_days() }
    }

    /// The mean order value, over valued orders.
    pub fn average_value(&self) -> Option<f64> {
        (self.valued > 0).then(|| self.total / f64::from(self.valued))
    }
}

/// What the last refresh computed for a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// When.
    pub at: Millis,
    /// Recency score 1–5.
    pub r: u8,
    /// Frequency score 1–5.
    pub f: u8,
    /// Monetary score 1–5.
    pub m: u8,
    /// The named RFM segment, when a rule matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfm_segment: Option<String>,
    /// P(alive) under the fitted BG/NBD, when it fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_alive: Option<f64>,
    /// Expected purchases in the configured period, when BG/NBD fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_purchases: Option<f64>,
    /// CLV over the configured horizon, when both models fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clv: Option<f64>,
    /// `p_alive` lapse mode: when P(alive) falls below the threshold
    /// (given no purchase after `at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_alive_lapse_at: Option<Millis>,
}

/// Everything winback knows of a contact as a customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The purchase summary.
    #[serde(default, skip_serializing_if = "PurchaseSummary::is_empty")]
    pub purchases: PurchaseSummary,
    /// The scores of the last refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// The segment under which the contact entered its current (or last)
    /// sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// When the contact last entered an at-risk (retention) sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_at: Option<Millis>,
}

impl Customer {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self == &Customer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: i64) -> Millis {
        1_700_000_000_000 + d * DAY
    }

    #[test]
    fn counts_and_gaps_match_a_direct_computation() {
        // Orders on days 0, 7, 14, 30, 31, 100 with values; one late arrival.
        let days = [0, 7, 14, 30, 31, 100];
        let mut s = PurchaseSummary::default();
        for (i, d) in days.iter().enumerate() {
            s.add(at(*d), Some(10.0 * (i + 1) as f64));
        }
        assert_eq!((s.orders, s.days, s.valued), (6, 6, 6));
        assert_eq!(s.total, 210.0);
        assert_eq!(s.average_value(), Some(35.0));
        assert_eq!(s.first, Some(at(0)));
        assert_eq!(s.last, Some(at(100)));
        // Mean gap: 100 days over 5 gaps.
        assert!((s.mean_gap_days().unwrap() - 20.0).abs() < 1e-9);
        // Gaps 7, 7, 16, 1, 69: median 7, reported within √2.
        let med = s.median_gap_days().unwrap();
        assert!((7.0 / 2f64.sqrt()..=7.0 * 2f64.sqrt()).contains(&med), "{med}");
        assert_eq!(s.typical_gap_days(), Some(med));
    }

    #[test]
    fn out_of_order_and_same_day_orders() {
        let mut s = PurchaseSummary::default();
        s.add(at(50), None);
        s.add(at(10), Some(5.0));
        s.add(at(30), None);
        // The import's date of an order already known: absorbed.
        s.add(at(50) + 3_600_000, None);
        // A second valued order on a known day: an order, not a new day.
        s.add(at(10), Some(7.0));
        assert_eq!((s.orders, s.days, s.valued), (4, 3, 2));
        assert_eq!((s.first, s.last), (Some(at(10)), Some(at(50))));
        assert!((s.mean_gap_days().unwrap() - 20.0).abs() < 1e-9);
        // No gap was seen in order: the typical gap is the mean.
        assert_eq!(s.typical_gap_days(), s.mean_gap_days());
        assert_eq!(PurchaseSummary::default().typical_gap_days(), None);
        let mut one = PurchaseSummary::default();
        one.add(at(1), Some(3.0));
        assert_eq!(one.typical_gap_days(), None);
    }

    /// The paper's spend: customer 1 of CDNOW bought on three days, the
    /// first day left out, the others 29.73 and 14.96 (two orders on the
    /// last day, 9.96 + 5.00). Out of order, the first day moves.
    #[test]
    fn repeat_spend_leaves_the_first_day_out() {
        let mut s = PurchaseSummary::default();
        s.add(at(0), Some(11.77));
        s.add(at(0) + 3_600_000, Some(1.0));
        s.add(at(6), Some(29.73));
        s.add(at(500), Some(9.96));
        s.add(at(500) + 60_000, Some(5.0));
        let r = s.repeat_spend();
        assert_eq!(r.n, 2.0);
        assert!((r.mean - 22.345).abs() < 1e-9, "{r:?}");
        // The same orders in another order: the first day is found anyway.
        let mut t = PurchaseSummary::default();
        for (d, v) in [(500, 9.96), (6, 29.73), (0, 11.77), (500, 5.0), (0, 1.0)] {
            t.add(at(d) + if v == 1.0 || v == 5.0 { 60_000 } else { 0 }, Some(v));
        }
        let r = t.repeat_spend();
        assert_eq!(r.n, 2.0);
        assert!((r.mean - 22.345).abs() < 1e-9, "{r:?}");
        // One order day: no repeat spend.
        let mut one = PurchaseSummary::default();
        one.add(at(3), Some(8.0));
        assert_eq!(one.repeat_spend(), Spend { n: 0.0, mean: 0.0 });
        // A summary from before: every valued order.
        let old = PurchaseSummary { first_day_value: None, first_day_valued: 0, ..s.clone() };
        assert_eq!(old.repeat_spend(), Spend { n: 5.0, mean: s.total / 5.0 });
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(serde_json::from_str::<PurchaseSummary>(&json).unwrap(), old);
    }

    #[test]
    fn buckets_cover_short_and_long_gaps() {
        assert_eq!(gap_bucket(0.2), 0);
        assert_eq!(gap_bucket(1.0), 0);
        assert_eq!(gap_bucket(1.5), 1);
        assert_eq!(gap_bucket(7.0), 5);
        assert_eq!(gap_bucket(365.0), 17);
        assert_eq!(gap_bucket(1e9), GAP_BUCKETS - 1);
    }
}
