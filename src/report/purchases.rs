//! The purchases of every contact, indexed once per report: what the
//! revenue figures (per sequence, step, segment, and the control group)
//! are summed from.

use std::collections::HashMap;

use crate::clock::Millis;
use crate::domain::{Event, EventKind};

use super::add_value;

/// Purchase times and values per contact.
#[derive(Debug, Default)]
pub struct Purchases<'a>(HashMap<&'a str, Vec<(Millis, f64)>>);

impl<'a> Purchases<'a> {
    /// Indexes the purchase events among `events` (a purchase without a
    /// value counts 0).
    pub fn from_events(events: &'a [Event]) -> Self {
        let mut by: HashMap<&str, Vec<(Millis, f64)>> = HashMap::new();
        for e in events.iter().filter(|e| e.kind == EventKind::Purchase) {
            by.entry(e.email.as_str()).or_default().push((e.at, e.value.unwrap_or(0.0)));
        }
        Purchases(by)
    }

    /// The values of `email`'s purchases at or after `at`.
    pub fn values_after(&self, email: &str, at: Millis) -> impl Iterator<Item = f64> + '_ {
        self.0.get(email).into_iter().flatten().filter(move |(t, _)| *t >= at).map(|(_, v)| *v)
    }

    /// The sum of [`Self::values_after`], kept finite ([`add_value`]).
    pub fn revenue_after(&self, email: &str, at: Millis) -> f64 {
        self.values_after(email, at).fold(0.0, add_value)
    }
}
