//! Nelder–Mead minimisation (the downhill simplex), used to fit the
//! customer models by maximum likelihood over log-parameters. No
//! derivatives needed; restarted from its best point until it stops
//! improving, which guards against the simplex collapsing early.

/// The result of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// Where.
    pub x: Vec<f64>,
    /// The function's value there.
    pub value: f64,
    /// Function evaluations spent.
    pub evaluations: usize,
}

/// The largest log-parameter a fit looks at: e^16.1 ≈ 10⁷. Beyond it a
/// model is in its limit (no spread between customers) and the likelihood
/// is flat; without a wall the simplex would walk that ridge for its whole
/// budget.
pub const LOG_BOUND: f64 = 16.1;

/// `f` with every coordinate kept at or below [`LOG_BOUND`] (+∞ above).
/// Toward zero there is no wall: a fit that runs off that way is caught
/// by the plausibility check of its parameters.
pub fn within_bounds(f: impl Fn(&[f64]) -> f64) -> impl Fn(&[f64]) -> f64 {
    move |x: &[f64]| if x.iter().all(|v| *v <= LOG_BOUND) { f(x) } else { f64::INFINITY }
}

/// Minimises `f` from `start`, with an initial step of `step` along each
/// axis. Non-finite values count as +∞.
pub fn nelder_mead(f: impl Fn(&[f64]) -> f64, start: &[f64], step: f64, max_evaluations: usize) -> Minimum {
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut best = Minimum { x: start.to_vec(), value: eval(start), evaluations: 1 };
    for _ in 0..8 {
        let before = best.value;
        let run = simplex(&eval, &best.x, step, max_evaluations.saturating_sub(best.evaluations));
        best = Minimum { evaluations: best.evaluations + run.evaluations, ..run };
        if (before - best.value).abs() <= 1e-10 * (1.0 + best.value.abs()) || best.evaluations >= max_evaluations {
            break;
        }
    }
    best
}

fn simplex(f: &impl Fn(&[f64]) -> f64, start: &[f64], step: f64, budget: usize) -> Minimum {
    let n = start.len();
    let mut pts: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    pts.push((start.to_vec(), f(start)));
    for i in 0..n {
        let mut x = start.to_vec();
        x[i] += step;
        let v = f(&x);
        pts.push((x, v));
    }
    let mut evaluations = n + 1;
    let point = |c: &[f64], towards: &[f64], t: f64| -> Vec<f64> {
        c.iter().zip(towards).map(|(a, b)| a + t * (b - a)).collect()
    };
    while evaluations < budget {
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (lo, hi) = (pts[0].1, pts[n].1);
        if (hi - lo).abs() <= 1e-12 * (1.0 + lo.abs()) {
            break;
        }
        let centroid: Vec<f64> = (0..n).map(|j| pts[..n].iter().map(|p| p.0[j]).sum::<f64>() / n as f64).collect();
        let worst = pts[n].0.clone();
        let reflected = point(&centroid, &worst, -1.0);
        let fr = f(&reflected);
        evaluations += 1;
        if fr < pts[0].1 {
            let expanded = point(&centroid, &worst, -2.0);
            let fe = f(&expanded);
            evaluations += 1;
            pts[n] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < pts[n - 1].1 {
            pts[n] = (reflected, fr);
        } else {
            let toward = if fr < pts[n].1 { &reflected } else { &worst };
            let contracted = point(&centroid, toward, 0.5);
            let fc = f(&contracted);
            evaluations += 1;
            if fc < pts[n].1.min(fr) {
                pts[n] = (contracted, fc);
            } else {
                let best = pts[0].0.clone();
                for p in pts.iter_mut().skip(1) {
                    p.0 = point(&best, &p.0, 0.5);
                    p.1 = f(&p.0);
                }
                evaluations += n;
            }
        }
    }
    pts.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, value) = pts.swap_remove(0);
    Minimum { x, value, evaluations }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = nelder_mead(rosen, &[-1.2, 1.0], 0.5, 20_000);
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{m:?}");
    }

    #[test]
    fn a_ridge_to_infinity_ends_at_the_wall() {
        // Falls forever as x grows (a likelihood flattening toward a
        // model's limit): the wall stops the walk, well within budget.
        let m = nelder_mead(within_bounds(|x: &[f64]| (-x[0]).exp() + (x[1] - 1.0).powi(2)), &[0.0, 0.0], 0.5, 20_000);
        assert!(m.x[0] <= LOG_BOUND && m.x[0] > LOG_BOUND - 0.5, "{m:?}");
        assert!((m.x[1] - 1.0).abs() < 1e-3, "{m:?}");
        assert!(m.evaluations < 2_000, "{m:?}");
    }
}
