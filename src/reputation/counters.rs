//! Rolling counters in fixed memory: three rings of time buckets (60 minute
//! buckets for the last hour, 168 hourly buckets for the last day and week,
//! 30 daily buckets for the last month). Recording is O(1); a window sum
//! reads the buckets of the finest ring that covers it.
//!
//! A window `[from, now]` sums the buckets that start at or after `from`, so
//! it covers between one bucket less than asked and exactly what was asked
//! (the last 24 h are 23 to 24 h of data): it never counts data from before
//! `from`, which matters after a resume.

use serde::{Deserialize, Serialize};

use super::signal::{Reason, SignalKind};
use crate::clock::Millis;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;
const DAY: Millis = 86_400_000;

/// The standard reporting windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Window {
    /// The last hour.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days.
    #[serde(rename = "30d")]
    Month,
}

impl Window {
    /// All windows, shortest first.
    pub const ALL: [Window; 4] = [Window::Hour, Window::Day, Window::Week, Window::Month];

    /// Length in milliseconds.
    pub fn span(self) -> Millis {
        match self {
            Window::Hour => HOUR,
            Window::Day => DAY,
            Window::Week => 7 * DAY,
            Window::Month => 30 * DAY,
        }
    }

    /// Label: `1h`, `24h`, `7d`, `30d`.
    pub fn label(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }
}

/// The longest span a window sum can cover.
pub const MAX_SPAN: Millis = 30 * DAY;

/// Counts per [`Reason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReasonCounts([u32; Reason::COUNT]);

impl ReasonCounts {
    /// The count for one reason.
    pub fn get(&self, r: Reason) -> u32 {
        self.0.get(r.index()).copied().unwrap_or(0)
    }

    /// The sum over all reasons.
    pub fn total(&self) -> u32 {
        self.0.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }

    fn bump(&mut self, r: Reason) {
        if let Some(c) = self.0.get_mut(r.index()) {
            *c = c.saturating_add(1);
        }
    }

    fn add(&mut self, o: &ReasonCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

impl Serialize for ReasonCounts {
    /// A map of the reasons with a non-zero count.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for r in Reason::ALL {
            let n = self.get(r);
            if n > 0 {
                m.serialize_entry(r.as_str(), &n)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ReasonCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = std::collections::BTreeMap::<Reason, u32>::deserialize(d)?;
        let mut rc = ReasonCounts::default();
        for (r, n) in m {
            if let Some(c) = rc.0.get_mut(r.index()) {
                *c = n;
            }
        }
        Ok(rc)
    }
}

/// Counts of every signal kind over some time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// New messages handed to the transport.
    pub sent: u32,
    /// Messages accepted by the receiver.
    pub delivered: u32,
    /// Attempts deferred (4xx).
    pub deferred: u32,
    /// Hard bounces by reason.
    pub hard_bounces: ReasonCounts,
    /// Soft bounces by reason.
    pub soft_bounces: ReasonCounts,
    /// Spam complaints.
    pub complaints: u32,
    /// Unsubscribes.
    pub unsubscribes: u32,
    /// Opens by people.
    pub human_opens: u32,
    /// Opens by proxies and scanners.
    pub machine_opens: u32,
    /// Clicks.
    pub clicks: u32,
}

impl Counts {
    /// Counts one signal.
    pub fn record(&mut self, kind: &SignalKind) {
        let bump = |c: &mut u32| *c = c.saturating_add(1);
        match *kind {
            SignalKind::Sent => bump(&mut self.sent),
            SignalKind::Delivered => bump(&mut self.delivered),
            SignalKind::Deferred { .. } => bump(&mut self.deferred),
            SignalKind::HardBounce { reason } => self.hard_bounces.bump(reason),
            SignalKind::SoftBounce { reason } => self.soft_bounces.bump(reason),
            SignalKind::Complaint => bump(&mut self.complaints),
            SignalKind::Unsubscribe => bump(&mut self.unsubscribes),
            SignalKind::Open { human: true } => bump(&mut self.human_opens),
            SignalKind::Open { human: false } => bump(&mut self.machine_opens),
            SignalKind::Click => bump(&mut self.clicks),
        }
    }

    /// Adds another count into this one (saturating).
    pub fn add(&mut self, o: &Counts) {
        for (a, b) in [
            (&mut self.sent, o.sent),
            (&mut self.delivered, o.delivered),
            (&mut self.deferred, o.deferred),
            (&mut self.complaints, o.complaints),
            (&mut self.unsubscribes, o.unsubscribes),
            (&mut self.human_opens, o.human_opens),
            (&mut self.machine_opens, o.machine_opens),
            (&mut self.clicks, o.clicks),
        ] {
            *a = a.saturating_add(b);
        }
        self.hard_bounces.add(&o.hard_bounces);
        self.soft_bounces.add(&o.soft_bounces);
    }
}

/// One ring of equal-width buckets; each slot remembers which bucket it
/// holds so stale slots are recognised without a sweep.
#[derive(Debug, Clone)]
struct Ring {
    width: Millis,
    slots: Vec<(i64, Counts)>,
}

impl Ring {
    fn new(width: Millis, len: usize) -> Self {
        // Bucket index i64::MIN marks a slot that never held data.
        Ring { width, slots: vec![(i64::MIN, Counts::default()); len.max(1)] }
    }

    fn slot_of(&self, bucket: i64) -> usize {
        bucket.rem_euclid(self.slots.len() as i64) as usize
    }

    /// Counts at time `t`; an event older than what the ring still holds
    /// for its slot is dropped here (coarser rings still count it).
    fn record(&mut self, t: Millis, kind: &SignalKind) {
        let bucket = t.div_euclid(self.width);
        let i = self.slot_of(bucket);
        if let Some((held, counts)) = self.slots.get_mut(i) {
            if *held < bucket {
                *held = bucket;
                *counts = Counts::default();
            }
            if *held == bucket {
                counts.record(kind);
            }
        }
    }

    /// Sum of the buckets starting at or after `from` and not after `now`'s bucket.
    fn sum(&self, from: Millis, now: Millis) -> Counts {
        let last = now.div_euclid(self.width);
        let first = from.div_euclid(self.width).saturating_add(i64::from(from.rem_euclid(self.width) != 0));
        let first = first.max(last - self.slots.len() as i64 + 1);
        let mut total = Counts::default();
        for (held, counts) in &self.slots {
            if *held >= first && *held <= last {
                total.add(counts);
            }
        }
        total
    }

    /// Whether `span` fits in this ring.
    fn covers(&self, span: Millis) -> bool {
        span <= self.width.saturating_mul(self.slots.len() as i64)
    }
}

/// The non-empty buckets of [`RollingCounters`], as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCounters {
    /// `(minute number, counts)`.
    pub minutes: Vec<(i64, Counts)>,
    /// `(hour number, counts)`.
    pub hours: Vec<(i64, Counts)>,
    /// `(day number, counts)`.
    pub days: Vec<(i64, Counts)>,
    /// The latest signal counted.
    pub last_seen: Millis,
}

/// Rolling counters for one key (a sending domain or a provider).
#[derive(Debug, Clone)]
pub struct RollingCounters {
    minutes: Ring,
    hours: Ring,
    days: Ring,
    last_seen: Millis,
}

impl Default for RollingCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl RollingCounters {
    /// Empty counters.
    pub fn new() -> Self {
        RollingCounters {
            minutes: Ring::new(MINUTE, 60),
            hours: Ring::new(HOUR, 168),
            days: Ring::new(DAY, 30),
            last_seen: i64::MIN,
        }
    }

    /// Counts a signal that happened at `t`. O(1).
    pub fn record(&mut self, t: Millis, kind: &SignalKind) {
        self.minutes.record(t, kind);
        self.hours.record(t, kind);
        self.days.record(t, kind);
        self.last_seen = self.last_seen.max(t);
    }

    /// Counts over a standard window ending now.
    pub fn window(&self, w: Window, now: Millis) -> Counts {
        self.since(now.saturating_sub(w.span()), now)
    }

    /// Counts over `[from, now]`, at the finest resolution that covers it
    /// (spans beyond 30 days are cut to 30 days).
    pub fn since(&self, from: Millis, now: Millis) -> Counts {
        let span = now.saturating_sub(from).max(0);
        let from = from.max(now.saturating_sub(MAX_SPAN));
        [&self.minutes, &self.hours, &self.days]
            .into_iter()
            .find(|r| r.covers(span))
            .unwrap_or(&self.days)
            .sum(from, now)
    }

    /// The counts of each of the last `days` days ending with `now`'s day
    /// (UTC), oldest first, from the daily ring (days it no longer holds,
    /// or never held data for, are zero).
    pub fn daily(&self, now: Millis, days: usize) -> Vec<(i64, Counts)> {
        let today = now.div_euclid(DAY);
        let days = days.min(self.days.slots.len()) as i64;
        (0..days)
            .rev()
            .map(|back| {
                let day = today - back;
                let held = self.days.slots.get(self.days.slot_of(day)).filter(|(b, _)| *b == day);
                (day, held.map(|(_, c)| *c).unwrap_or_default())
            })
            .collect()
    }

    /// The latest time a signal was counted (`i64::MIN` if never).
    pub fn last_seen(&self) -> Millis {
        self.last_seen
    }

    /// The buckets that hold data, to store across restarts.
    pub fn save(&self) -> SavedCounters {
        let held = |r: &Ring| r.slots.iter().filter(|(b, _)| *b != i64::MIN).copied().collect();
        SavedCounters {
            minutes: held(&self.minutes),
            hours: held(&self.hours),
            days: held(&self.days),
            last_seen: self.last_seen,
        }
    }

    /// Counters holding what [`Self::save`] kept (buckets that no longer
    /// fit a ring are dropped, as recording them would).
    pub fn restore(saved: &SavedCounters) -> Self {
        let mut c = Self::new();
        for (ring, buckets) in
            [(&mut c.minutes, &saved.minutes), (&mut c.hours, &saved.hours), (&mut c.days, &saved.days)]
        {
            for (bucket, counts) in buckets {
                let i = ring.slot_of(*bucket);
                if let Some(slot) = ring.slots.get_mut(i)
                    && slot.0 < *bucket
                {
                    *slot = (*bucket, *counts);
                }
            }
        }
        c.last_seen = saved.last_seen;
        c
    }

    /// Bytes these counters hold, fixed whatever the traffic.
    pub fn memory_bytes(&self) -> usize {
        let slots = self.minutes.slots.len() + self.hours.slots.len() + self.days.slots.len();
        std::mem::size_of::<Self>() + slots * std::mem::size_of::<(i64, Counts)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_700_000_000_000 - 1_700_000_000_000 % DAY;

    fn sent(c: &mut RollingCounters, t: Millis, n: usize) {
        for _ in 0..n {
            c.record(t, &SignalKind::Sent);
        }
    }

    #[test]
    fn windows_use_their_resolution() {
        let mut c = RollingCounters::new();
        sent(&mut c, T0, 1); // day 0
        sent(&mut c, T0 + 10 * DAY, 2);
        sent(&mut c, T0 + 29 * DAY + 2 * HOUR, 4);
        sent(&mut c, T0 + 29 * DAY + 20 * HOUR + 10 * MINUTE, 8);
        let now = T0 + 29 * DAY + 20 * HOUR + 30 * MINUTE;
        assert_eq!(c.window(Window::Hour, now).sent, 8);
        assert_eq!(c.window(Window::Day, now).sent, 12);
        assert_eq!(c.window(Window::Week, now).sent, 12);
        // 30 days back from day 29 20:30 is day -1 20:30: day 0 starts after it.
        assert_eq!(c.window(Window::Month, now).sent, 15);
        assert_eq!(c.since(T0 + 1, now).sent, 14);
        // A window never counts buckets that start before `from`.
        assert_eq!(c.since(T0 + 29 * DAY + 2 * HOUR + 1, now).sent, 8);
        assert_eq!(c.last_seen(), T0 + 29 * DAY + 20 * HOUR + 10 * MINUTE);
    }

    #[test]
    fn old_buckets_expire_and_memory_is_fixed() {
        let mut c = RollingCounters::new();
        // Ten thousand minutes of traffic leave at most one hour in the minute ring.
        for m in 0..10_000 {
            c.record(T0 + m * MINUTE, &SignalKind::Delivered);
        }
        let now = T0 + 9_999 * MINUTE;
        assert_eq!(c.window(Window::Hour, now).delivered, 60);
        assert_eq!(c.window(Window::Day, now).delivered, 60 * 23 + (9_999 % 60 + 1) as u32);
        assert_eq!(c.minutes.slots.len() + c.hours.slots.len() + c.days.slots.len(), 60 + 168 + 30);
        // Much later nothing is left.
        assert_eq!(c.window(Window::Month, now + 31 * DAY), Counts::default());
    }

    #[test]
    fn late_events_count_only_where_their_bucket_is_still_held() {
        let mut c = RollingCounters::new();
        sent(&mut c, T0 + 2 * HOUR, 1);
        // An event from 90 minutes before: gone from the minute ring's view
        // (its slot is free, so it is held there but outside the hour window).
        c.record(T0 + 30 * MINUTE, &SignalKind::Complaint);
        let now = T0 + 2 * HOUR;
        assert_eq!(c.window(Window::Hour, now).complaints, 0);
        assert_eq!(c.window(Window::Day, now).complaints, 1);
        // An event whose slot already holds a newer bucket is dropped from that ring only.
        c.record(T0 + 2 * HOUR - 60 * MINUTE, &SignalKind::Complaint);
        assert_eq!(c.window(Window::Day, now).complaints, 2);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut c = RollingCounters::new();
        for t in [Millis::MIN, Millis::MAX, 0, -1] {
            c.record(t, &SignalKind::Sent);
            for w in Window::ALL {
                c.window(w, t);
            }
            c.since(Millis::MIN, t);
            c.since(Millis::MAX, t);
        }
        assert_eq!(c.window(Window::Hour, 0).sent, 2, "0 and -1 ms are in the last hour at 0");
    }

    #[test]
    fn every_kind_is_counted() {
        let mut c = Counts::default();
        for k in [
            SignalKind::Sent,
            SignalKind::Delivered,
            SignalKind::Deferred { code: 421, reason: Reason::RateLimited },
            SignalKind::HardBounce { reason: Reason::BadMailbox },
            SignalKind::HardBounce { reason: Reason::BadMailbox },
            SignalKind::SoftBounce { reason: Reason::MailboxFull },
            SignalKind::Complaint,
            SignalKind::Unsubscribe,
            SignalKind::Open { human: true },
            SignalKind::Open { human: false },
            SignalKind::Click,
        ] {
            c.record(&k);
        }
        assert_eq!((c.sent, c.delivered, c.deferred), (1, 1, 1));
        assert_eq!(c.hard_bounces.get(Reason::BadMailbox), 2);
        assert_eq!(c.hard_bounces.total(), 2);
        assert_eq!(c.soft_bounces.get(Reason::MailboxFull), 1);
        assert_eq!((c.complaints, c.unsubscribes, c.human_opens, c.machine_opens, c.clicks), (1, 1, 1, 1, 1));
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["hard_bounces"], serde_json::json!({"badmailbox": 2}));
        let back: Counts = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
