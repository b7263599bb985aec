//! The BG/NBD model of repeat buying (Fader, Hardie & Lee, "Counting Your
//! Customers the Easy Way", Marketing Science 2005).
//!
//! While alive, a customer buys as a Poisson process with rate λ; after
//! each purchase they drop out with probability p. Across customers,
//! λ ~ Gamma(r, α) and p ~ Beta(a, b). A customer is summarised by
//! (x, tₓ, T): repeat purchases, the time of the last one and the time
//! since the first, all measured from the first purchase in one unit
//! (days or weeks). Fitted by maximum likelihood; gives P(alive) and the
//! expected number of purchases in a coming period.

use super::optimize::nelder_mead;
use super::special::{hyp2f1, ln_beta, ln_gamma};

/// One customer's purchase history, summarised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rft {
    /// Repeat purchases (orders − 1).
    pub x: f64,
    /// Time of the last purchase since the first.
    pub t_x: f64,
    /// Time since the first purchase (the customer's age).
    pub t: f64,
}

/// BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Scale (rate) of the purchase-rate distribution.
    pub alpha: f64,
    /// Beta parameter a of the dropout probability.
    pub a: f64,
    /// Beta parameter b of the dropout probability.
    pub b: f64,
}

/// A fit: the parameters and the log-likelihood they reach.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BgNbdFit {
    /// The parameters.
    pub params: BgNbd,
    /// The sample log-likelihood at them.
    pub log_likelihood: f64,
    /// Customers fitted.
    pub customers: usize,
}

impl BgNbd {
    /// The log-likelihood of one customer.
    pub fn log_likelihood(&self, c: &Rft) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let Rft { x, t_x, t } = *c;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_beta(a, b + x) - ln_beta(a, b);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln();
            let m = a3.max(a4);
            a1 + a2 + m + ((a3 - m).exp() + (a4 - m).exp()).ln()
        } else {
            a1 + a2 + a3
        }
    }

    /// P(alive | x, tₓ, T).
    pub fn p_alive(&self, c: &Rft) -> f64 {
        if c.x <= 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ratio = (a / (b + c.x - 1.0)).ln() + (r + c.x) * ((alpha + c.t) / (alpha + c.t_x)).ln();
        1.0 / (1.0 + ratio.exp())
    }

    /// Expected purchases in the next `horizon` time units, given the
    /// customer's history (the conditional expectation of the paper's
    /// equation 10).
    pub fn expected_purchases(&self, c: &Rft, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let Rft { x, t_x, t } = *c;
        // a = 1 makes the closed form 0/0; the model is continuous there.
        let a = if (a - 1.0).abs() < 1e-9 { 1.0 + 1e-9 } else { a };
        if horizon <= 0.0 {
            return 0.0;
        }
        let z = horizon / (alpha + t + horizon);
        let hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let num = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * hyp);
        let alive_odds = if x > 0.0 { (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x) } else { 0.0 };
        num / (1.0 + alive_odds)
    }

    /// Expected purchases of a new customer in `(0, t]` (equation 9).
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let a = if (a - 1.0).abs() < 1e-9 { 1.0 + 1e-9 } else { a };
        let z = t / (alpha + t);
        (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * hyp2f1(r, b, a + b - 1.0, z))
    }
}

/// Customers grouped by their repeat purchases `x` (a whole number, with
/// few distinct values): the terms of the likelihood that depend on `x`
/// and the parameters alone (four log-gammas and a log-beta) are computed
/// once per group and evaluation instead of once per customer; what is
/// left per customer is two logarithms and a log-sum-exp. The sum equals
/// [`BgNbd::log_likelihood`] summed over the customers.
struct ByRepeats {
    /// `(x, [(tₓ, T)])`.
    groups: Vec<(f64, Vec<(f64, f64)>)>,
}

impl ByRepeats {
    fn new(customers: &[Rft]) -> ByRepeats {
        let mut by: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = std::collections::BTreeMap::new();
        for c in customers {
            by.entry(c.x.to_bits()).or_default().push((c.t_x, c.t));
        }
        ByRepeats { groups: by.into_iter().map(|(x, v)| (f64::from_bits(x), v)).collect() }
    }

    fn log_likelihood(&self, m: &BgNbd) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let mut sum = 0.0;
        for (x, members) in &self.groups {
            let x = *x;
            let shared = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_beta(a, b + x) - ln_beta(a, b);
            let n = members.len() as f64;
            if x > 0.0 {
                let dropout = a.ln() - (b + x - 1.0).ln();
                let part: f64 = members
                    .iter()
                    .map(|&(t_x, t)| {
                        let a3 = -(r + x) * (alpha + t).ln();
                        let a4 = dropout - (r + x) * (alpha + t_x).ln();
                        let top = a3.max(a4);
                        top + ((a3 - top).exp() + (a4 - top).exp()).ln()
                    })
                    .sum();
                sum += n * shared + part;
            } else {
                sum += n * shared - (r + x) * members.iter().map(|&(_, t)| (alpha + t).ln()).sum::<f64>();
            }
        }
        sum
    }
}

/// Fits the model by maximum likelihood. `None` when the data cannot
/// support a fit (fewer than `min_repeat` customers with a repeat
/// purchase, or the optimiser finds no finite likelihood).
pub fn fit(customers: &[Rft], min_repeat: usize) -> Option<BgNbdFit> {
    if customers.iter().filter(|c| c.x > 0.0).count() < min_repeat {
        return None;
    }
    let grouped = ByRepeats::new(customers);
    let nll = |p: &[f64]| {
        let m = BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() };
        -grouped.log_likelihood(&m)
    };
    // Start from a neutral point scaled by the customers' ages.
    let mean_t = customers.iter().map(|c| c.t).sum::<f64>() / customers.len() as f64;
    let start = [0.0, mean_t.max(1.0).ln() - 1.0, 0.0, 0.0];
    let m = nelder_mead(super::optimize::within_bounds(nll), &start, 0.5, 20_000);
    let params = BgNbd { r: m.x[0].exp(), alpha: m.x[1].exp(), a: m.x[2].exp(), b: m.x[3].exp() };
    let sane = [params.r, params.alpha, params.a, params.b].iter().all(|v| super::plausible(*v));
    (m.value.is_finite() && sane).then_some(BgNbdFit { params, log_likelihood: -m.value, customers: customers.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_likelihood_is_the_sum_over_customers() {
        // Customers with 0..6 repeat purchases at assorted times.
        let customers: Vec<Rft> = (0..500)
            .map(|i| {
                let x = f64::from(i % 7);
                let t = 10.0 + f64::from(i % 53);
                let t_x = if x > 0.0 { t * f64::from(i % 11) / 11.0 } else { 0.0 };
                Rft { x, t_x, t }
            })
            .collect();
        let grouped = ByRepeats::new(&customers);
        assert_eq!(grouped.groups.len(), 7);
        for m in [BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, BgNbd { r: 2.0, alpha: 0.5, a: 3.0, b: 0.2 }] {
            let each: f64 = customers.iter().map(|c| m.log_likelihood(c)).sum();
            let g = grouped.log_likelihood(&m);
            assert!((g - each).abs() <= 1e-9 * each.abs(), "{g} vs {each}");
        }
    }
}
