//! RFM scores: recency, frequency and monetary value, each 1–5 by
//! quintiles over all buyers. A value's score is 1 + ⌊5 · (share of buyers
//! with a strictly lower value)⌋, so equal values always share a score,
//! fewer than five distinct values simply leave scores unused, and a lone
//! buyer scores 1. For recency, fewer days since the last order is better,
//! so it is scored on the negated value.

/// The cut points of one score: the values a value must exceed to reach
/// scores 2, 3, 4 and 5.
///
/// With the buyers' `n` values sorted, `below(v)` (how many are strictly
/// lower than `v`) reaches `m ≥ 1` exactly when `sorted[m − 1] < v`, and
/// ⌊5 · below / n⌋ ≥ k exactly when below ≥ ⌈k · n / 5⌉. So score k + 1 is
/// reached when `v` exceeds `sorted[⌈k · n / 5⌉ − 1]`: four comparisons per
/// value instead of a search through every buyer's value.
#[derive(Debug, Clone, Default)]
pub struct Quintiles {
    cuts: Vec<f64>,
}

impl Quintiles {
    /// Cuts over `values` (non-finite values are left out).
    pub fn new(mut values: Vec<f64>) -> Quintiles {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let cuts = (1..5).filter_map(|k| (k * n).div_ceil(5).checked_sub(1).and_then(|i| values.get(i)).copied());
        Quintiles { cuts: cuts.collect() }
    }

    /// The score (1–5) of a value: 1 + ⌊5 · share strictly below⌋.
    pub fn score(&self, v: f64) -> u8 {
        1 + self.cuts.iter().filter(|c| **c < v).count() as u8
    }
}

/// Quintile scores (1–5) of `values`, in their order; higher values score
/// higher.
pub fn quintile_scores(values: &[f64]) -> Vec<u8> {
    let q = Quintiles::new(values.to_vec());
    values.iter().map(|v| q.score(*v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_with_ties_and_few_values() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quintile_scores(&ten), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Ties share a score: four 5s above one 1.
        assert_eq!(quintile_scores(&[5.0, 5.0, 1.0, 5.0, 5.0]), [2, 2, 1, 2, 2]);
        // Fewer than five distinct values: two groups.
        assert_eq!(quintile_scores(&[3.0, 7.0, 3.0, 7.0]), [1, 3, 1, 3]);
        // One customer; everyone equal.
        assert_eq!(quintile_scores(&[42.0]), [1]);
        assert_eq!(quintile_scores(&[2.0, 2.0, 2.0]), [1, 1, 1]);
        // Recency: fewer days since the last order is better.
        assert_eq!(quintile_scores(&[-1.0, -300.0, -30.0]), [4, 1, 2]);
        assert!(quintile_scores(&[]).is_empty());
    }

    /// The four cuts give what the definition gives, counted directly:
    /// 1 + ⌊5 · (values strictly below) / n⌋ (at most 5), for lists of
    /// every length up to 40 with many ties, and for values between and
    /// beyond them.
    #[test]
    fn cuts_agree_with_the_definition() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % 12
        };
        for n in 1..=40usize {
            let values: Vec<f64> = (0..n).map(|_| next() as f64).collect();
            let q = Quintiles::new(values.clone());
            for probe in (-2..=26).map(|h| f64::from(h) / 2.0) {
                let below = values.iter().filter(|v| **v < probe).count();
                assert_eq!(q.score(probe), (1 + 5 * below / n).min(5) as u8, "n {n}, value {probe}, values {values:?}");
            }
        }
    }
}
