//! Segment membership: a contact's figures as the condition language sees
//! them ([`Facts`]), whether it is in a `[[segment]]` or a named RFM
//! segment, and the named RFM segment of a set of scores.

use super::config::{CustomersConfig, RfmRule};
use super::expr::{Env, Name, Value};
use crate::clock::Millis;
use crate::domain::Contact;

/// A contact's figures at a time.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The contact.
    pub contact: &'a Contact,
    /// When (for `days_since_order`).
    pub now: Millis,
}

impl Env for Facts<'_> {
    fn name(&self, n: Name) -> Option<Value<'_>> {
        let cu = &self.contact.customer;
        let p = &cu.purchases;
        let s = cu.scores.as_ref();
        let num = |v: Option<f64>| v.map(Value::Num);
        match n {
            Name::RfmSegment => s.and_then(|s| s.rfm_segment.as_deref()).map(Value::Str),
            Name::R => num(s.map(|s| f64::from(s.r))),
            Name::F => num(s.map(|s| f64::from(s.f))),
            Name::M => num(s.map(|s| f64::from(s.m))),
            Name::PAlive => num(s.and_then(|s| s.p_alive)),
            Name::Clv => num(s.and_then(|s| s.clv)),
            Name::ExpectedPurchases => num(s.and_then(|s| s.expected_purchases)),
            Name::Orders => num(Some(f64::from(p.orders))),
            Name::DaysSinceOrder => num(days_since_order(self.contact, self.now)),
            Name::TotalSpent => num(Some(p.total)),
            Name::AverageOrder => num(p.average_value()),
            Name::TypicalGap => num(p.typical_gap_days()),
        }
    }

    fn field(&self, column: &str) -> Option<&str> {
        self.contact.fields.get(column).map(String::as_str)
    }
}

/// Whole days since the last order, when there was one.
pub fn days_since_order(c: &Contact, now: Millis) -> Option<f64> {
    let last = c.customer.purchases.last.or(c.last_purchase_at)?;
    Some(((now - last).max(0) / 86_400_000) as f64)
}

/// Whether the contact is in the segment `name`: a `[[segment]]` whose
/// condition holds, or the named RFM segment of its scores.
pub fn is_in(cfg: &CustomersConfig, name: &str, c: &Contact, now: Millis) -> bool {
    match cfg.segments.iter().find(|s| s.name == name) {
        Some(s) => s.when.eval(&Facts { contact: c, now }),
        None => c.customer.scores.as_ref().and_then(|s| s.rfm_segment.as_deref()) == Some(name),
    }
}

/// The first `[[segment]]` the contact is in.
pub fn first_segment<'a>(cfg: &'a CustomersConfig, c: &Contact, now: Millis) -> Option<&'a str> {
    let facts = Facts { contact: c, now };
    cfg.segments.iter().find(|s| s.when.eval(&facts)).map(|s| s.name.as_str())
}

/// The named RFM segment of scores: the first rule that matches.
pub fn rfm_segment(rules: &[RfmRule], r: u8, f: u8, m: u8) -> Option<&str> {
    rules.iter().find(|x| x.matches(r, f, m)).map(|x| x.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::config::{EMBEDDED_RFM_SEGMENTS, rfm_rules};

    #[test]
    fn the_shipped_rules_name_every_pair_of_scores() {
        let rules = rfm_rules("x", EMBEDDED_RFM_SEGMENTS).unwrap();
        assert_eq!(rules.len(), 11);
        for r in 1..=5 {
            for f in 1..=5 {
                assert!(rfm_segment(&rules, r, f, 3).is_some(), "r {r} f {f}");
            }
        }
        assert_eq!(rfm_segment(&rules, 5, 5, 5), Some("champions"));
        assert_eq!(rfm_segment(&rules, 1, 1, 1), Some("lost"));
        assert_eq!(rfm_segment(&rules, 1, 5, 5), Some("can't lose them"));
        assert_eq!(rfm_segment(&rules, 2, 3, 1), Some("at risk"));
        assert_eq!(rfm_segment(&rules, 5, 1, 1), Some("new"));
        assert_eq!(rfm_segment(&rules, 4, 1, 1), Some("promising"));
        assert_eq!(rfm_segment(&rules, 3, 3, 2), Some("need attention"));
        assert_eq!(rfm_segment(&rules, 3, 1, 2), Some("about to sleep"));
        assert_eq!(rfm_segment(&rules, 4, 5, 2), Some("loyal"));
        assert_eq!(rfm_segment(&rules, 5, 2, 2), Some("potential loyalists"));
        assert_eq!(rfm_segment(&rules, 2, 2, 2), Some("hibernating"));
    }

    #[test]
    fn rule_files_are_checked() {
        let e = rfm_rules("f.toml", "[[rfm]]\nname = \"x\"\nr = \"4-2\"\n").unwrap_err();
        assert_eq!(e.key, "rfm[0] (x) r");
        let e = rfm_rules("f.toml", "[[rfm]]\nname = \"x\"\nm = \"6\"\n").unwrap_err();
        assert_eq!(e.key, "rfm[0] (x) m");
        let rules = rfm_rules("f.toml", "[[rfm]]\nname = \"big\"\nm = \"5\"\n").unwrap();
        assert_eq!(rfm_segment(&rules, 1, 1, 5), Some("big"));
        assert_eq!(rfm_segment(&rules, 5, 5, 4), None);
    }
}
