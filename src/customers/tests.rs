//! The customer models against published values and against simulations
//! with known parameters.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bgnbd::{self, BgNbd, Rft};
use super::gamma_gamma::{self, GammaGamma, Spend};
use super::*;

/// The BG/NBD estimates on the CDNOW sample (Fader, Hardie & Lee 2005).
const CDNOW: BgNbd = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

#[test]
fn published_conditional_expectation() {
    // The paper's worked example: 2 repeat purchases, the last at week
    // 30.43, observed for 38.86 weeks: 1.226 purchases in the next 39.
    let c = Rft { x: 2.0, t_x: 30.43, t: 38.86 };
    assert!((CDNOW.expected_purchases(&c, 39.0) - 1.226).abs() < 5e-4);
    // P(alive) by the closed form, computed by hand:
    // 1 / (1 + a/(b+x−1) · ((α+T)/(α+tₓ))^(r+x)) = 0.72658.
    assert!((CDNOW.p_alive(&c) - 0.72658).abs() < 1e-4);
    // No repeat purchase: alive by assumption of the model.
    assert_eq!(CDNOW.p_alive(&Rft { x: 0.0, t_x: 0.0, t: 30.0 }), 1.0);
    // A new customer's 39 weeks, equation 9 (1.1967).
    assert!((CDNOW.expected_purchases_new(39.0) - 1.1967).abs() < 1e-3);
}

/// A Gamma(shape, rate) draw (Marsaglia & Tsang; shape < 1 boosted).
fn gamma(rng: &mut StdRng, shape: f64, rate: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.r#gen();
        return gamma(rng, shape + 1.0, rate) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (mut x, mut v);
        loop {
            // A standard normal by Box–Muller.
            let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
            x = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            v = 1.0 + c * x;
            if v > 0.0 {
                break;
            }
        }
        v = v * v * v;
        let u: f64 = rng.r#gen();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v / rate;
        }
    }
}

fn beta(rng: &mut StdRng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a, 1.0);
    x / (x + gamma(rng, b, 1.0))
}

/// Purchase times (after the first, at 0) of one simulated BG/NBD
/// customer observed until `end`.
fn simulate(rng: &mut StdRng, m: &BgNbd, end: f64) -> Vec<f64> {
    let lambda = gamma(rng, m.r, m.alpha);
    let p = beta(rng, m.a, m.b);
    let mut t = 0.0;
    let mut out = vec![0.0];
    loop {
        t += -rng.r#gen::<f64>().max(1e-300).ln() / lambda;
        if t > end {
            return out;
        }
        out.push(t);
        // Dropout may follow any repeat purchase.
        if rng.r#gen::<f64>() < p {
            return out;
        }
    }
}

fn rft(times: &[f64], end: f64) -> Rft {
    let last = times.iter().copied().fold(0.0, f64::max);
    Rft { x: (times.len() - 1) as f64, t_x: last, t: end }
}

#[test]
fn bgnbd_recovers_simulated_parameters() {
    for (seed, truth) in
        [(1, BgNbd { r: 0.25, alpha: 4.0, a: 0.8, b: 2.5 }), (2, BgNbd { r: 1.2, alpha: 10.0, a: 0.5, b: 6.0 })]
    {
        let mut rng = StdRng::seed_from_u64(seed);
        let customers: Vec<Rft> = (0..4_000)
            .map(|_| {
                let end = rng.gen_range(30.0..80.0);
                rft(&simulate(&mut rng, &truth, end), end)
            })
            .collect();
        let fit = bgnbd::fit(&customers, 20).expect("enough repeat buyers");
        let p = fit.params;
        // Tolerances: r and α are strongly correlated, so their ratio
        // (the mean purchase rate) is checked tightly and each loosely.
        let rel = |got: f64, want: f64| (got - want).abs() / want;
        assert!(rel(p.r / p.alpha, truth.r / truth.alpha) < 0.15, "seed {seed}: {p:?} vs {truth:?}");
        for (got, want) in [(p.r, truth.r), (p.alpha, truth.alpha), (p.a, truth.a), (p.b, truth.b)] {
            assert!(rel(got, want) < 0.35, "seed {seed}: {p:?} vs {truth:?}");
        }
        // The fit is at least as likely as the truth (it is the maximum).
        let ll_truth: f64 = customers.iter().map(|c| truth.log_likelihood(c)).sum();
        assert!(fit.log_likelihood >= ll_truth - 1e-6, "{} < {ll_truth}", fit.log_likelihood);
    }
}

#[test]
fn gamma_gamma_recovers_simulated_parameters() {
    // The CDNOW estimates of Fader & Hardie (2013): p 6.25, q 3.74, γ 15.44.
    let truth = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
    let mut rng = StdRng::seed_from_u64(7);
    // Order counts from 2 to 40: the spread of means across counts is what
    // tells p apart from γ.
    let spends: Vec<Spend> = (0..8_000)
        .map(|_| {
            let nu = gamma(&mut rng, truth.q, truth.gamma);
            let n = rng.gen_range(2..40);
            let total: f64 = (0..n).map(|_| gamma(&mut rng, truth.p, nu)).sum();
            Spend { n: f64::from(n), mean: total / f64::from(n) }
        })
        .collect();
    let fit = gamma_gamma::fit_spends(&spends, 20).expect("enough spenders");
    assert_eq!(fit.pooled_mean, None, "{fit:?}");
    let p = fit.params;
    let ll_truth: f64 = spends.iter().map(|s| truth.log_likelihood(s)).sum();
    assert!(fit.log_likelihood >= ll_truth - 1e-6, "{} < {ll_truth}", fit.log_likelihood);
    let rel = |got: f64, want: f64| (got - want).abs() / want;
    assert!(rel(p.population_mean(), truth.population_mean()) < 0.05, "{p:?}");
    // p and γ trade off along a ridge of the likelihood (their product
    // sets the mean): each within 30%, the mean within 5%.
    for (got, want) in [(p.p, truth.p), (p.q, truth.q), (p.gamma, truth.gamma)] {
        assert!(rel(got, want) < 0.30, "{p:?} vs {truth:?}");
    }
    // Shrinkage by hand: p(γ + n·m)/(p·n + q − 1) for n = 2, m = 50.
    let s = Spend { n: 2.0, mean: 50.0 };
    let want = 6.25 * (15.44 + 100.0) / (12.5 + 3.74 - 1.0);
    assert!((truth.expected_value(&s) - want).abs() < 1e-9);
}

#[test]
fn too_few_repeat_buyers_fit_nothing() {
    let day = 86_400_000;
    let purchases: Vec<Purchase> = (0..10)
        .flat_map(|i| {
            let email = format!("c{i}@example.com");
            [
                Purchase { email: email.clone(), at: i * day, value: Some(10.0) },
                Purchase { email, at: (i + 30) * day, value: Some(20.0) },
            ]
        })
        .collect();
    let r = model(&purchases, 100 * day, 100 * day, Unit::Weeks, 52.0, 0.1);
    assert_eq!((r.buyers, r.repeat_buyers), (10, 10));
    assert!(r.bgnbd.is_none() && r.gamma_gamma.is_none() && r.mean_clv.is_none() && r.holdout.is_none());
    assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
}

#[test]
fn calibration_and_holdout_agree_on_simulated_buyers() {
    let truth = BgNbd { r: 0.6, alpha: 6.0, a: 0.7, b: 3.0 };
    let mut rng = StdRng::seed_from_u64(11);
    let week = 7 * 86_400_000;
    let (calibration, end) = (52.0, 104.0);
    let mut purchases = Vec::new();
    for i in 0..3_000 {
        // First purchases spread over the first 26 weeks.
        let start = rng.gen_range(0.0..26.0);
        for t in simulate(&mut rng, &truth, end - start) {
            let at = ((start + t) * week as f64) as i64;
            purchases.push(Purchase { email: format!("c{i}@example.com"), at, value: Some(gamma(&mut rng, 5.0, 0.1)) });
        }
    }
    let as_of = (calibration * week as f64) as i64;
    let r = model(&purchases, as_of, (end * week as f64) as i64, Unit::Weeks, 52.0, 0.1);
    let h = r.holdout.clone().expect("purchases after the calibration date");
    assert!((h.length - 52.0).abs() < 1e-9);
    let err = (h.predicted - h.actual as f64).abs() / h.actual as f64;
    assert!(err < 0.10, "predicted {:.1} vs actual {}", h.predicted, h.actual);
    assert_eq!(h.by_frequency.iter().map(|g| g.customers).sum::<usize>(), h.customers);
    assert!(r.mean_clv.is_some_and(|v| v > 0.0), "{r:?}");
}

#[test]
fn a_fit_that_runs_off_to_the_bounds_is_no_fit() {
    // Perfectly regular buyers, all silent for months: the likelihood
    // climbs toward r, α → ∞ and a → 0, where the expected purchases
    // cannot be computed. That is reported as no fit, not as figures.
    let week = 7.0;
    let customers: Vec<Rft> = (0..30)
        .map(|i| {
            let (gap, orders, silent) = (7.0 + 3.0 * i as f64, (4 + i % 5) as f64, 100.0 + i as f64);
            let span = gap * (orders - 1.0);
            Rft { x: orders - 1.0, t_x: span / week, t: (span + silent) / week }
        })
        .collect();
    assert!(bgnbd::fit(&customers, MIN_REPEAT_BUYERS).is_none());
}

/// Order values uniform in 5–100 whatever the customer (as in
/// benches/customers.rs): `n` orders each, their mean, and the sums.
fn uniform_spends(rng: &mut StdRng, customers: usize) -> (Vec<Spend>, f64, f64) {
    let (mut orders, mut value) = (0.0, 0.0);
    let spends = (0..customers)
        .map(|_| {
            let n = rng.gen_range(2..30);
            let total: f64 = (0..n).map(|_| rng.gen_range(5.0..100.0)).sum();
            orders += f64::from(n);
            value += total;
            Spend { n: f64::from(n), mean: total / f64::from(n) }
        })
        .collect();
    (spends, orders, value)
}

#[test]
fn order_values_without_spread_between_customers_give_the_population_mean() {
    for (seed, customers) in [(5, 5_000), (6, 300)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (spends, orders, value) = uniform_spends(&mut rng, customers);
        let fit = gamma_gamma::fit_spends(&spends, MIN_SPENDERS).expect("a fit");
        println!("{customers} customers: {fit:?}");
        // The mean of all orders, for every customer whatever their own.
        let pooled = fit.pooled_mean.expect("no spread detected");
        assert!((pooled - value / orders).abs() < 1e-9, "{pooled} vs {}", value / orders);
        assert_eq!(fit.population_mean(), pooled);
        for s in [Spend { n: 20.0, mean: 95.0 }, Spend { n: 2.0, mean: 6.0 }, Spend { n: 0.0, mean: 0.0 }] {
            assert_eq!(fit.expected_value(&s), pooled);
        }
        assert!(fit.note().is_some_and(|n| n.contains("no spread in average order value")), "{:?}", fit.note());
        assert!(fit.log_likelihood.is_finite());
    }
}

#[test]
fn the_model_report_says_so_and_values_customers_at_the_population_mean() {
    let truth = BgNbd { r: 0.6, alpha: 6.0, a: 0.7, b: 3.0 };
    let mut rng = StdRng::seed_from_u64(12);
    let week = 7 * 86_400_000;
    let mut purchases = Vec::new();
    let (mut orders, mut value) = (0.0, 0.0);
    for i in 0..2_000 {
        let start = rng.gen_range(0.0..26.0);
        for t in simulate(&mut rng, &truth, 52.0 - start) {
            let v = rng.gen_range(5.0..100.0);
            purchases.push(Purchase {
                email: format!("c{i}@example.com"),
                at: ((start + t) * week as f64) as i64,
                value: Some(v),
            });
            (orders, value) = (orders + 1.0, value + v);
        }
    }
    let as_of = 52 * week;
    let r = model(&purchases, as_of, as_of, Unit::Weeks, 52.0, 0.1);
    let (bg, gg) = (r.bgnbd.expect("BG/NBD"), r.gamma_gamma.expect("Gamma-Gamma"));
    let pooled = gg.pooled_mean.expect("no spread detected");
    // The mean over the fitted customers' orders (two or more each): close
    // to that of every order, and to the uniform's 52.5.
    assert!((pooled - value / orders).abs() < 2.0 && (pooled - 52.5).abs() < 3.0, "{pooled}");
    assert!(r.notes.iter().any(|n| n.contains("no spread in average order value")), "{:?}", r.notes);
    // Each customer's CLV at the population mean.
    let hs = histories(&purchases, as_of, Unit::Weeks);
    let want =
        hs.iter().map(|h| clv(&bg.params, pooled, &h.rft, 52.0, Unit::Weeks, 0.1)).sum::<f64>() / hs.len() as f64;
    let got = r.mean_clv.expect("a mean CLV");
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
}

#[test]
fn the_refresh_scores_every_customer_at_the_population_mean_without_spread() {
    use crate::domain::Contact;
    let cfg = crate::config::Config::from_toml("test", "").expect("default config");
    let truth = BgNbd { r: 0.6, alpha: 6.0, a: 0.7, b: 3.0 };
    let mut rng = StdRng::seed_from_u64(13);
    let (day, now) = (86_400_000i64, 1_790_000_000_000i64);
    let contacts: Vec<Contact> = (0..1_500)
        .map(|i| {
            let mut c = Contact::new(format!("c{i}@example.com"), now - 400 * day);
            let start = rng.gen_range(0.0..26.0);
            for t in simulate(&mut rng, &truth, 52.0 - start) {
                let at = now - 364 * day + ((start + t) * 7.0 * day as f64) as i64;
                c.customer.purchases.add(at, Some(rng.gen_range(5.0..100.0)));
            }
            c
        })
        .collect();
    let mut g = refresh::Gathered::default();
    for c in &contacts {
        g.add(c, now, cfg.customers.unit);
    }
    let (scorer, notes, bg, gg) = refresh::Scorer::new(&cfg.customers, cfg.lapse.mode, now, g);
    let (bg, pooled) = (bg.expect("BG/NBD").params, gg.and_then(|g| g.pooled_mean).expect("no spread detected"));
    assert!(notes.iter().any(|n| n.contains("no spread in average order value")), "{notes:?}");
    let unit = cfg.customers.unit;
    let horizon = cfg.customers.horizon.as_millis() as f64 / unit.millis();
    for c in contacts.iter().take(50) {
        let p = &c.customer.purchases;
        let (first, last) = (p.first.expect("first"), p.last.expect("last"));
        let rft = Rft {
            x: f64::from(p.days - 1),
            t_x: (last - first) as f64 / unit.millis(),
            t: (now - first) as f64 / unit.millis(),
        };
        let want = clv(&bg, pooled, &rft, horizon, unit, cfg.customers.discount);
        let got = scorer.score(c).and_then(|s| s.clv).expect("a CLV");
        assert!((got - want).abs() <= 1e-9 * want.max(1.0), "{got} vs {want}");
    }
}
