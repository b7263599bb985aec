//! The Gamma–Gamma model of order value (Fader & Hardie, "The Gamma-Gamma
//! Model of Monetary Value", 2013): a customer's order values vary around
//! their own mean as Gamma(p, ν); across customers ν ~ Gamma(q, γ). Fitted
//! by maximum likelihood to customers with a valued repeat purchase day
//! (the number of such days and their mean value, the first day left out,
//! see `PurchaseSummary::repeat_spend`); gives the expected value of a
//! customer's future orders, shrunk from their own mean toward the
//! population's by how much evidence they have.

use super::optimize::nelder_mead;
use super::special::ln_gamma;

/// One customer's valued repeat purchase days: how many and their mean
/// value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    /// Valued repeat purchase days.
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
    /// Set when the customers' mean order values spread no more than
    /// their order counts explain: the likelihood then rises toward
    /// q, γ → ∞ (every customer the same ν), the parameters are wherever
    /// the optimiser stopped on that ridge, and every customer's expected
    /// order value is this population mean (the mean of all their orders,
    /// the maximum-likelihood value in that limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_mean: Option<f64>,
}

impl GammaGammaFit {
    /// The expected value of a customer's future orders (the population
    /// mean without valued orders, or when the fit found no spread).
    pub fn expected_value(&self, s: &Spend) -> f64 {
        match self.pooled_mean {
            Some(m) => m,
            None if s.n > 0.0 => self.params.expected_value(s),
            None => self.params.population_mean(),
        }
    }

    /// The population's mean order value.
    pub fn population_mean(&self) -> f64 {
        self.pooled_mean.unwrap_or_else(|| self.params.population_mean())
    }

    /// What an operator should know about the fit: `Some` when it found
    /// no spread between customers.
    pub fn note(&self) -> Option<String> {
        self.pooled_mean.map(|m| {
            format!(
                "Gamma-Gamma: no spread in average order value between customers ({} fitted): \
                 expected order value is the population mean, {m:.2}, for every customer",
                self.customers
            )
        })
    }
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

/// The spread in log-likelihood between the model and its no-spread
/// limit below which the limit is taken: the 5% point of the likelihood
/// ratio test of a parameter on its boundary (½·χ²₁: 2.71 / 2).
const NO_SPREAD_LOG_LIKELIHOOD: f64 = 1.35;

impl ByOrders {
    /// The log-likelihood of the no-spread limit (q, γ → ∞ with q/γ = ν:
    /// every customer's mean is that of `x` orders of Gamma(p, ν)), at the
    /// ν that maximises it for `p`: total orders · p / total value.
    fn pooled_log_likelihood(&self, p: f64) -> f64 {
        let (orders, value) = self.totals();
        let nu = p * orders / value;
        let mut sum = p * orders * nu.ln() - p * orders;
        for (x, members) in &self.groups {
            let x = *x;
            let shared = p * x * x.ln() - ln_gamma(p * x);
            sum += members.len() as f64 * shared + members.iter().map(|&(_, ln_m)| (p * x - 1.0) * ln_m).sum::<f64>();
        }
        sum
    }

    /// Orders and their total value.
    fn totals(&self) -> (f64, f64) {
        self.groups.iter().fold((0.0, 0.0), |(n, v), (x, members)| {
            (n + x * members.len() as f64, v + x * members.iter().map(|&(m, _)| m).sum::<f64>())
        })
    }
}

/// Fits by maximum likelihood to every customer with a valued order and a
/// positive mean (the papers' definition: repeat purchases only, counted
/// by the caller); `None` with fewer than `min_customers` of them or when
/// the population mean is infinite (q ≤ 1). Detects the no-spread limit
/// (see [`GammaGammaFit::pooled_mean`]).
pub fn fit_spends(spends: &[Spend], min_customers: usize) -> Option<GammaGammaFit> {
    let usable: Vec<Spend> =
        spends.iter().copied().filter(|s| s.n >= 1.0 && s.mean > 0.0 && s.mean.is_finite()).collect();
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
    let m = nelder_mead(super::optimize::within_bounds(nll), &start, 0.5, 20_000);
    let params = GammaGamma { p: m.x[0].exp(), q: m.x[1].exp(), gamma: m.x[2].exp() };
    let log_likelihood = -m.value;
    let pooled = nelder_mead(|v: &[f64]| -grouped.pooled_log_likelihood(v[0].exp()), &[0.0], 0.5, 2_000);
    // Off along the ridge toward q, γ → ∞ (q is scale-free: at 10⁶ the
    // customers' ν vary by 0.1%), or no better than its limit.
    let runaway = params.q > 1e6;
    let no_spread = runaway || !log_likelihood.is_finite() || log_likelihood + pooled.value < NO_SPREAD_LOG_LIKELIHOOD;
    let (orders, value) = grouped.totals();
    let pooled_mean = no_spread.then_some(value / orders);
    let log_likelihood = if no_spread { log_likelihood.max(-pooled.value) } else { log_likelihood };
    let finite = [params.p, params.q, params.gamma, log_likelihood, value / orders].iter().all(|v| v.is_finite());
    if !finite {
        return None;
    }
    (no_spread || params.q > 1.0).then_some(GammaGammaFit {
        params,
        log_likelihood,
        customers: usable.len(),
        pooled_mean,
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

    #[test]
    fn pooled_likelihood_is_the_limit_of_no_spread() {
        // q, γ → ∞ with γ = q/ν: the model's likelihood tends to that of
        // one ν for everybody, at the ν that maximises it.
        let spends: Vec<Spend> =
            (0..300).map(|i| Spend { n: f64::from(1 + i % 7), mean: 10.0 + f64::from((i * 53) % 90) }).collect();
        let grouped = ByOrders::new(&spends);
        let p = 2.5;
        let (orders, value) = grouped.totals();
        let nu = p * orders / value;
        let q = 1e8;
        let limit = grouped.log_likelihood(&GammaGamma { p, q, gamma: q / nu });
        let pooled = grouped.pooled_log_likelihood(p);
        assert!(
            (limit - pooled).abs() < 1e-3 * pooled.abs().max(1.0) && (limit - pooled).abs() < 0.5,
            "{limit} vs {pooled}"
        );
        // Any other ν does worse.
        for other in [nu * 0.9, nu * 1.1] {
            let q = 1e8;
            assert!(grouped.log_likelihood(&GammaGamma { p, q, gamma: q / other }) < pooled);
        }
    }
}
