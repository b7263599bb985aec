//! Knowing the customers: purchase histories summarised per customer, the
//! BG/NBD model of repeat buying ([`bgnbd`]), the Gamma–Gamma model of
//! order value ([`gamma_gamma`]), customer lifetime value, RFM quintile
//! scores ([`rfm`]), and the calibration/holdout check that tells an
//! operator whether the model deserves trust on their data.
//!
//! Pure: purchases in ([`Purchase`]), figures out. The CLI reads the
//! purchases from the store.

pub mod bgnbd;
pub mod config;
pub mod expr;
pub mod gamma_gamma;
pub mod lapse;
pub mod ledger;
pub mod optimize;
pub mod overview;
pub mod refresh;
pub mod rfm;
pub mod segments;
pub mod special;
pub mod summary;

pub use ledger::Ledger;
pub use summary::{Customer, PurchaseSummary, Scores};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use bgnbd::{BgNbd, BgNbdFit, Rft};
use gamma_gamma::{GammaGammaFit, Spend};

/// Customers with a repeat purchase needed before BG/NBD is fitted.
pub const MIN_REPEAT_BUYERS: usize = 20;
/// Customers with a valued repeat purchase needed before Gamma–Gamma is fitted.
pub const MIN_SPENDERS: usize = 20;

/// Whether a fitted BG/NBD parameter is one the predictions can be
/// computed with: a fit that runs off toward 0 or infinity (histories too
/// regular, or too few) makes the hypergeometric series of the expected
/// purchases meaningless, so it counts as no fit.
pub(crate) fn plausible(v: f64) -> bool {
    v.is_finite() && (1e-10..=1e9).contains(&v)
}

/// One purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// Who.
    pub email: String,
    /// When.
    pub at: Millis,
    /// Its value, when known.
    pub value: Option<f64>,
}

/// The time unit of the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Days.
    Days,
    /// Weeks.
    Weeks,
}

impl Unit {
    /// Milliseconds in one unit.
    pub fn millis(self) -> f64 {
        match self {
            Unit::Days => 86_400_000.0,
            Unit::Weeks => 7.0 * 86_400_000.0,
        }
    }
}

/// One customer's history up to a date: (x, tₓ, T) and their spend.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The customer.
    pub email: String,
    /// Repeat buying summary (purchases on the same day count once).
    pub rft: Rft,
    /// The repeat purchase days with a value and their mean value (the
    /// first day left out, a day's orders summed), as the Gamma–Gamma
    /// paper takes them.
    pub spend: Spend,
}

/// The models are fitted on an evenly spaced sample of at most this many
/// buyers: four (or three) parameters are pinned down long before, and the
/// fit's cost grows with every customer in every likelihood evaluation.
pub const FIT_SAMPLE: usize = 25_000;

/// Every `len / max`-th item (all when `len <= max`).
fn sample<T: Copy>(items: &[T], max: usize) -> Vec<T> {
    let step = items.len().div_ceil(max.max(1)).max(1);
    items.iter().step_by(step).copied().collect()
}

/// Fits BG/NBD and Gamma–Gamma on [`FIT_SAMPLE`] of the buyers (the
/// refresh and `customers model` alike, so both give the same
/// estimates), with a note for each fit that is absent or degenerate.
pub(crate) fn fit_models(rft: &[Rft], spends: &[Spend]) -> (Option<BgNbdFit>, Option<GammaGammaFit>, Vec<String>) {
    let mut notes = Vec::new();
    let bg = bgnbd::fit(&sample(rft, FIT_SAMPLE), MIN_REPEAT_BUYERS);
    if bg.is_none() {
        let repeat_buyers = rft.iter().filter(|c| c.x > 0.0).count();
        notes.push(format!(
            "BG/NBD not fitted: {repeat_buyers} customer(s) with a repeat purchase ({MIN_REPEAT_BUYERS} needed), \
             or no plausible fit; P(alive), expected purchases and CLV stay empty"
        ));
    }
    let gg = gamma_gamma::fit_spends(&sample(spends, FIT_SAMPLE), MIN_SPENDERS);
    if gg.is_none() {
        notes.push(format!(
            "Gamma-Gamma not fitted: fewer than {MIN_SPENDERS} customers with a valued repeat purchase; CLV stays empty"
        ));
    }
    notes.extend(gg.as_ref().and_then(GammaGammaFit::note));
    (bg, gg, notes)
}

/// Summarises purchases up to `as_of` per customer, in `unit`, customers
/// by address.
pub fn histories(purchases: &[Purchase], as_of: Millis, unit: Unit) -> Vec<History> {
    let mut l = Ledger::new(as_of, as_of, unit);
    by_customer(purchases)
        .into_iter()
        .filter_map(|(email, ps)| {
            let s = l.customer(ps.iter().map(|p| (p.at, p.value)))?;
            Some(History { email: email.to_string(), rft: s.rft, spend: s.spend })
        })
        .collect()
}

/// Purchases grouped by customer, customers by address.
fn by_customer(purchases: &[Purchase]) -> BTreeMap<&str, Vec<&Purchase>> {
    let mut by: BTreeMap<&str, Vec<&Purchase>> = BTreeMap::new();
    for p in purchases {
        by.entry(p.email.as_str()).or_default().push(p);
    }
    by
}

fn ledger(purchases: &[Purchase], as_of: Millis, until: Millis, unit: Unit) -> Ledger {
    let mut l = Ledger::new(as_of, until, unit);
    for ps in by_customer(purchases).into_values() {
        l.customer(ps.iter().map(|p| (p.at, p.value)));
    }
    l
}

/// Predicted against actual repeat purchases after the calibration date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Length of the holdout period, in the model's unit.
    pub length: f64,
    /// Customers compared.
    pub customers: usize,
    /// Predicted purchases in total.
    pub predicted: f64,
    /// Actual purchases in total.
    pub actual: u64,
    /// By repeat purchases in calibration (`0` … `6`, `7+`): customers,
    /// mean predicted and mean actual.
    pub by_frequency: Vec<FrequencyGroup>,
}

/// One row of the calibration/holdout table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyGroup {
    /// Repeat purchases in calibration (`7+` for seven or more).
    pub frequency: String,
    /// Customers in the group.
    pub customers: usize,
    /// Mean predicted purchases per customer in the holdout period.
    pub predicted: f64,
    /// Mean actual purchases per customer.
    pub actual: f64,
}

/// What `winback customers model` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// The model's time unit.
    pub unit: Unit,
    /// The date the fit used purchases up to.
    pub as_of: Millis,
    /// Buyers seen up to it.
    pub buyers: usize,
    /// Of them, with a repeat purchase.
    pub repeat_buyers: usize,
    /// The BG/NBD fit, absent when the data cannot support one.
    pub bgnbd: Option<BgNbdFit>,
    /// The Gamma–Gamma fit, absent when the data cannot support one.
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Why a fit is absent.
    pub notes: Vec<String>,
    /// Mean CLV over the horizon, when both models fit.
    pub mean_clv: Option<f64>,
    /// The calibration/holdout check, when purchases after `as_of` exist.
    pub holdout: Option<Holdout>,
}

/// Customer lifetime value over `horizon` units: expected purchases in
/// each of `periods` equal slices, times the expected order value,
/// discounted at `annual_discount` per year.
pub fn clv(m: &BgNbd, value: f64, c: &Rft, horizon: f64, unit: Unit, annual_discount: f64) -> f64 {
    const PERIODS: usize = 12;
    let per_year = 365.25 * 86_400_000.0 / unit.millis();
    let mut total = 0.0;
    let mut before = 0.0;
    for k in 1..=PERIODS {
        let t = horizon * k as f64 / PERIODS as f64;
        let cum = m.expected_purchases(c, t);
        total += (cum - before) * value / (1.0 + annual_discount).powf(t / per_year);
        before = cum;
    }
    total
}

/// Fits both models on purchases up to `as_of` and, when later purchases
/// exist (up to `now`), compares predicted with actual.
pub fn model(
    purchases: &[Purchase],
    as_of: Millis,
    now: Millis,
    unit: Unit,
    horizon: f64,
    annual_discount: f64,
) -> ModelReport {
    model_of(ledger(purchases, as_of, now, unit), unit, horizon, annual_discount)
}

/// [`model`] of purchases already summarised in a [`Ledger`] (made for
/// the same `as_of` and end of the holdout period).
pub fn model_of(ledger: Ledger, unit: Unit, horizon: f64, annual_discount: f64) -> ModelReport {
    let (as_of, now) = ledger.period();
    let any_after = ledger.any_after();
    let hs = ledger.into_customers();
    let rft: Vec<Rft> = hs.iter().map(|h| h.rft).collect();
    let repeat_buyers = rft.iter().filter(|c| c.x > 0.0).count();
    let spends: Vec<Spend> = hs.iter().map(|h| h.spend).collect();
    let (bg, gg, notes) = fit_models(&rft, &spends);
    let mean_clv = match (&bg, &gg) {
        (Some(b), Some(g)) if !hs.is_empty() => {
            let sum: f64 = hs
                .iter()
                .map(|h| clv(&b.params, g.expected_value(&h.spend), &h.rft, horizon, unit, annual_discount))
                .sum();
            Some(sum / hs.len() as f64)
        }
        _ => None,
    };
    let holdout = bg.as_ref().filter(|_| any_after).map(|b| holdout(&b.params, &hs, as_of, now, unit));
    ModelReport { unit, as_of, buyers: hs.len(), repeat_buyers, bgnbd: bg, gamma_gamma: gg, notes, mean_clv, holdout }
}

fn holdout(m: &BgNbd, hs: &[ledger::Summary], as_of: Millis, now: Millis, unit: Unit) -> Holdout {
    let length = (now - as_of) as f64 / unit.millis();
    let mut groups: BTreeMap<usize, (usize, f64, u64)> = BTreeMap::new();
    let (mut predicted, mut actual) = (0.0, 0u64);
    for h in hs {
        let a = h.after;
        let p = m.expected_purchases(&h.rft, length);
        predicted += p;
        actual += a;
        let g = groups.entry((h.rft.x as usize).min(7)).or_default();
        g.0 += 1;
        g.1 += p;
        g.2 += a;
    }
    let by_frequency = groups
        .into_iter()
        .map(|(x, (n, p, a))| FrequencyGroup {
            frequency: if x >= 7 { "7+".into() } else { x.to_string() },
            customers: n,
            predicted: p / n as f64,
            actual: a as f64 / n as f64,
        })
        .collect();
    Holdout { length, customers: hs.len(), predicted, actual, by_frequency }
}

#[cfg(test)]
mod tests;
