//! Adaptive per-provider rates (AIMD) and suspensions.
//!
//! A deferral that asks to slow down multiplies the provider's rate by the
//! decrease factor (at most once per hold-off, so one burst of refusals of
//! messages already in flight is one cut); every delivery adds a small step
//! back, until the configured rate is reached and the provider is no longer
//! reduced. A burst of sender-side 5xx refusals suspends the provider for a
//! while, and it comes back at a cut rate. The output is values: a target
//! [`Rate`] per provider and a suspension end time; the throttle applies them.

use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::AdaptiveConfig;
use super::provider::ProviderKey;
use super::signal::SignalKind;
use crate::clock::Millis;
use crate::config::LimitsConfig;
use crate::config::units::Rate;

/// The configured (maximum) rate of each provider: `[limits] per_domain`,
/// or the `[limits.domain]` entry named like the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderLimits {
    /// Rate of providers without an entry.
    pub default: Rate,
    /// Rates by provider name.
    pub overrides: BTreeMap<String, Rate>,
}

impl ProviderLimits {
    /// From `[limits]`.
    pub fn from_config(l: &LimitsConfig) -> Self {
        ProviderLimits { default: l.per_domain, overrides: l.domain.clone() }
    }

    /// The configured rate of one provider.
    pub fn configured(&self, p: &ProviderKey) -> Rate {
        self.overrides.get(p.as_str()).copied().unwrap_or(self.default)
    }
}

/// What the controller knows about one provider; durable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderState {
    /// The reduced rate in messages per second; `None` = the configured rate.
    pub rate: Option<f64>,
    /// The rate a reduced provider recovers to.
    pub ceiling: f64,
    /// The last cut, for the hold-off.
    pub last_cut: Option<Millis>,
    /// The rate last announced to the throttle (per second; infinite = unlimited).
    pub announced: Option<f64>,
    /// Recent sender-side blocks (at most `suspend_after`).
    pub blocks: VecDeque<Millis>,
    /// Suspended until this time.
    pub suspended_until: Option<Millis>,
}

/// A change the throttle or the log should hear about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AdaptiveChange {
    /// The target rate moved (cut, recovered by at least 10 %, or restored).
    Rate(Rate),
    /// The provider is suspended until this time.
    Suspended(Millis),
}

impl ProviderState {
    /// Reacts to one signal. `configured` is the provider's configured rate;
    /// `observed` its recent sending rate per second, the base of a first
    /// cut when the configured rate is unlimited.
    pub fn on_signal(
        &mut self,
        now: Millis,
        kind: &SignalKind,
        configured: Rate,
        observed: f64,
        cfg: &AdaptiveConfig,
    ) -> Vec<AdaptiveChange> {
        let mut out = Vec::new();
        if kind.is_slow_down() {
            let held = self.last_cut.is_some_and(|t| now >= t && now - t < cfg.decrease_holdoff);
            if !held {
                self.cut(now, configured, observed, cfg);
            }
        } else if kind.is_sender_block() {
            self.blocks.retain(|&t| t <= now && now - t < cfg.suspend_within);
            self.blocks.push_back(now);
            while self.blocks.len() > cfg.suspend_after as usize {
                self.blocks.pop_front();
            }
            if self.blocks.len() >= cfg.suspend_after as usize {
                self.blocks.clear();
                let until = now.saturating_add(cfg.suspend_for);
                self.suspended_until = Some(self.suspended_until.map_or(until, |u| u.max(until)));
                out.push(AdaptiveChange::Suspended(until));
                // Come back gently after the suspension.
                self.cut(now, configured, observed, cfg);
            }
        } else if matches!(kind, SignalKind::Delivered)
            && let Some(r) = self.rate
        {
            let ceiling = self.ceiling.min(configured.per_second());
            let next = r + cfg.increase_per_success;
            self.rate = (next < ceiling).then_some(next);
        }
        let now_rate = self.target_per_second(configured);
        let moved = match (self.announced, self.rate) {
            (None, None) => false,
            (None, Some(_)) | (Some(_), None) => true,
            (Some(a), Some(_)) => now_rate < a || now_rate >= a * 1.1,
        };
        if moved {
            self.announced = self.rate.map(|_| now_rate);
            out.push(AdaptiveChange::Rate(self.target(configured)));
        }
        out
    }

    fn cut(&mut self, now: Millis, configured: Rate, observed: f64, cfg: &AdaptiveConfig) {
        let base = match self.rate {
            Some(r) => r,
            None => {
                let c = configured.per_second();
                let base = if c.is_finite() { c } else { observed.max(cfg.min_rate) };
                self.ceiling = base;
                base
            }
        };
        self.rate = Some((base * cfg.decrease_factor).max(cfg.min_rate));
        self.last_cut = Some(now);
    }

    /// Target rate per second (infinite when unlimited).
    pub fn target_per_second(&self, configured: Rate) -> f64 {
        let c = configured.per_second();
        self.rate.map_or(c, |r| r.min(c))
    }

    /// The rate the throttle should apply to this provider.
    pub fn target(&self, configured: Rate) -> Rate {
        match self.rate {
            None => configured,
            Some(r) if r >= configured.per_second() => configured,
            Some(r) => rate_from_per_second(r),
        }
    }

    /// The end of a suspension in force at `now`.
    pub fn suspended(&self, now: Millis) -> Option<Millis> {
        self.suspended_until.filter(|&u| now < u)
    }

    /// Whether nothing is left to remember (the entry can be dropped).
    pub fn is_idle(&self, now: Millis) -> bool {
        self.rate.is_none() && self.suspended(now).is_none() && self.blocks.is_empty()
    }
}

/// A [`Rate`] close to `per_second`: the shortest period (second, minute,
/// hour, day) in which the count is within 1 % of the exact value.
pub fn rate_from_per_second(per_second: f64) -> Rate {
    if !per_second.is_finite() {
        return Rate::Unlimited;
    }
    let periods = [1u64, 60, 3_600, 86_400];
    let mut best = None;
    for secs in periods {
        let exact = per_second * secs as f64;
        let count = exact.round();
        if count >= 1.0 && count <= f64::from(u32::MAX) {
            best = Some((count as u32, secs));
            if (count - exact).abs() <= exact * 0.01 {
                break;
            }
        }
    }
    let (count, secs) = best.unwrap_or((1, 86_400));
    Rate::Limited { count: NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN), per: Duration::from_secs(secs) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reputation::config::ReputationConfig;
    use crate::reputation::signal::Reason;

    fn cfg() -> AdaptiveConfig {
        AdaptiveConfig { increase_per_success: 0.5, decrease_holdoff: 1_000, ..ReputationConfig::default().adaptive }
    }

    const SLOW: SignalKind = SignalKind::Deferred { code: 421, reason: Reason::RateLimited };
    const BLOCK: SignalKind = SignalKind::HardBounce { reason: Reason::Blocked };

    fn per_second(r: Rate) -> f64 {
        r.per_second()
    }

    #[test]
    fn rates_convert_to_readable_units() {
        assert_eq!(rate_from_per_second(20.0).to_string(), "20/s");
        assert_eq!(rate_from_per_second(10.5).to_string(), "630/min");
        assert_eq!(rate_from_per_second(0.5).to_string(), "30/min");
        assert_eq!(rate_from_per_second(1.0 / 60.0).to_string(), "1/min");
        assert_eq!(rate_from_per_second(0.001).to_string(), "86/d");
        assert_eq!(rate_from_per_second(1e-9).to_string(), "1/d");
        assert_eq!(rate_from_per_second(f64::INFINITY), Rate::Unlimited);
    }

    #[test]
    fn slow_down_cuts_once_per_holdoff_and_deliveries_recover() {
        let c = cfg();
        let conf: Rate = "10/s".parse().unwrap();
        let mut s = ProviderState::default();
        let ch = s.on_signal(0, &SLOW, conf, 0.0, &c);
        assert_eq!(ch, vec![AdaptiveChange::Rate("5/s".parse().unwrap())]);
        // Messages already in flight defer too: no further cut within the hold-off.
        assert!(s.on_signal(500, &SLOW, conf, 0.0, &c).is_empty());
        assert_eq!(s.target(conf).to_string(), "5/s");
        s.on_signal(1_000, &SLOW, conf, 0.0, &c);
        assert_eq!(per_second(s.target(conf)), 2.5);
        // Not every deferral is a slow-down.
        s.on_signal(5_000, &SignalKind::Deferred { code: 452, reason: Reason::MailboxFull }, conf, 0.0, &c);
        assert_eq!(per_second(s.target(conf)), 2.5);
        // Additive increase: 2.5 → 3.0 … up to 10, announced in ≥10 % steps.
        let mut announced = vec![];
        for i in 0..20 {
            for ch in s.on_signal(10_000 + i, &SignalKind::Delivered, conf, 0.0, &c) {
                announced.push(ch);
            }
        }
        assert_eq!(s.rate, None, "back to the configured rate");
        assert_eq!(s.target(conf), conf);
        assert_eq!(announced.last(), Some(&AdaptiveChange::Rate(conf)));
        assert!(announced.len() >= 5 && announced.len() < 15, "{announced:?}");
        assert!(s.is_idle(20_000));
    }

    #[test]
    fn cuts_stop_at_the_minimum_rate() {
        let c = cfg();
        let conf: Rate = "1/s".parse().unwrap();
        let mut s = ProviderState::default();
        for i in 0..20 {
            s.on_signal(i * 2_000, &SLOW, conf, 0.0, &c);
        }
        assert_eq!(s.target(conf).to_string(), "1/min");
    }

    #[test]
    fn unlimited_providers_are_cut_from_the_observed_rate() {
        let c = cfg();
        let mut s = ProviderState::default();
        s.on_signal(0, &SLOW, Rate::Unlimited, 40.0, &c);
        assert_eq!(s.target(Rate::Unlimited).to_string(), "20/s");
        for i in 0..40 {
            s.on_signal(2_000 + i, &SignalKind::Delivered, Rate::Unlimited, 0.0, &c);
        }
        assert_eq!(s.target(Rate::Unlimited), Rate::Unlimited);
    }

    #[test]
    fn a_burst_of_blocks_suspends_and_cuts() {
        let c = cfg(); // 5 blocks within 10 minutes, for an hour
        let conf: Rate = "10/s".parse().unwrap();
        let mut s = ProviderState::default();
        // Blocks further apart than the ten-minute window do not add up.
        for t in [0, 700_000, 1_400_000, 2_100_000] {
            assert!(s.on_signal(t, &BLOCK, conf, 0.0, &c).is_empty());
        }
        assert_eq!(s.suspended(2_100_000), None);
        // A recipient-side bounce is not a block.
        s.on_signal(2_100_001, &SignalKind::HardBounce { reason: Reason::BadMailbox }, conf, 0.0, &c);
        let mut out = vec![];
        for t in 3_000_000..3_000_005 {
            out.extend(s.on_signal(t, &BLOCK, conf, 0.0, &c));
        }
        let until = 3_000_004 + 3_600_000;
        assert_eq!(out, vec![AdaptiveChange::Suspended(until), AdaptiveChange::Rate("5/s".parse().unwrap())]);
        assert_eq!(s.suspended(until - 1), Some(until));
        assert_eq!(s.suspended(until), None);
        assert!(!s.is_idle(until), "still reduced after the suspension");
        assert!(s.blocks.len() <= c.suspend_after as usize);
    }

    #[test]
    fn limits_come_from_the_config() {
        let l = ProviderLimits {
            default: "600/min".parse().unwrap(),
            overrides: [("google".to_string(), "300/min".parse().unwrap())].into(),
        };
        assert_eq!(l.configured(&ProviderKey::new("google")).to_string(), "300/min");
        assert_eq!(l.configured(&ProviderKey::new("yahoo")).to_string(), "600/min");
    }
}
