//! Return on spend: what a sequence and each of its steps cost, what they
//! brought, and what they brought beyond the control group.
//!
//! - *message cost* = messages sent × `[report] cost_per_message`;
//! - *offer cost* = for each purchase attributed to a step (a purchase by
//!   a contact reactivated after that step, at or after the reactivation:
//!   the same purchases as the step's revenue), the step's `offer_cost`:
//!   a fixed amount (`"5.00"`) or a share of the order value (`"10%"`);
//! - *cost* = message cost + offer cost; *ROI* = (revenue − cost) / cost;
//! - per sequence, *incremental revenue* = the mailed group's revenue
//!   minus what the control group's revenue per contact predicts for as
//!   many contacts (absent without a control group), and *incremental
//!   ROI* = (incremental revenue − cost) / cost.

use serde::{Deserialize, Serialize};

use super::purchases::Purchases;
use super::{SequenceKpi, add_value};
use crate::config::Config;
use crate::store::Reactivation;

/// The value of a step's offer when redeemed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OfferCost {
    /// A fixed amount per attributed purchase.
    Fixed(f64),
    /// A share (0 to 1) of each attributed purchase's value.
    Share(f64),
}

impl OfferCost {
    /// Parses `"5.00"` or `"10%"`; the error says how to write it.
    pub fn parse(s: &str) -> Result<OfferCost, String> {
        let t = s.trim();
        let bad = || format!("`{s}`: write an amount like \"5.00\" or a share of the order value like \"10%\"");
        match t.strip_suffix('%') {
            Some(p) => {
                let v: f64 = p.trim().parse().map_err(|_| bad())?;
                (v.is_finite() && (0.0..=100.0).contains(&v)).then(|| OfferCost::Share(v / 100.0)).ok_or_else(bad)
            }
            None => {
                let v: f64 = t.parse().map_err(|_| bad())?;
                (v.is_finite() && v >= 0.0).then_some(OfferCost::Fixed(v)).ok_or_else(bad)
            }
        }
    }

    /// The cost of one attributed purchase of `value`.
    pub fn on(self, value: f64) -> f64 {
        match self {
            OfferCost::Fixed(v) => v,
            OfferCost::Share(s) if value.is_finite() => s * value.max(0.0),
            OfferCost::Share(_) => 0.0,
        }
    }
}

/// Parses `[report] cost_per_message`: a non-negative amount.
pub fn parse_cost(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{s}`: write an amount per message like \"0.002\""))
}

/// Cost and return of a step or a sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    /// Messages sent × cost per message.
    pub message_cost: f64,
    /// Offers redeemed on attributed purchases.
    pub offer_cost: f64,
    /// message_cost + offer_cost.
    pub cost: f64,
    /// Revenue from attributed purchases.
    pub revenue: f64,
    /// (revenue − cost) / cost; absent while nothing cost anything.
    pub roi: Option<f64>,
    /// Revenue beyond what the control group predicts (sequences with a
    /// control group only).
    pub incremental_revenue: Option<f64>,
    /// (incremental revenue − cost) / cost.
    pub incremental_roi: Option<f64>,
}

impl Roi {
    /// The figures from the parts (ROI absent when the cost is 0).
    pub fn new(message_cost: f64, offer_cost: f64, revenue: f64, incremental_revenue: Option<f64>) -> Roi {
        let cost = add_value(message_cost, offer_cost);
        let ratio = |gain: f64| (cost > 0.0).then(|| (gain - cost) / cost);
        Roi {
            message_cost,
            offer_cost,
            cost,
            revenue,
            roi: ratio(revenue),
            incremental_revenue,
            incremental_roi: incremental_revenue.and_then(ratio),
        }
    }

    /// One line of text.
    pub fn render(&self) -> String {
        let pct = |r: Option<f64>| r.map_or_else(|| "-".to_string(), |v| format!("{:+.0}%", v * 100.0));
        let mut o = format!(
            "cost {:.2} (messages {:.2}, offers {:.2})  revenue {:.2}  ROI {}",
            self.cost,
            self.message_cost,
            self.offer_cost,
            self.revenue,
            pct(self.roi)
        );
        if let Some(inc) = self.incremental_revenue {
            o += &format!("  incremental revenue {inc:.2}  incremental ROI {}", pct(self.incremental_roi));
        }
        o
    }
}

/// Fills `roi` of every sequence and step. `seqs` are in `cfg`'s order,
/// with sent counts, revenue and the control group already figured.
pub fn fill(seqs: &mut [SequenceKpi], cfg: &Config, purchases: &Purchases<'_>, reactivations: &[Reactivation]) {
    let index = super::sequence_index(cfg);
    // (revenue, offer cost) per step.
    let mut by_step: Vec<Vec<(f64, f64)>> = cfg.sequences.iter().map(|s| vec![(0.0, 0.0); s.steps.len()]).collect();
    for r in reactivations.iter().filter(|r| !r.control) {
        let Some(&si) = index.get(r.sequence.as_str()) else { continue };
        let st = (r.after_step as usize).saturating_sub(1);
        let (Some(slot), Some(step)) = (by_step[si].get_mut(st), cfg.sequences[si].steps.get(st)) else { continue };
        for v in purchases.values_after(&r.email, r.at) {
            slot.0 = add_value(slot.0, v);
            slot.1 = add_value(slot.1, step.offer_cost.map_or(0.0, |o| o.on(v)));
        }
    }
    let per_message = cfg.report.cost_per_message;
    for (si, s) in seqs.iter_mut().enumerate() {
        let (mut messages, mut offers) = (0.0, 0.0);
        for (st, k) in s.steps.iter_mut().enumerate() {
            let (revenue, offer) = by_step[si].get(st).copied().unwrap_or_default();
            let m = k.sent as f64 * per_message;
            k.roi = Some(Roi::new(m, offer, revenue, None));
            messages = add_value(messages, m);
            offers = add_value(offers, offer);
        }
        let c = &s.control;
        let incremental = c.revenue_per_contact_control.map(|per| s.revenue - per * s.entered as f64);
        s.roi = Some(Roi::new(messages, offers, s.revenue, incremental));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Millis;
    use crate::domain::{Event, EventKind};

    #[test]
    fn offer_costs_parse_and_apply() {
        assert_eq!(OfferCost::parse("5.00"), Ok(OfferCost::Fixed(5.0)));
        assert_eq!(OfferCost::parse(" 10% "), Ok(OfferCost::Share(0.1)));
        for bad in ["", "-1", "5 EUR", "120%", "x%", "NaN", "inf"] {
            assert!(OfferCost::parse(bad).unwrap_err().contains("\"10%\""), "{bad}");
        }
        assert_eq!(OfferCost::Share(0.1).on(80.0), 8.0);
        assert_eq!(OfferCost::Fixed(5.0).on(80.0), 5.0);
        assert_eq!(OfferCost::Share(0.1).on(f64::NAN), 0.0);
        assert_eq!(parse_cost("0.002"), Ok(0.002));
        assert!(parse_cost("-0.1").is_err() && parse_cost("free").is_err());
    }

    #[test]
    fn steps_and_sequences_count_their_costs_and_the_control_sets_the_increment() {
        use crate::domain::Origin;
        use crate::store::{Counts, MessageRecord, MessageState};
        let toml = "[report]\ncost_per_message = \"0.01\"\n[[sequence]]\nname = \"wb\"\ngrace = \"1d\"\n\
                    holdout = \"20%\"\n[[sequence.step]]\nafter = \"0s\"\nsubject = \"s\"\ntemplate = \"miss-you\"\n\
                    offer_cost = \"10%\"\n[[sequence.step]]\nafter = \"1d\"\nsubject = \"t\"\n\
                    template = \"last-chance\"\noffer_cost = \"5.00\"\nfinal = true\n";
        let cfg = Config::from_toml("test", toml).unwrap();
        let msg = |id: u64, step: u32| super::super::tests::msg(id, &format!("m{id}@x.com"), step, MessageState::Sent);
        let messages: Vec<MessageRecord> =
            [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1)].map(|(i, s)| msg(i, s)).into();
        let buy = |email: &str, at: Millis, value: f64| {
            let mut e = Event::new(email, EventKind::Purchase, at);
            (e.origin, e.value) = (Origin::Human, Some(value));
            e
        };
        let events = vec![
            buy("a@x.com", 5, 80.0),
            buy("a@x.com", 6, 20.0),
            buy("a@x.com", 1, 999.0),
            buy("b@x.com", 5, 50.0),
            buy("c@x.com", 5, 30.0),
        ];
        let re = |email: &str, after_step: u32, control: bool| Reactivation {
            email: email.into(),
            sequence: "wb".into(),
            after_step,
            at: 5,
            control,
        };
        let reactivations = vec![re("a@x.com", 1, false), re("b@x.com", 2, false), re("c@x.com", 0, true)];
        let mut counts = Counts::default();
        counts.0.insert("kpi:entered:wb".into(), 100);
        counts.0.insert("kpi:control:entered:wb".into(), 25);
        let r = super::super::compute(&cfg, &counts, &messages, &events, &reactivations, 10);
        let s = &r.sequences[0];
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let one = s.steps[0].roi.as_ref().unwrap();
        // 4 messages at 0.01, 10% of 80 + 20: cost 10.04 against 100.
        assert!(close(one.message_cost, 0.04) && close(one.offer_cost, 10.0) && close(one.revenue, 100.0), "{one:?}");
        assert!(close(one.roi.unwrap(), (100.0 - 10.04) / 10.04));
        let two = s.steps[1].roi.as_ref().unwrap();
        assert!(close(two.cost, 5.02) && close(two.revenue, 50.0), "{two:?}");
        let all = s.roi.as_ref().unwrap();
        // The control earned 30 over 25 contacts: 1.20 each, 120 for 100 mailed; 150 - 120 = 30.
        assert!(close(all.cost, 15.06) && close(all.revenue, 150.0), "{all:?}");
        assert!(close(all.incremental_revenue.unwrap(), 30.0));
        assert!(close(all.incremental_roi.unwrap(), (30.0 - 15.06) / 15.06));
        assert!(
            r.render().contains("return: cost 15.06 (messages 0.06, offers 15.00)  revenue 150.00"),
            "{}",
            r.render()
        );
    }

    #[test]
    fn roi_by_hand() {
        // 1,000 messages at 0.01 and offers of 15: cost 25; revenue 100:
        // ROI (100 - 25) / 25 = 3; 40 incremental: (40 - 25) / 25 = 0.6.
        let r = Roi::new(10.0, 15.0, 100.0, Some(40.0));
        assert_eq!((r.cost, r.roi, r.incremental_roi), (25.0, Some(3.0), Some(0.6)));
        assert_eq!(Roi::new(0.0, 0.0, 100.0, None).roi, None, "nothing spent: no ratio");
        assert!(r.render().contains("ROI +300%  incremental revenue 40.00  incremental ROI +60%"), "{}", r.render());
    }
}
