//! What `winback status [--json]` and `GET /metrics` show: a serializable
//! [`Snapshot`] of the rates, thresholds, pause, provider rates and
//! warm-ups, its text rendering, and its Prometheus metrics.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::config::Thresholds;
use super::counters::{Counts, Window};
use super::policy::{Assessment, Level, percent};
use super::provider::ProviderKey;
use super::rates::{Metric, Rates};
use super::state::Pause;
use super::{ALL, Reputation};
use crate::clock::{Millis, rfc3339};
use crate::metrics::{Exposition, KindConflict};

/// Counts and rates over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSnapshot {
    /// Which window.
    pub window: Window,
    /// Counts.
    pub counts: Counts,
    /// Rates (absent below the minimum volume).
    pub rates: Rates,
}

/// Warm-up of one sending domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupSnapshot {
    /// Today's cap.
    pub cap: u32,
    /// Sent today.
    pub sent_today: u32,
    /// Clean days so far.
    pub clean_days: u32,
    /// The ramp reached its maximum.
    pub complete: bool,
}

/// One sending domain, or [`ALL`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeSnapshot {
    /// Domain or `all`.
    pub name: String,
    /// The policy verdict over the policy window.
    pub assessment: Assessment,
    /// Every standard window.
    pub windows: Vec<WindowSnapshot>,
    /// Warm-up, when enabled.
    pub warmup: Option<WarmupSnapshot>,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSnapshot {
    /// The provider.
    pub name: ProviderKey,
    /// Its configured rate.
    pub configured_rate: String,
    /// The rate applied now.
    pub target_rate: String,
    /// The rate applied now, per second (absent when unlimited).
    pub target_per_second: Option<f64>,
    /// Below the configured rate.
    pub reduced: bool,
    /// Suspended until.
    pub suspended_until: Option<Millis>,
    /// Every standard window.
    pub windows: Vec<WindowSnapshot>,
}

/// Everything reputation shows, at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When taken.
    pub at: Millis,
    /// Worst level of any scope (pause while paused).
    pub level: Level,
    /// The pause in force.
    pub pause: Option<Pause>,
    /// Thresholds, window and minimum volume.
    pub thresholds: Thresholds,
    /// Automatic lift of a pause, if configured.
    pub cool_down_ms: Option<Millis>,
    /// `all` first, then the sending domains by name.
    pub scopes: Vec<ScopeSnapshot>,
    /// Providers by name.
    pub providers: Vec<ProviderSnapshot>,
}

impl Reputation {
    /// The snapshot at `now`.
    pub fn snapshot(&self, now: Millis) -> Snapshot {
        let min = self.cfg.thresholds.min_volume;
        let windows = |c: Option<&super::RollingCounters>| {
            Window::ALL
                .iter()
                .map(|&w| {
                    let counts = c.map(|c| c.window(w, now)).unwrap_or_default();
                    WindowSnapshot { window: w, counts, rates: Rates::of(&counts, min) }
                })
                .collect::<Vec<_>>()
        };
        // Domains seen since the start, and those warming up (known from
        // the stored state before they send again).
        let mut names: Vec<&String> = self.domains.keys().chain(self.state.warmup.keys()).collect();
        names.sort();
        names.dedup();
        let mut scopes = vec![];
        for name in std::iter::once(ALL).chain(names.into_iter().map(String::as_str)) {
            let warmup = self.state.warmup.get(name).filter(|_| self.cfg.warmup.enabled).map(|w| {
                let mut w = w.clone();
                w.roll(now, &self.cfg.warmup);
                WarmupSnapshot {
                    cap: w.cap(&self.cfg.warmup),
                    sent_today: w.sent,
                    clean_days: w.clean_days,
                    complete: w.complete(&self.cfg.warmup),
                }
            });
            scopes.push(ScopeSnapshot {
                name: name.to_string(),
                assessment: self.assess(now, name),
                windows: windows(self.scope_counters(name)),
                warmup,
            });
        }
        let mut keys: Vec<&ProviderKey> = self.providers.keys().chain(self.state.providers.keys()).collect();
        keys.sort();
        keys.dedup();
        let providers = keys
            .into_iter()
            .map(|k| {
                let configured = self.limits.configured(k);
                let st = self.state.providers.get(k);
                let target = self.target_rate(k);
                ProviderSnapshot {
                    name: k.clone(),
                    configured_rate: configured.to_string(),
                    target_rate: target.to_string(),
                    target_per_second: Some(target.per_second()).filter(|r| r.is_finite()),
                    reduced: st.is_some_and(|s| s.rate.is_some()),
                    suspended_until: st.and_then(|s| s.suspended(now)),
                    windows: windows(self.providers.get(k)),
                }
            })
            .collect();
        let pause = self.state.paused(now).cloned();
        let worst = scopes.iter().map(|s| s.assessment.level).max().unwrap_or(Level::Ok);
        Snapshot {
            at: now,
            level: if pause.is_some() { Level::Pause } else { worst.min(Level::Warn) },
            pause,
            thresholds: self.cfg.thresholds,
            cool_down_ms: self.cfg.cool_down,
            scopes,
            providers,
        }
    }
}

fn opt_percent(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), percent)
}

impl Snapshot {
    /// The text of `winback status`.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        match &self.pause {
            Some(p) => {
                let _ = writeln!(o, "reputation: PAUSED since {} ({}): {}", rfc3339(p.since), p.scope, p.reason);
                let _ = match p.until {
                    Some(u) => {
                        writeln!(o, "  sending resumes automatically at {}, or now with `winback resume`", rfc3339(u))
                    }
                    None => writeln!(o, "  sending resumes with `winback resume`"),
                };
            }
            None => {
                let _ = writeln!(o, "reputation: {}", self.level.as_str().to_uppercase());
            }
        }
        let t = &self.thresholds;
        let _ = writeln!(
            o,
            "thresholds over {} (from {} messages): hard bounces warn {} pause {}; complaints warn {} pause {}",
            crate::config::units::HumanDuration(std::time::Duration::from_millis(t.window_ms.max(0) as u64)),
            t.min_volume,
            percent(t.hard_bounce.warn),
            percent(t.hard_bounce.pause),
            percent(t.complaint.warn),
            percent(t.complaint.pause),
        );
        let _ = writeln!(
            o,
            "\n{:<28} {:>4} {:>7} {:>7} {:>6} {:>5} {:>5} {:>6} {:>8} {:>8} {:>8} {:>7}",
            "SENDING DOMAIN",
            "WIN",
            "SENT",
            "DELIV",
            "DEFER",
            "HARD",
            "COMPL",
            "UNSUB",
            "BOUNCE%",
            "COMPL%",
            "DEFER%",
            "OPEN%"
        );
        for s in &self.scopes {
            for w in &s.windows {
                let c = &w.counts;
                let _ = writeln!(
                    o,
                    "{:<28} {:>4} {:>7} {:>7} {:>6} {:>5} {:>5} {:>6} {:>8} {:>8} {:>8} {:>7}",
                    s.name,
                    w.window.label(),
                    c.sent,
                    c.delivered,
                    c.deferred,
                    c.hard_bounces.total(),
                    c.complaints,
                    c.unsubscribes,
                    opt_percent(w.rates.hard_bounce),
                    opt_percent(w.rates.complaint),
                    opt_percent(w.rates.deferral),
                    opt_percent(w.rates.human_open),
                );
            }
            if !s.assessment.breaches.is_empty() {
                let _ = writeln!(o, "  {}: {}", s.assessment.level.as_str(), s.assessment.describe());
            }
            if let Some(w) = &s.warmup {
                let _ = writeln!(
                    o,
                    "  warm-up: {} of {} today, {} clean days{}",
                    w.sent_today,
                    w.cap,
                    w.clean_days,
                    if w.complete { ", complete" } else { "" }
                );
            }
        }
        if !self.providers.is_empty() {
            let _ = writeln!(
                o,
                "\n{:<24} {:>12} {:>12} {:>7} {:>6} {:>5} {:>8}  SUSPENDED UNTIL",
                "PROVIDER", "RATE", "CONFIGURED", "SENT24H", "DEFER", "HARD", "DEFER%"
            );
            for p in &self.providers {
                let day = p.windows.iter().find(|w| w.window == Window::Day);
                let (c, r) = day.map_or((Counts::default(), Rates::default()), |w| (w.counts, w.rates));
                let _ = writeln!(
                    o,
                    "{:<24} {:>12} {:>12} {:>7} {:>6} {:>5} {:>8}  {}",
                    p.name.as_str(),
                    p.target_rate,
                    p.configured_rate,
                    c.sent,
                    c.deferred,
                    c.hard_bounces.total(),
                    opt_percent(r.deferral),
                    p.suspended_until.map_or_else(|| "-".into(), rfc3339),
                );
            }
        }
        o
    }

    /// Adds the reputation metric families to an exposition.
    pub fn write_metrics(&self, e: &mut Exposition) -> Result<(), KindConflict> {
        e.gauge("winback_reputation_paused", "1 while all sending is paused by the reputation policy.")?
            .sample(&[], f64::from(u8::from(self.pause.is_some())));
        let lv = |l: Level| match l {
            Level::Ok => 0.0,
            Level::Warn => 1.0,
            Level::Pause => 2.0,
        };
        let f = e.gauge(
            "winback_reputation_level",
            "Policy level per sending domain over the policy window: 0 ok, 1 warn, 2 pause.",
        )?;
        for s in &self.scopes {
            f.sample(&[("domain", &s.name)], lv(s.assessment.level));
        }
        let f = e.gauge("winback_reputation_threshold", "Rate thresholds of the reputation policy (fraction).")?;
        for (m, t) in self.thresholds.by_metric() {
            f.sample(&[("metric", m.as_str()), ("level", "warn")], t.warn);
            f.sample(&[("metric", m.as_str()), ("level", "pause")], t.pause);
        }
        e.gauge("winback_reputation_min_volume", "Messages in the policy window before a rate counts.")?
            .sample(&[], f64::from(self.thresholds.min_volume));

        let events = |c: &Counts| {
            [
                ("sent", c.sent),
                ("delivered", c.delivered),
                ("deferred", c.deferred),
                ("hard_bounce", c.hard_bounces.total()),
                ("soft_bounce", c.soft_bounces.total()),
                ("complaint", c.complaints),
                ("unsubscribe", c.unsubscribes),
                ("human_open", c.human_opens),
                ("machine_open", c.machine_opens),
                ("click", c.clicks),
            ]
        };
        let f = e.gauge("winback_reputation_events", "Signals per sending domain within a rolling window.")?;
        for s in &self.scopes {
            for w in &s.windows {
                for (ev, n) in events(&w.counts) {
                    f.sample(&[("domain", &s.name), ("window", w.window.label()), ("event", ev)], f64::from(n));
                }
            }
        }
        let f = e.gauge(
            "winback_reputation_rate",
            "Rates per sending domain within a rolling window (fraction; absent below the minimum volume).",
        )?;
        for s in &self.scopes {
            for w in &s.windows {
                for m in Metric::ALL {
                    if let Some(r) = w.rates.get(m) {
                        f.sample(&[("domain", &s.name), ("window", w.window.label()), ("metric", m.as_str())], r);
                    }
                }
            }
        }
        let f = e.gauge("winback_reputation_provider_events", "Signals per provider over the last 24 hours.")?;
        for p in &self.providers {
            if let Some(w) = p.windows.iter().find(|w| w.window == Window::Day) {
                for (ev, n) in events(&w.counts)
                    .into_iter()
                    .filter(|(ev, _)| matches!(*ev, "sent" | "delivered" | "deferred" | "hard_bounce" | "complaint"))
                {
                    f.sample(&[("provider", p.name.as_str()), ("event", ev)], f64::from(n));
                }
            }
        }
        let f = e.gauge(
            "winback_reputation_provider_rate_per_second",
            "Target sending rate per provider, messages per second (+Inf when unlimited).",
        )?;
        for p in &self.providers {
            f.sample(&[("provider", p.name.as_str())], p.target_per_second.unwrap_or(f64::INFINITY));
        }
        let f = e.gauge(
            "winback_reputation_provider_reduced",
            "1 while a provider's rate is cut below its configured rate.",
        )?;
        for p in &self.providers {
            f.sample(&[("provider", p.name.as_str())], f64::from(u8::from(p.reduced)));
        }
        let f =
            e.gauge("winback_reputation_provider_suspended", "1 while a provider is suspended after repeated blocks.")?;
        for p in &self.providers {
            f.sample(&[("provider", p.name.as_str())], f64::from(u8::from(p.suspended_until.is_some())));
        }
        let warm: Vec<_> = self.scopes.iter().filter_map(|s| s.warmup.as_ref().map(|w| (s.name.as_str(), w))).collect();
        if !warm.is_empty() {
            let f = e.gauge("winback_reputation_warmup_daily_cap", "Warm-up cap of a sending domain for today.")?;
            for (d, w) in &warm {
                f.sample(&[("domain", d)], f64::from(w.cap));
            }
            let f =
                e.gauge("winback_reputation_warmup_sent_today", "Messages a warming-up domain sent today (UTC).")?;
            for (d, w) in &warm {
                f.sample(&[("domain", d)], f64::from(w.sent_today));
            }
        }
        Ok(())
    }
}
