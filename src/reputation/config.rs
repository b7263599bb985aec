//! The `[reputation]` config section: thresholds, window and minimum
//! volume, the adaptive per-provider throttle (`[reputation.adaptive]`) and
//! the warm-up (`[reputation.warmup]`), raw and validated.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::counters::MAX_SPAN;
use super::provider::ProviderTable;
use crate::clock::{Millis, ms};
use crate::config::ConfigError;
use crate::config::units::{HumanDuration, Rate};

/// A percentage written `"0.3%"`; holds the fraction (0.003).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("`{s}` is not a percentage: write it like \"2%\" or \"0.3%\"");
        let n: f64 = s.trim().strip_suffix('%').ok_or_else(err)?.trim().parse().map_err(|_| err())?;
        if !(0.0..=100.0).contains(&n) {
            return Err(format!("`{s}`: a percentage is between 0% and 100%"));
        }
        Ok(Percent(n / 100.0))
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(f64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
            Raw::N(n) => Err(serde::de::Error::custom(format!(
                "{n} is ambiguous: write a percentage as a string, like \"{n}%\""
            ))),
        }
    }
}

/// `[reputation]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReputation {
    /// Window the warn/pause thresholds look at.
    pub window: Option<HumanDuration>,
    /// Messages in the window before a rate counts.
    pub min_volume: Option<u32>,
    /// Hard-bounce rate that logs a warning and holds the warm-up.
    pub warn_hard_bounce_rate: Option<Percent>,
    /// Complaint rate that logs a warning and holds the warm-up.
    pub warn_complaint_rate: Option<Percent>,
    /// Hard-bounce rate that pauses all sending.
    pub pause_hard_bounce_rate: Option<Percent>,
    /// Complaint rate that pauses all sending.
    pub pause_complaint_rate: Option<Percent>,
    /// Lift a pause by itself after this long (default: only `winback resume` lifts it).
    pub cool_down: Option<HumanDuration>,
    /// MX suffix → provider table.
    pub providers_file: Option<PathBuf>,
    /// Most providers tracked one by one; the rest are counted as `other`.
    pub max_providers: Option<usize>,
    /// How a recipient domain's provider is found: `"mx"` or `"domain"`.
    pub provider_lookup: Option<String>,
    /// `[reputation.adaptive]`
    #[serde(default)]
    pub adaptive: RawAdaptive,
    /// `[reputation.warmup]`
    #[serde(default)]
    pub warmup: RawWarmup,
}

/// `[reputation.adaptive]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdaptive {
    /// A slow-down deferral multiplies the provider's rate by this.
    pub decrease_factor: Option<f64>,
    /// Each delivery raises a reduced rate by this much.
    pub increase_per_success: Option<Rate>,
    /// The rate is never cut below this.
    pub min_rate: Option<Rate>,
    /// At most one cut per provider within this time.
    pub decrease_holdoff: Option<HumanDuration>,
    /// This many sender-side 5xx blocks …
    pub suspend_after: Option<u32>,
    /// … within this time …
    pub suspend_within: Option<HumanDuration>,
    /// … suspend the provider for this long.
    pub suspend_for: Option<HumanDuration>,
}

/// `[reputation.warmup]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWarmup {
    /// Cap the daily volume of new sending domains.
    pub enabled: Option<bool>,
    /// Messages per day on the first day.
    pub start: Option<u32>,
    /// Growth per clean day.
    pub factor: Option<f64>,
    /// Daily volume where the ramp ends.
    pub max: Option<u32>,
}

/// Warn and pause levels of one rate (fractions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Warn (and hold the warm-up) at or above this.
    pub warn: f64,
    /// Pause all sending at or above this.
    pub pause: f64,
}

/// The thresholds the policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Window the rates are taken over, in milliseconds.
    pub window_ms: Millis,
    /// Messages in the window before a rate counts.
    pub min_volume: u32,
    /// Hard bounces per message sent.
    pub hard_bounce: Threshold,
    /// Complaints per message delivered.
    pub complaint: Threshold,
}

/// `[reputation.adaptive]`, validated; rates in messages per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// In (0, 1).
    pub decrease_factor: f64,
    /// Added per delivery while reduced.
    pub increase_per_success: f64,
    /// Floor of a cut.
    pub min_rate: f64,
    /// At most one cut within this time.
    pub decrease_holdoff: Millis,
    /// Blocks that trigger a suspension.
    pub suspend_after: u32,
    /// … within this time.
    pub suspend_within: Millis,
    /// Length of a suspension.
    pub suspend_for: Millis,
}

/// `[reputation.warmup]`, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupConfig {
    /// Whether sending domains are warmed up.
    pub enabled: bool,
    /// First day's cap.
    pub start: u32,
    /// Growth per clean day (> 1).
    pub factor: f64,
    /// Final daily cap.
    pub max: u32,
}

/// How the daemon finds the provider of a recipient domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderLookup {
    /// Look up the domain's MX hosts and group by them (the default):
    /// `gmail.com` and a Google Workspace domain are both `google`.
    Mx,
    /// Use the recipient domain itself (no DNS; for closed test setups or
    /// when the resolver cannot reach the internet).
    Domain,
}

/// `[reputation]`, validated.
#[derive(Debug, Clone)]
pub struct ReputationConfig {
    /// Thresholds, window and minimum volume.
    pub thresholds: Thresholds,
    /// Automatic lift of a pause, if set.
    pub cool_down: Option<Millis>,
    /// The provider table in force.
    pub providers: ProviderTable,
    /// Most providers tracked by name.
    pub max_providers: usize,
    /// How a recipient domain's provider is found.
    pub provider_lookup: ProviderLookup,
    /// Adaptive throttle.
    pub adaptive: AdaptiveConfig,
    /// Warm-up.
    pub warmup: WarmupConfig,
}

impl Default for ReputationConfig {
    /// The documented defaults with the built-in provider table.
    fn default() -> Self {
        #[allow(clippy::expect_used)]
        validate_with("<default>", RawReputation::default(), None).expect("the built-in defaults are valid")
    }
}

/// Validates `[reputation]`; `file` names the config file in errors.
pub fn validate(file: &str, raw: RawReputation) -> Result<ReputationConfig, ConfigError> {
    validate_with(file, raw, Some(Path::new("config/providers.toml")))
}

fn validate_with(
    file: &str,
    raw: RawReputation,
    default_table: Option<&Path>,
) -> Result<ReputationConfig, ConfigError> {
    let err =
        |key: &str, message: String| ConfigError { file: file.to_string(), key: format!("[reputation{key}"), message };
    let pct = |v: Option<Percent>, d: f64| v.map_or(d, |p| p.0);
    let window = raw.window.map_or(Duration::from_secs(86_400), |d| d.0);
    if window < Duration::from_secs(60) || ms(window) > MAX_SPAN {
        return Err(err("] window", format!("`{}`: use a window between 1m and 30d", HumanDuration(window))));
    }
    let min_volume = raw.min_volume.unwrap_or(200);
    if min_volume == 0 {
        return Err(err("] min_volume", "must be at least 1 (a rate over zero messages means nothing)".into()));
    }
    let pair = |name: &str, warn: Option<Percent>, dw: f64, pause: Option<Percent>, dp: f64| {
        let (w, p) = (pct(warn, dw), pct(pause, dp));
        if w <= 0.0 || p <= 0.0 {
            return Err(err(&format!("] warn_{name}_rate"), "thresholds must be above 0%".into()));
        }
        if w > p {
            return Err(err(
                &format!("] warn_{name}_rate"),
                format!("the warning ({:.3}%) must not be above the pause ({:.3}%)", w * 100.0, p * 100.0),
            ));
        }
        Ok(Threshold { warn: w, pause: p })
    };
    let hard_bounce = pair("hard_bounce", raw.warn_hard_bounce_rate, 0.02, raw.pause_hard_bounce_rate, 0.05)?;
    let complaint = pair("complaint", raw.warn_complaint_rate, 0.001, raw.pause_complaint_rate, 0.003)?;
    let cool_down = raw.cool_down.map(|d| ms(d.0));
    if cool_down == Some(0) {
        return Err(err("] cool_down", "must be longer than zero; leave it out to resume only by hand".into()));
    }

    let providers = match (raw.providers_file, default_table) {
        (Some(p), _) => ProviderTable::load(&p).map_err(|e| err("] providers_file", e.0))?,
        (None, Some(d)) if d.exists() => ProviderTable::load(d).map_err(|e| err("] providers_file", e.0))?,
        _ => ProviderTable::builtin().clone(),
    };
    let max_providers = raw.max_providers.unwrap_or(500);
    if max_providers == 0 {
        return Err(err("] max_providers", "must be at least 1".into()));
    }
    let provider_lookup = match raw.provider_lookup.as_deref() {
        None | Some("mx") => ProviderLookup::Mx,
        Some("domain") => ProviderLookup::Domain,
        Some(other) => {
            return Err(err("] provider_lookup", format!("`{other}`: use \"mx\" (group by MX hosts) or \"domain\"")));
        }
    };

    let a = raw.adaptive;
    let per_sec = |r: Option<Rate>, d: f64, key: &str| match r {
        None => Ok(d),
        Some(Rate::Unlimited) => Err(err(&format!(".adaptive] {key}"), "must be a rate like \"6/h\"".into())),
        Some(r) => Ok(r.per_second()),
    };
    let decrease_factor = a.decrease_factor.unwrap_or(0.5);
    if !(decrease_factor > 0.0 && decrease_factor < 1.0) {
        return Err(err(".adaptive] decrease_factor", format!("{decrease_factor}: use a number between 0 and 1")));
    }
    let suspend_after = a.suspend_after.unwrap_or(5);
    if suspend_after == 0 {
        return Err(err(".adaptive] suspend_after", "must be at least 1".into()));
    }
    let positive = |d: Option<HumanDuration>, default: u64, key: &str| {
        let v = d.map_or(default, |d| ms(d.0).max(0) as u64);
        if v == 0 { Err(err(&format!(".adaptive] {key}"), "must be longer than zero".into())) } else { Ok(v as Millis) }
    };
    let adaptive = AdaptiveConfig {
        decrease_factor,
        increase_per_success: per_sec(a.increase_per_success, 6.0 / 3_600.0, "increase_per_success")?,
        min_rate: per_sec(a.min_rate, 1.0 / 60.0, "min_rate")?,
        decrease_holdoff: a.decrease_holdoff.map_or(10_000, |d| ms(d.0)),
        suspend_after,
        suspend_within: positive(a.suspend_within, 600_000, "suspend_within")?,
        suspend_for: positive(a.suspend_for, 3_600_000, "suspend_for")?,
    };

    let w = raw.warmup;
    let warmup = WarmupConfig {
        enabled: w.enabled.unwrap_or(false),
        start: w.start.unwrap_or(50),
        factor: w.factor.unwrap_or(1.5),
        max: w.max.unwrap_or(20_000),
    };
    if warmup.start == 0 {
        return Err(err(".warmup] start", "must be at least 1 message per day".into()));
    }
    if !(warmup.factor > 1.0 && warmup.factor <= 10.0) {
        return Err(err(
            ".warmup] factor",
            format!("{}: use a growth factor above 1 (like 1.5) and at most 10", warmup.factor),
        ));
    }
    if warmup.max < warmup.start {
        return Err(err(".warmup] max", format!("{} is below start ({}); raise max", warmup.max, warmup.start)));
    }

    Ok(ReputationConfig {
        thresholds: Thresholds { window_ms: ms(window), min_volume, hard_bounce, complaint },
        cool_down,
        providers,
        max_providers,
        provider_lookup,
        adaptive,
        warmup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ReputationConfig, ConfigError> {
        #[derive(Deserialize)]
        struct Wrap {
            #[serde(default)]
            reputation: RawReputation,
        }
        let w: Wrap = toml::from_str(text).map_err(|e| ConfigError {
            file: "t".into(),
            key: "syntax".into(),
            message: e.message().to_string(),
        })?;
        validate_with("t", w.reputation, None)
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = parse("").unwrap();
        assert_eq!(c.thresholds.window_ms, 86_400_000);
        assert_eq!(c.thresholds.min_volume, 200);
        assert_eq!(c.thresholds.hard_bounce, Threshold { warn: 0.02, pause: 0.05 });
        assert_eq!(c.thresholds.complaint, Threshold { warn: 0.001, pause: 0.003 });
        assert_eq!(c.cool_down, None);
        assert_eq!(c.adaptive.decrease_factor, 0.5);
        assert_eq!(c.adaptive.suspend_after, 5);
        assert_eq!(c.warmup, WarmupConfig { enabled: false, start: 50, factor: 1.5, max: 20_000 });
        assert!(!c.providers.is_empty());
        let d = ReputationConfig::default();
        assert_eq!(d.thresholds, c.thresholds);
        assert_eq!(d.adaptive, c.adaptive);
    }

    #[test]
    fn the_shipped_config_states_the_defaults() {
        let shipped = crate::config::Config::from_toml("config/winback.toml", crate::config::EMBEDDED_DEFAULT)
            .unwrap()
            .reputation;
        let d = ReputationConfig::default();
        assert_eq!(shipped.thresholds, d.thresholds);
        assert_eq!(shipped.adaptive, d.adaptive);
        assert_eq!(shipped.warmup, d.warmup);
        assert_eq!((shipped.cool_down, shipped.max_providers), (d.cool_down, d.max_providers));
        assert_eq!(shipped.providers, d.providers);
    }

    #[test]
    fn values_are_read() {
        let c = parse(
            "[reputation]\nwindow = \"12h\"\nmin_volume = 50\nwarn_complaint_rate = \"0.05%\"\n\
             pause_complaint_rate = \"0.2%\"\ncool_down = \"6h\"\n\
             [reputation.adaptive]\ndecrease_factor = 0.7\nincrease_per_success = \"1/min\"\nmin_rate = \"10/h\"\n\
             suspend_after = 3\nsuspend_within = \"1m\"\nsuspend_for = \"30m\"\n\
             [reputation.warmup]\nenabled = true\nstart = 100\nfactor = 2.0\nmax = 5000\n",
        )
        .unwrap();
        assert_eq!(c.thresholds.window_ms, 12 * 3_600_000);
        assert_eq!(c.thresholds.complaint.pause, 0.002);
        assert!((c.thresholds.complaint.warn - 0.0005).abs() < 1e-12);
        assert_eq!(c.cool_down, Some(6 * 3_600_000));
        assert_eq!(c.adaptive.decrease_factor, 0.7);
        assert!((c.adaptive.increase_per_success - 1.0 / 60.0).abs() < 1e-12);
        assert_eq!(
            (c.adaptive.suspend_after, c.adaptive.suspend_within, c.adaptive.suspend_for),
            (3, 60_000, 1_800_000)
        );
        assert_eq!(c.warmup, WarmupConfig { enabled: true, start: 100, factor: 2.0, max: 5000 });
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = |t: &str| parse(t).unwrap_err();
        let x = e("[reputation]\npause_hard_bounce_rate = 5\n");
        assert!(x.message.contains("\"5%\""), "{x}");
        let x = e("[reputation]\nwarn_hard_bounce_rate = \"6%\"\n");
        assert_eq!(x.key, "[reputation] warn_hard_bounce_rate");
        assert!(x.message.contains("must not be above the pause"));
        assert!(e("[reputation]\npause_complaint_rate = \"120%\"\n").message.contains("between 0% and 100%"));
        assert_eq!(e("[reputation]\nmin_volume = 0\n").key, "[reputation] min_volume");
        assert_eq!(e("[reputation]\nwindow = \"60d\"\n").key, "[reputation] window");
        assert_eq!(e("[reputation.adaptive]\ndecrease_factor = 1.0\n").key, "[reputation.adaptive] decrease_factor");
        assert_eq!(e("[reputation.adaptive]\nmin_rate = \"unlimited\"\n").key, "[reputation.adaptive] min_rate");
        assert_eq!(e("[reputation.adaptive]\nsuspend_for = \"0s\"\n").key, "[reputation.adaptive] suspend_for");
        assert_eq!(e("[reputation.warmup]\nfactor = 1.0\n").key, "[reputation.warmup] factor");
        assert_eq!(e("[reputation.warmup]\nstart = 100\nmax = 10\n").key, "[reputation.warmup] max");
        assert_eq!(e("[reputation]\ncool_down = \"0s\"\n").key, "[reputation] cool_down");
        assert!(e("[reputation]\nbogus = 1\n").message.contains("unknown field"));
        let x = e("[reputation]\nproviders_file = \"/nonexistent/providers.toml\"\n");
        assert_eq!(x.key, "[reputation] providers_file");
    }
}
