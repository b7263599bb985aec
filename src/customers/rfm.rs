//! RFM scores: recency, frequency and monetary value, each 1–5 by
//! quintiles over all buyers. A value's score is 1 + ⌊5 · (share of buyers
//! with a strictly lower value)⌋, so equal values always share a score,
//! fewer than five distinct values simply leave scores unused, and a lone
//! buyer scores 1. For recency, fewer days since the last order is better,
//! so it is scored on the negated value.

/// The cut points of one score: all buyers' values, sorted.
#[derive(Debug, Clone, Default)]
pub struct Quintiles {
    sorted: Vec<f64>,
}

impl Quintiles {
    /// Cuts over `values` (non-finite values are left out).
    pub fn new(mut values: Vec<f64>) -> Quintiles {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        Quintiles { sorted: values }
    }

    /// The score (1–5) of a value: 1 + ⌊5 · share strictly below⌋.
    pub fn score(&self, v: f64) -> u8 {
        let n = self.sorted.len().max(1) as f64;
        let below = self.sorted.partition_point(|s| *s < v) as f64;
        (1.0 + (5.0 * below / n).floor()).clamp(1.0, 5.0) as u8
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
}
