//! Warm-up of a sending domain: a daily cap (UTC days) that starts small
//! and grows by a factor after each clean day, up to the configured
//! maximum. A day is clean when the domain used at least half its cap and
//! no warning threshold was reached; a day with a warning, or too little
//! sending to judge, holds the cap where it is.

use serde::{Deserialize, Serialize};

use super::config::WarmupConfig;
use crate::clock::Millis;

const DAY: Millis = 86_400_000;

/// The UTC day number of a time.
pub fn day_of(t: Millis) -> i64 {
    t.div_euclid(DAY)
}

/// Warm-up progress of one sending domain; durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmupState {
    /// The UTC day `sent` counts.
    pub day: i64,
    /// Messages sent on `day`.
    pub sent: u32,
    /// Clean days so far (the cap is `start × factor^clean_days`).
    pub clean_days: u32,
    /// A warning threshold was reached on `day`.
    pub held: bool,
}

/// What a day change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmupStep {
    /// The cap grew to this.
    Grew(u32),
    /// The cap stayed (warning, or too little sending).
    Held(u32),
}

impl WarmupState {
    /// A domain seen for the first time at `now`.
    pub fn new(now: Millis) -> Self {
        WarmupState { day: day_of(now), sent: 0, clean_days: 0, held: false }
    }

    /// The daily cap after `clean_days` clean days.
    pub fn cap(&self, cfg: &WarmupConfig) -> u32 {
        let c = f64::from(cfg.start) * cfg.factor.powi(self.clean_days.min(1_000) as i32);
        if c >= f64::from(cfg.max) { cfg.max } else { c.round() as u32 }
    }

    /// Whether the ramp has reached the maximum.
    pub fn complete(&self, cfg: &WarmupConfig) -> bool {
        self.cap(cfg) >= cfg.max
    }

    /// This state as of `now`'s day: the day `sent` counted is judged and
    /// a new day begins. Days without a record in between hold the cap.
    pub fn roll(&mut self, now: Millis, cfg: &WarmupConfig) -> Option<WarmupStep> {
        let today = day_of(now);
        if today <= self.day {
            return None;
        }
        let cap = self.cap(cfg);
        let clean = !self.held && u64::from(self.sent) * 2 >= u64::from(cap);
        if clean && !self.complete(cfg) {
            self.clean_days += 1;
        }
        *self = WarmupState { day: today, sent: 0, clean_days: self.clean_days, held: false };
        let new_cap = self.cap(cfg);
        Some(if new_cap > cap { WarmupStep::Grew(new_cap) } else { WarmupStep::Held(cap) })
    }

    /// Counts one message sent at `now`.
    pub fn on_sent(&mut self, now: Millis, cfg: &WarmupConfig) -> Option<WarmupStep> {
        let step = self.roll(now, cfg);
        if day_of(now) == self.day {
            self.sent = self.sent.saturating_add(1);
        }
        step
    }

    /// Marks `now`'s day as not clean (a warning threshold was reached).
    pub fn hold(&mut self, now: Millis, cfg: &WarmupConfig) -> Option<WarmupStep> {
        let step = self.roll(now, cfg);
        if day_of(now) == self.day {
            self.held = true;
        }
        step
    }

    /// Messages still allowed on `now`'s day.
    pub fn remaining(&self, now: Millis, cfg: &WarmupConfig) -> u32 {
        let mut s = self.clone();
        s.roll(now, cfg);
        s.cap(cfg).saturating_sub(if day_of(now) == s.day { s.sent } else { 0 })
    }

    /// Start of the UTC day after `now`, when the cap resets.
    pub fn next_day(now: Millis) -> Millis {
        (day_of(now) + 1).saturating_mul(DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: WarmupConfig = WarmupConfig { enabled: true, start: 50, factor: 1.5, max: 1_000 };
    const T0: Millis = 19_000 * DAY + 9 * 3_600_000;

    fn send(s: &mut WarmupState, t: Millis, n: u32) {
        for _ in 0..n {
            s.on_sent(t, &CFG);
        }
    }

    #[test]
    fn the_cap_grows_after_clean_days_up_to_the_maximum() {
        let mut s = WarmupState::new(T0);
        let mut caps = vec![];
        for d in 0..12 {
            let t = T0 + d * DAY;
            let cap = s.remaining(t, &CFG);
            caps.push(cap);
            send(&mut s, t, cap);
            assert_eq!(s.remaining(t, &CFG), 0);
        }
        assert_eq!(caps, vec![50, 75, 113, 169, 253, 380, 570, 854, 1000, 1000, 1000, 1000]);
        assert!(s.complete(&CFG));
        assert_eq!(s.clean_days, 8, "no more counting past the maximum");
    }

    #[test]
    fn warnings_idle_days_and_light_days_hold_the_cap() {
        let mut s = WarmupState::new(T0);
        send(&mut s, T0, 50);
        s.hold(T0 + 3_600_000, &CFG);
        assert_eq!(s.remaining(T0 + DAY, &CFG), 50, "held after a warning");
        send(&mut s, T0 + DAY, 24);
        assert_eq!(s.remaining(T0 + 2 * DAY, &CFG), 50, "less than half the cap used");
        send(&mut s, T0 + 2 * DAY, 25);
        // Two idle days in between do not count.
        assert_eq!(s.roll(T0 + 5 * DAY, &CFG), Some(WarmupStep::Grew(75)));
        assert_eq!(s.roll(T0 + 6 * DAY, &CFG), Some(WarmupStep::Held(75)));
        assert_eq!(s.roll(T0 + 6 * DAY + 1, &CFG), None);
    }

    #[test]
    fn the_cap_resets_at_utc_midnight() {
        let mut s = WarmupState::new(T0);
        send(&mut s, T0, 60);
        assert_eq!(s.sent, 60);
        assert_eq!(s.remaining(T0, &CFG), 0);
        let midnight = WarmupState::next_day(T0);
        assert_eq!(midnight, 19_001 * DAY);
        assert_eq!(s.remaining(midnight - 1, &CFG), 0);
        assert_eq!(s.remaining(midnight, &CFG), 75);
        // A clock that steps back does not reopen a day.
        send(&mut s, midnight, 1);
        s.on_sent(T0, &CFG);
        assert_eq!(s.sent, 1);
    }
}
