//! What `winback customers` shows: per named RFM segment and per
//! `[[segment]]`, the customers, their revenue and average CLV; how many
//! contacts are lapsed and at risk now; and the last refresh.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::CustomersConfig;
use super::lapse;
use super::refresh::Refreshed;
use super::segments;
use crate::clock::Millis;
use crate::config::LapseConfig;
use crate::domain::{Contact, ContactState};

/// One segment's row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentRow {
    /// The segment.
    pub name: String,
    /// Contacts in it.
    pub customers: u64,
    /// Their revenue (sum of order values).
    pub revenue: f64,
    /// Their mean CLV, over those with one.
    pub average_clv: Option<f64>,
    #[serde(skip)]
    clv_sum: f64,
    #[serde(skip)]
    clv_n: u64,
}

impl SegmentRow {
    fn add(&mut self, c: &Contact) {
        self.customers += 1;
        self.revenue += c.customer.purchases.total;
        if let Some(v) = c.customer.scores.as_ref().and_then(|s| s.clv) {
            self.clv_sum += v;
            self.clv_n += 1;
            self.average_clv = Some(self.clv_sum / self.clv_n as f64);
        }
    }
}

/// The overview.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// When.
    pub at: Millis,
    /// Contacts (sunset ones left out).
    pub contacts: u64,
    /// All buyers.
    pub buyers: SegmentRow,
    /// Lapsed now under the lapse mode.
    pub lapsed: u64,
    /// At risk now (not yet lapsed).
    pub at_risk: u64,
    /// Per named RFM segment, in the rules' order.
    pub rfm: Vec<SegmentRow>,
    /// Per `[[segment]]`, in file order.
    pub segments: Vec<SegmentRow>,
    /// The last refresh of the scores.
    pub refreshed: Option<Refreshed>,
}

/// Builds the overview incrementally, one contact at a time.
#[derive(Debug)]
pub struct Builder<'a> {
    cfg: &'a CustomersConfig,
    lapse: &'a LapseConfig,
    out: Overview,
    rfm: BTreeMap<String, SegmentRow>,
}

impl<'a> Builder<'a> {
    /// An empty overview at `now`.
    pub fn new(cfg: &'a CustomersConfig, lapse: &'a LapseConfig, now: Millis) -> Self {
        let mut out = Overview { at: now, ..Overview::default() };
        out.buyers.name = "buyers".into();
        out.segments = cfg.segments.iter().map(|s| SegmentRow { name: s.name.clone(), ..Default::default() }).collect();
        Builder { cfg, lapse, out, rfm: BTreeMap::new() }
    }

    /// Counts a contact.
    pub fn add(&mut self, c: &Contact) {
        if matches!(c.state, ContactState::Sunset { .. }) {
            return;
        }
        let now = self.out.at;
        self.out.contacts += 1;
        if !c.customer.purchases.is_empty() {
            self.out.buyers.add(c);
        }
        if lapse::lapsed_at(c, self.lapse.mode, self.lapse.inactive_after) <= now {
            self.out.lapsed += 1;
        } else if self.lapse.at_risk_factor.and_then(|f| lapse::at_risk_at(c, f)).is_some_and(|t| t <= now) {
            self.out.at_risk += 1;
        }
        if let Some(name) = c.customer.scores.as_ref().and_then(|s| s.rfm_segment.clone()) {
            self.rfm.entry(name.clone()).or_insert_with(|| SegmentRow { name, ..Default::default() }).add(c);
        }
        let facts = segments::Facts { contact: c, now };
        for (row, s) in self.out.segments.iter_mut().zip(&self.cfg.segments) {
            if s.when.eval(&facts) {
                row.add(c);
            }
        }
    }

    /// The overview, with the last refresh.
    pub fn finish(mut self, refreshed: Option<Refreshed>) -> Overview {
        self.out.rfm = self.cfg.rfm.iter().filter_map(|rule| self.rfm.remove(&rule.name)).collect();
        self.out.refreshed = refreshed;
        self.out
    }
}
