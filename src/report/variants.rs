//! Per-variant figures of the steps with variants, and the comparison of
//! each variant with the best one.
//!
//! Definitions (per variant of one step):
//! - *sent*, *delivered*, *human opens*, *clicks* (not by machines),
//!   *unsubscribed*, *complaints*: of the messages carrying the variant;
//! - *reactivated*: contacts who got the variant at this step and were
//!   reactivated later in the sequence (after this step or a later one);
//!   *reactivation rate* = reactivated / sent; *revenue*: their purchases
//!   at or after the reactivation.
//!
//! The *best* variant has the highest reactivation rate. Each other
//! variant's rate is compared with it ([`super::lift::lift`]: Newcombe's
//! interval of the difference, the pooled z-test p-value). Once the best
//! one beats every other significantly (the interval above 0), the report
//! recommends it; otherwise it says how many contacts per variant a
//! difference of `[report] min_detectable_lift` would need.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::lift::{self, Lift};
use super::{SequenceKpi, add_value, rate};
use crate::clock::Millis;
use crate::config::Config;
use crate::domain::{Event, EventKind, Origin};
use crate::store::{Counts, MessageRecord, MessageState, Reactivation};

/// Figures of one variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantKpi {
    /// Name.
    pub name: String,
    /// Configured weight.
    pub weight: f64,
    /// Messages sent.
    pub sent: u64,
    /// Sent and not bounced.
    pub delivered: u64,
    /// Opens by people.
    pub opens_human: u64,
    /// Clicks not made by machines.
    pub clicks: u64,
    /// Contacts reactivated after getting this variant.
    pub reactivated: u64,
    /// reactivated / sent.
    pub reactivation_rate: Option<f64>,
    /// Their purchase value after reactivation.
    pub revenue: f64,
    /// Unsubscribes from these messages.
    pub unsubscribed: u64,
    /// Spam complaints about these messages.
    pub complaints: u64,
    /// The best variant's reactivation rate over this one's (absent for
    /// the best itself).
    pub vs_best: Option<Lift>,
}

/// The variants of one step, compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepVariants {
    /// The variants, in configured order.
    pub variants: Vec<VariantKpi>,
    /// The one with the highest reactivation rate, once any was sent.
    pub best: Option<String>,
    /// Whether the best beats every other at 95%.
    pub significant: bool,
    /// What to do, in words, once significant.
    pub recommendation: Option<String>,
    /// While not significant: contacts per variant needed to detect the
    /// configured minimum lift over the best rate.
    pub needed_per_variant: Option<u64>,
    /// The variant new contacts all get (`auto_promote`), if promoted.
    pub promoted: Option<String>,
}

/// The counter that marks a promoted variant (value: 1).
pub fn promoted_counter(sequence: &str, step: usize, variant: &str) -> String {
    format!("kpi:variant-promoted:{sequence}:{step}:{variant}")
}

type Slot = (usize, usize, usize);

/// Fills `variants` of every step that has them.
pub fn fill(
    seqs: &mut [SequenceKpi],
    cfg: &Config,
    counts: &Counts,
    messages: &[MessageRecord],
    events: &[Event],
    reactivations: &[Reactivation],
) {
    let mut tables: HashMap<(usize, usize), Vec<VariantKpi>> = HashMap::new();
    for (si, s) in cfg.sequences.iter().enumerate() {
        for (st, step) in s.steps.iter().enumerate().filter(|(_, st)| !st.variants.is_empty()) {
            let rows = step.variants.iter().map(|v| VariantKpi {
                name: v.name.clone(),
                weight: v.weight,
                ..Default::default()
            });
            tables.insert((si, st), rows.collect());
        }
    }
    if tables.is_empty() {
        return;
    }
    let index = super::sequence_index(cfg);
    let slot_of = |m: &MessageRecord| -> Option<Slot> {
        let si = *index.get(m.sequence.as_str())?;
        let st = m.step as usize;
        let vi = tables.get(&(si, st))?.iter().position(|v| Some(v.name.as_str()) == m.variant.as_deref())?;
        Some((si, st, vi))
    };
    let mut by_message: HashMap<u64, Slot> = HashMap::new();
    let mut by_contact: HashMap<(usize, usize, &str), usize> = HashMap::new();
    let mut sent: Vec<Slot> = Vec::new();
    for m in messages {
        let Some(slot) = slot_of(m) else { continue };
        by_message.insert(m.id, slot);
        by_contact.insert((slot.0, slot.1, m.email.as_str()), slot.2);
        if matches!(m.state, MessageState::Sent | MessageState::Interrupted) {
            sent.push(slot);
        }
    }
    for (si, st, vi) in sent {
        if let Some(v) = tables.get_mut(&(si, st)).and_then(|r| r.get_mut(vi)) {
            v.sent += 1;
            v.delivered += 1;
        }
    }
    let mut purchases: HashMap<&str, Vec<(Millis, f64)>> = HashMap::new();
    for e in events {
        if e.kind == EventKind::Purchase {
            purchases.entry(e.email.as_str()).or_default().push((e.at, e.value.unwrap_or(0.0)));
        }
        let Some(&(si, st, vi)) = e.message.as_ref().and_then(|id| by_message.get(id)) else { continue };
        let Some(v) = tables.get_mut(&(si, st)).and_then(|r| r.get_mut(vi)) else { continue };
        match (&e.kind, e.origin) {
            (EventKind::Open, Origin::Human) => v.opens_human += 1,
            (EventKind::Click, o) if o != Origin::Machine => v.clicks += 1,
            (EventKind::Unsubscribe, _) => v.unsubscribed += 1,
            (EventKind::Complaint, _) => v.complaints += 1,
            (EventKind::Bounce, _) => v.delivered = v.delivered.saturating_sub(1),
            _ => {}
        }
    }
    for r in reactivations.iter().filter(|r| !r.control) {
        let Some(&si) = index.get(r.sequence.as_str()) else { continue };
        let bought = purchases.get(r.email.as_str()).map_or(&[][..], Vec::as_slice);
        for st in 0..r.after_step as usize {
            let Some(&vi) = by_contact.get(&(si, st, r.email.as_str())) else { continue };
            let Some(v) = tables.get_mut(&(si, st)).and_then(|rows| rows.get_mut(vi)) else { continue };
            v.reactivated += 1;
            v.revenue = bought.iter().filter(|(t, _)| *t >= r.at).fold(v.revenue, |sum, (_, x)| add_value(sum, *x));
        }
    }
    for ((si, st), rows) in tables {
        let Some(step) = seqs.get_mut(si).and_then(|s| s.steps.get_mut(st)) else { continue };
        let name = &cfg.sequences[si].name;
        let promoted =
            rows.iter().find(|v| counts.get(&promoted_counter(name, st, &v.name)) > 0).map(|v| v.name.clone());
        let mut compared = compare(rows, cfg.report.min_detectable_lift);
        compared.promoted = promoted;
        step.variants = Some(Box::new(compared));
    }
}

/// Rates, the best variant, each one against it, and the verdict.
pub fn compare(mut rows: Vec<VariantKpi>, min_effect: f64) -> StepVariants {
    for v in &mut rows {
        v.reactivation_rate = rate(v.reactivated, v.sent);
    }
    let best = rows
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.reactivation_rate.map(|r| (i, r)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let Some(bi) = best else {
        return StepVariants { variants: rows, ..Default::default() };
    };
    let (bx, bn) = (rows[bi].reactivated, rows[bi].sent);
    for (i, v) in rows.iter_mut().enumerate() {
        if i != bi {
            v.vs_best = lift::lift(bx, bn, v.reactivated, v.sent);
        }
    }
    let others: Vec<&VariantKpi> = rows.iter().enumerate().filter(|(i, _)| *i != bi).map(|(_, v)| v).collect();
    let significant = !others.is_empty() && others.iter().all(|v| v.vs_best.is_some_and(|l| l.ci_low > 0.0));
    let b = &rows[bi];
    let pct = |r: Option<f64>| r.unwrap_or(0.0) * 100.0;
    let recommendation = significant.then(|| {
        let beats: Vec<String> = others
            .iter()
            .filter_map(|v| {
                let l = v.vs_best?;
                Some(format!(
                    "{} beats {} on reactivation: {:.1}% vs {:.1}%, {:+.1} points, 95% CI [{:+.1}, {:+.1}], p = {:.4}",
                    b.name,
                    v.name,
                    pct(b.reactivation_rate),
                    pct(v.reactivation_rate),
                    l.absolute * 100.0,
                    l.ci_low * 100.0,
                    l.ci_high * 100.0,
                    l.p_value
                ))
            })
            .collect();
        format!("send {}: {}", b.name, beats.join("; "))
    });
    let needed_per_variant = match (significant, b.reactivation_rate) {
        (false, Some(r)) => lift::sample_size(r, (r - min_effect).max(0.0)),
        _ => None,
    };
    let best = Some(b.name.clone());
    StepVariants { variants: rows, best, significant, recommendation, needed_per_variant, promoted: None }
}

impl StepVariants {
    /// Text rendering under the step's line.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let pct = |r: Option<f64>| r.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0));
        let mut o = String::from(
            "       variant          sent  delivered  opens(h)  clicks  reactivated    rate   revenue  unsub  complaints\n",
        );
        for v in &self.variants {
            let _ = writeln!(
                o,
                "       {:<12} {:>8} {:>10} {:>9} {:>7} {:>12} {:>7} {:>9.2} {:>6} {:>11}",
                v.name,
                v.sent,
                v.delivered,
                v.opens_human,
                v.clicks,
                v.reactivated,
                pct(v.reactivation_rate),
                v.revenue,
                v.unsubscribed,
                v.complaints
            );
            if let (Some(l), Some(best)) = (&v.vs_best, &self.best) {
                let _ = writeln!(
                    o,
                    "         {best} over {}: {:+.1} points, 95% CI [{:+.1}, {:+.1}], p = {:.4}",
                    v.name,
                    l.absolute * 100.0,
                    l.ci_low * 100.0,
                    l.ci_high * 100.0,
                    l.p_value
                );
            }
        }
        match (&self.recommendation, self.needed_per_variant) {
            (Some(r), _) => {
                let _ = writeln!(o, "       recommendation: {r}");
            }
            (None, Some(n)) => {
                let _ = writeln!(o, "       no significant winner yet: about {n} contacts per variant needed");
            }
            (None, None) => {}
        }
        if let Some(p) = &self.promoted {
            let _ = writeln!(o, "       promoted: new contacts all get {p}");
        }
        o
    }
}

#[cfg(test)]
#[path = "variants_tests.rs"]
mod tests;
