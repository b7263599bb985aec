//! The Gamma–Gamma model of order value (Fader & Hardie, "The Gamma-Gamma
//! Model of Monetary Value", 2013): a customer's order values vary around
//! their own mean as Gamma(p, ν); across customers ν ~ Gamma(q, γ). Fitted
//! by maximum likelihood to customers with at least two valued orders
//! (their number and mean value); gives the expected value of a
//! customer's future orders, shrunk from their own mean toward the
//! population's by how much evidence they have.

use super::optimize::nelder_mead;
use super::special::ln_gamma;

/// One customer's valued orders: how many and their mean value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    /// Valued orders.
    pub n: f64,
    /// Their mean value.
    pub mean: f64,
}

/// Gamma–Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GammaGamma {
    /// Shape of the order-value distribution.
    pub p: f64,
    /// Shape of the distribution of customers' scale.
    pub q: f64,
    /// Scale of the distribution of customers' scale.
    pub gamma: f64,
}

/// A fit with its log-likelihood.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GammaGammaFit {
    /// The parameters.
    pub params: GammaGamma,
    /// The sample log-likelihood.
    pub log_likelihood: f64,
    /// Customers fitted.
    pub customers: usize,
}

impl GammaGamma {
    /// The log-likelihood of one customer's mean order value.
    pub fn log_likelihood(&self, s: &Spend) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let (x, m) = (s.n, s.mean);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q) + q * gamma.ln() + (p * x - 1.0) * m.ln() + p * x * x.ln()
            - (p * x + q) * (gamma + m * x).ln()
    }

    /// The expected value of a customer's future orders.
    pub fn expected_value(&self, s: &Spend) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        p * (gamma + s.n * s.mean) / (p * s.n + q - 1.0)
    }

    /// The population's mean order value (finite when q > 1).
    pub fn population_mean(&self) -> f64 {
        self.p * self.gamma / (self.q - 1.0)
    }
}

/// Customers grouped by their number of valued orders `x` (a whole
/// number): the log-gammas depend on `x` and the parameters alone and are
/// computed once per group and evaluation, and `ln m` once per customer;
/// what is left per customer and evaluation is one logarithm. The sum
/// equals [`GammaGamma::log_likelihood`] summed over the customers.
struct ByOrders {
    /// `(x, [(m, ln m)])`.
    groups: Vec<(f64, Vec<(f64, f64)>)>,
}

impl ByOrders {
    fn new(spends: &[Spend]) -> ByOrders {
        let mut by: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = std::collections::BTreeMap::new();
        for s in spends {
            by.entry(s.n.to_bits()).or_default().push((s.mean, s.mean.ln()));
        }
        ByOrders { groups: by.into_iter().map(|(x, v)| (f64::from_bits(x), v)).collect() }
    }

    fn log_likelihood(&self, g: &GammaGamma) -> f64 {
        let GammaGamma { p, q, gamma } = *g;
        let mut sum = 0.0;
        for (x, members) in &self.groups {
            let x = *x;
            let shared = ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q) + q * gamma.ln() + p * x * x.ln();
            let part: f64 =
                members.iter().map(|&(m, ln_m)| (p * x - 1.0) * ln_m - (p * x + q) * (gamma + m * x).ln()).sum();
            sum += members.len() as f64 * shared + part;
        }
        sum
    }
}

/// Fits by maximum likelihood; `None` with fewer than `min_customers`
/// usable customers (two valued orders or more, positive mean).
pub fn fit(spends: &[Spend], min_customers: usize) -> Option<GammaGammaFit> {
    let usable: Vec<Spend> = spends.iter().copied().filter(|s| s.n >= 2.0 && s.mean > 0.0).collect();
    if usable.len() < min_customers {
        return None;
    }
    let grouped = ByOrders::new(&usable);
    let nll = |v: &[f64]| {
        let m = GammaGamma { p: v[0].exp(), q: v[1].exp(), gamma: v[2].exp() };
        -grouped.log_likelihood(&m)
    };
    let mean = usable.iter().map(|s| s.mean).sum::<f64>() / usable.len() as f64;
    let start = [0.0, 1.0, mean.ln()];
    let m = nelder_mead(nll, &start, 0.5, 20_000);
    let params = GammaGamma { p: m.x[0].exp(), q: m.x[1].exp(), gamma: m.x[2].exp() };
    (m.value.is_finite() && params.q > 1.0).then_some(GammaGammaFit {
        params,
        log_likelihood: -m.value,
        customers: usable.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_likelihood_is_the_sum_over_customers() {
        let spends: Vec<Spend> =
            (0..400).map(|i| Spend { n: f64::from(2 + i % 9), mean: 5.0 + f64::from((i * 37) % 200) / 3.0 }).collect();
        let grouped = ByOrders::new(&spends);
        assert_eq!(grouped.groups.len(), 9);
        for g in [GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 }, GammaGamma { p: 1.5, q: 8.0, gamma: 2.0 }] {
            let each: f64 = spends.iter().map(|s| g.log_likelihood(s)).sum();
            let got = grouped.log_likelihood(&g);
            assert!((got - each).abs() <= 1e-9 * each.abs(), "{got} vs {each}");
        }
    }
}
