//! Who a sequence brought back, as customers: the predicted lifetime value
//! (CLV, from the last `winback customers refresh`) of the contacts it
//! reactivated, and its reactivations, revenue and CLV per segment.
//!
//! A reactivated contact's segment is the segment it entered its last
//! sequence under (`[[segment]]`), else its RFM segment at the last
//! refresh, else `(none)`. Only the mailed group counts here; the control
//! group has its own figures in [`super::ControlKpi`].

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::purchases::Purchases;
use super::{SequenceKpi, add_value, money};
use crate::config::Config;
use crate::customers::Customer;
use crate::store::Reactivation;

/// The segment name of contacts without any.
pub const NO_SEGMENT: &str = "(none)";

/// The customers a sequence reactivated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomersKpi {
    /// Reactivated contacts with a predicted CLV.
    pub clv_known: u64,
    /// The sum of their predicted CLV.
    pub clv_total: f64,
    /// `clv_total / clv_known`.
    pub clv_average: Option<f64>,
    /// Per segment, by name.
    pub segments: Vec<SegmentKpi>,
}

/// One segment's share of a sequence's reactivations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentKpi {
    /// The segment.
    pub segment: String,
    /// Contacts reactivated.
    pub reactivated: u64,
    /// Their purchase value at or after their reactivation.
    pub revenue: f64,
    /// The sum of their predicted CLV (where known).
    pub clv_total: f64,
}

/// Fills `customers` of every sequence. `seqs` are in `cfg`'s order;
/// `profiles` holds the reactivated contacts' customer records (a contact
/// missing there counts under [`NO_SEGMENT`] without a CLV).
pub fn fill(
    seqs: &mut [SequenceKpi],
    cfg: &Config,
    purchases: &Purchases<'_>,
    reactivations: &[Reactivation],
    profiles: &HashMap<String, Customer>,
) {
    let index = super::sequence_index(cfg);
    let mut by_segment: Vec<BTreeMap<&str, SegmentKpi>> = vec![BTreeMap::new(); seqs.len()];
    for r in reactivations.iter().filter(|r| !r.control) {
        let Some(&si) = index.get(r.sequence.as_str()) else { continue };
        let customer = profiles.get(&r.email);
        let segment = customer.and_then(segment_of).unwrap_or(NO_SEGMENT);
        let clv = customer.and_then(|c| c.scores.as_ref()).and_then(|s| s.clv).filter(|v| v.is_finite());
        let k = &mut seqs[si].customers;
        if let Some(v) = clv {
            k.clv_known += 1;
            k.clv_total = add_value(k.clv_total, v);
        }
        let seg = by_segment[si]
            .entry(segment)
            .or_insert_with(|| SegmentKpi { segment: segment.to_string(), ..SegmentKpi::default() });
        seg.reactivated += 1;
        seg.revenue = add_value(seg.revenue, purchases.revenue_after(&r.email, r.at));
        seg.clv_total = add_value(seg.clv_total, clv.unwrap_or(0.0));
    }
    for (s, segs) in seqs.iter_mut().zip(by_segment) {
        let k = &mut s.customers;
        k.clv_average = (k.clv_known > 0).then(|| k.clv_total / k.clv_known as f64);
        k.segments = segs.into_values().collect();
    }
}

/// The segment a customer counts under, if any.
fn segment_of(c: &Customer) -> Option<&str> {
    c.segment.as_deref().or_else(|| c.scores.as_ref().and_then(|s| s.rfm_segment.as_deref()))
}

/// The text lines of a sequence's customers (nothing when it reactivated
/// no one).
pub fn render(o: &mut String, k: &CustomersKpi) {
    use std::fmt::Write as _;
    if k.segments.is_empty() {
        return;
    }
    let avg = k.clv_average.map_or_else(|| "-".to_string(), money);
    let _ = writeln!(
        o,
        "  reactivated customers: predicted CLV {} over {} (average {avg})",
        money(k.clv_total),
        k.clv_known
    );
    for s in &k.segments {
        let _ = writeln!(
            o,
            "    segment {:<20} reactivated {:>6}  revenue {:>12}  predicted CLV {:>12}",
            s.segment,
            s.reactivated,
            money(s.revenue),
            money(s.clv_total)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::Scores;
    use crate::domain::{Event, EventKind};

    fn scored(segment: Option<&str>, rfm: Option<&str>, clv: Option<f64>) -> Customer {
        Customer {
            segment: segment.map(str::to_string),
            scores: Some(Scores {
                at: 0,
                r: 1,
                f: 1,
                m: 1,
                rfm_segment: rfm.map(str::to_string),
                p_alive: None,
                expected_purchases: None,
                clv,
                p_alive_lapse_at: None,
            }),
            ..Customer::default()
        }
    }

    #[test]
    fn clv_and_segments_of_the_reactivated_by_hand() {
        let cfg = crate::config::testing::with_sequence("", "wb", "30s", &[("0s", "miss-you")]);
        let back = |email: &str, at, control| Reactivation {
            email: email.into(),
            sequence: "wb".into(),
            after_step: 1,
            at,
            control,
        };
        let reactivations = [
            back("a@x.test", 100, false),
            back("b@x.test", 100, false),
            back("c@x.test", 100, false),
            back("d@x.test", 100, true),
        ];
        let buy = |email: &str, at, value| {
            let mut e = Event::new(email, EventKind::Purchase, at);
            e.value = Some(value);
            e
        };
        // a: 10 before its reactivation (not counted), 30 after; b: 20
        // after; c: 5 after; d (control): 40, not in these figures.
        let events = [
            buy("a@x.test", 50, 10.0),
            buy("a@x.test", 150, 30.0),
            buy("b@x.test", 100, 20.0),
            buy("c@x.test", 200, 5.0),
            buy("d@x.test", 200, 40.0),
        ];
        let profiles = HashMap::from([
            ("a@x.test".to_string(), scored(Some("vip"), Some("champions"), Some(100.0))),
            ("b@x.test".to_string(), scored(None, Some("champions"), Some(50.0))),
            ("d@x.test".to_string(), scored(Some("vip"), None, Some(1000.0))),
        ]);
        let mut seqs = vec![SequenceKpi { name: "wb".into(), ..SequenceKpi::default() }];
        fill(&mut seqs, &cfg, &Purchases::from_events(&events), &reactivations, &profiles);
        let k = &seqs[0].customers;
        assert_eq!((k.clv_known, k.clv_total, k.clv_average), (2, 150.0, Some(75.0)));
        let row = |name: &str| k.segments.iter().find(|s| s.segment == name).cloned().unwrap_or_default();
        assert_eq!(k.segments.len(), 3);
        assert_eq!((row("vip").reactivated, row("vip").revenue, row("vip").clv_total), (1, 30.0, 100.0));
        assert_eq!(
            (row("champions").reactivated, row("champions").revenue, row("champions").clv_total),
            (1, 20.0, 50.0)
        );
        assert_eq!((row(NO_SEGMENT).reactivated, row(NO_SEGMENT).revenue, row(NO_SEGMENT).clv_total), (1, 5.0, 0.0));
        let mut text = String::new();
        render(&mut text, k);
        assert!(text.contains("predicted CLV 150.00 over 2 (average 75.00)"), "{text}");
    }
}
