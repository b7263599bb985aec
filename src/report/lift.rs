//! Incremental lift of a mailed group over its control group: the
//! difference of two proportions (reactivation rates) with Newcombe's
//! hybrid score interval (method 10 of Newcombe, "Interval estimation for
//! the difference between independent proportions", Statistics in
//! Medicine 1998), the two-sided p-value of the pooled two-proportion z
//! test, and the sample size per group still needed to detect a given
//! effect (Fleiss, without continuity correction, 95% two-sided, 80%
//! power). Pure arithmetic.

use serde::{Deserialize, Serialize};

use crate::customers::special::normal_cdf;

/// z for a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;
/// z for 80% power.
pub const Z_POWER_80: f64 = 0.841_621_233_572_914_3;

/// Mailed against control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lift {
    /// Mailed rate minus control rate.
    pub absolute: f64,
    /// The absolute lift over the control rate (absent when the control rate is 0).
    pub relative: Option<f64>,
    /// 95% interval of the absolute lift (Newcombe's hybrid score).
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
    /// Two-sided p-value (pooled z test).
    pub p_value: f64,
}

/// The Wilson score interval of `x` successes in `n` (95%).
pub fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, z2) = (n as f64, Z_95 * Z_95);
    let p = x as f64 / n;
    let d = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / d;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The lift of `x1` of `n1` (mailed) over `x2` of `n2` (control); `None`
/// while either group is empty.
pub fn lift(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Lift> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let ((l1, u1), (l2, u2)) = (wilson(x1, n1), wilson(x2, n2));
    let d = p1 - p2;
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let p_value = if se > 0.0 { 2.0 * (1.0 - normal_cdf((d / se).abs())) } else { 1.0 };
    Some(Lift {
        absolute: d,
        relative: (p2 > 0.0).then(|| d / p2),
        ci_low: d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        ci_high: d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// Contacts needed per group to detect a rate of `p1` against `p2` (95%
/// two-sided, 80% power); `None` when they are equal.
pub fn sample_size(p1: f64, p2: f64) -> Option<u64> {
    if (p1 - p2).abs() < f64::EPSILON {
        return None;
    }
    let pb = (p1 + p2) / 2.0;
    let a = Z_95 * (2.0 * pb * (1.0 - pb)).sqrt();
    let b = Z_POWER_80 * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    Some(((a + b).powi(2) / (p1 - p2).powi(2)).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newcombes_published_examples() {
        // Newcombe (1998), table II, method 10.
        for (x1, n1, x2, n2, lo, hi) in
            [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090), (5, 56, 0, 29, -0.0381, 0.1926)]
        {
            let l = lift(x1, n1, x2, n2).unwrap();
            assert!((l.ci_low - lo).abs() < 1e-4 && (l.ci_high - hi).abs() < 1e-4, "{x1}/{n1} vs {x2}/{n2}: {l:?}");
        }
    }

    #[test]
    fn p_value_and_sample_size_by_hand() {
        // 56/70 vs 48/80: pooled p = 104/150, z = 0.2 / 0.075467 = 2.6502,
        // two-sided p = 0.00805 (chi-square without correction agrees).
        let l = lift(56, 70, 48, 80).unwrap();
        assert!((l.p_value - 0.008_045).abs() < 2e-5, "{l:?}");
        assert!((l.relative.unwrap() - 0.2 / 0.6).abs() < 1e-12);
        // Fleiss' table: 10% against 15% needs 686 per group; 5% against
        // 6% needs 8,158.
        assert_eq!(sample_size(0.10, 0.15), Some(686));
        assert_eq!(sample_size(0.05, 0.06), Some(8_158));
        assert_eq!(sample_size(0.1, 0.1), None);
        assert!(lift(1, 10, 0, 0).is_none());
        // No difference at all: p = 1.
        assert!((lift(0, 10, 0, 10).unwrap().p_value - 1.0).abs() < 1e-12);
    }
}
