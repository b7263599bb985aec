//! The customer model's settings: `[customers]` (refresh period, model
//! unit, CLV horizon and discount, the named RFM segments file),
//! `[[segment]]` conditions, and the lapse modes of `[lapse]` — raw and
//! validated. Errors name the key and, for conditions, the column.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Unit;
use super::expr::{self, Expr};
use super::lapse::{LapseMode, Stage};
use crate::config::ConfigError;
use crate::config::units::HumanDuration;

/// The named RFM segments shipped with winback.
pub const EMBEDDED_RFM_SEGMENTS: &str = include_str!("../../config/rfm-segments.toml");

/// `[customers]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomers {
    /// How often scores are refreshed (`"1d"`).
    pub refresh: Option<HumanDuration>,
    /// The models' time unit: `days` or `weeks`.
    pub unit: Option<String>,
    /// CLV horizon (`"365d"`).
    pub horizon: Option<HumanDuration>,
    /// Annual discount rate of the CLV (`0.1`).
    pub discount: Option<f64>,
    /// The period of the expected-purchases figure (`"90d"`).
    pub expected_period: Option<HumanDuration>,
    /// A TOML file of `[[rfm]]` rules replacing the shipped ones.
    pub rfm_segments_file: Option<PathBuf>,
}

/// One `[[segment]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    /// Its name.
    pub name: String,
    /// Its condition.
    pub when: String,
}

/// One named RFM segment rule: score ranges, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfmRule {
    /// The segment's name.
    pub name: String,
    /// Recency range.
    pub r: (u8, u8),
    /// Frequency range.
    pub f: (u8, u8),
    /// Monetary range.
    pub m: (u8, u8),
}

impl RfmRule {
    /// Whether scores fall in the rule.
    pub fn matches(&self, r: u8, f: u8, m: u8) -> bool {
        let within = |(lo, hi): (u8, u8), v: u8| (lo..=hi).contains(&v);
        within(self.r, r) && within(self.f, f) && within(self.m, m)
    }
}

/// A validated `[[segment]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentConfig {
    /// Its name.
    pub name: String,
    /// Its condition, checked.
    pub when: Expr,
    /// The condition as written (for the rules fingerprint).
    pub source: String,
}

/// `[customers]` and `[[segment]]`, validated.
#[derive(Debug, Clone)]
pub struct CustomersConfig {
    /// How often scores are refreshed.
    pub refresh: Duration,
    /// The models' time unit.
    pub unit: Unit,
    /// CLV horizon.
    pub horizon: Duration,
    /// Annual discount rate of the CLV.
    pub discount: f64,
    /// The period of the expected-purchases figure.
    pub expected_period: Duration,
    /// Named RFM segments, first match wins.
    pub rfm: Vec<RfmRule>,
    /// Operator segments, in file order.
    pub segments: Vec<SegmentConfig>,
}

impl CustomersConfig {
    /// Whether `name` is a segment a sequence can name.
    pub fn knows_segment(&self, name: &str) -> bool {
        self.segments.iter().any(|s| s.name == name) || self.rfm.iter().any(|r| r.name == name)
    }
}

fn err(file: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { file: file.to_string(), key: key.into(), message: message.into() }
}

/// Validates `[customers]` and the `[[segment]]`s.
pub fn validate(file: &str, raw: RawCustomers, segments: Vec<RawSegment>) -> Result<CustomersConfig, ConfigError> {
    let unit = match raw.unit.as_deref().unwrap_or("weeks") {
        "days" => Unit::Days,
        "weeks" => Unit::Weeks,
        other => return Err(err(file, "[customers] unit", format!("`{other}`: write \"days\" or \"weeks\""))),
    };
    let discount = raw.discount.unwrap_or(0.1);
    if !(discount.is_finite() && (0.0..1.0).contains(&discount)) {
        return Err(err(file, "[customers] discount", "an annual rate from 0 to below 1, like 0.1"));
    }
    let day = Duration::from_secs(86_400);
    let positive = |d: Option<HumanDuration>, default: Duration, key: &str| match d {
        Some(d) if d.0 < Duration::from_secs(60) => {
            Err(err(file, format!("[customers] {key}"), "must be at least a minute"))
        }
        Some(d) => Ok(d.0),
        None => Ok(default),
    };
    let (rfm_file, rfm_text) = match &raw.rfm_segments_file {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .map_err(|e| err(file, "[customers] rfm_segments_file", format!("cannot read {}: {e}", p.display())))?,
        ),
        None => ("<embedded rfm-segments.toml>".to_string(), EMBEDDED_RFM_SEGMENTS.to_string()),
    };
    let mut out = Vec::new();
    for (i, s) in segments.into_iter().enumerate() {
        let key = format!("segment[{i}] ({}) when", s.name);
        if !crate::config::valid_kind(&s.name) {
            return Err(err(file, format!("segment[{i}] name"), "use lower-case letters, digits, `_` and `-`"));
        }
        if out.iter().any(|o: &SegmentConfig| o.name == s.name) {
            return Err(err(file, format!("segment[{i}] ({}) name", s.name), "two segments have this name"));
        }
        let when =
            expr::parse(&s.when).map_err(|e| err(file, key, format!("{e} in `{}`", excerpt(&s.when, e.column))))?;
        out.push(SegmentConfig { name: s.name, when, source: s.when });
    }
    Ok(CustomersConfig {
        refresh: positive(raw.refresh, day, "refresh")?,
        unit,
        horizon: positive(raw.horizon, 365 * day, "horizon")?,
        discount,
        expected_period: positive(raw.expected_period, 90 * day, "expected_period")?,
        rfm: rfm_rules(&rfm_file, &rfm_text)?,
        segments: out,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRfmFile {
    #[serde(default)]
    rfm: Vec<RawRfm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRfm {
    name: String,
    r: Option<String>,
    f: Option<String>,
    m: Option<String>,
}

/// Reads `[[rfm]]` rules from TOML text; `file` names it in errors.
pub fn rfm_rules(file: &str, text: &str) -> Result<Vec<RfmRule>, ConfigError> {
    let raw: RawRfmFile = toml::from_str(text).map_err(|e| err(file, "syntax", e.message().to_string()))?;
    let mut rules: Vec<RfmRule> = Vec::new();
    for (i, r) in raw.rfm.into_iter().enumerate() {
        let range = |v: &Option<String>, k: &str| -> Result<(u8, u8), ConfigError> {
            let Some(v) = v else { return Ok((1, 5)) };
            let parse = |s: &str| s.trim().parse::<u8>().ok().filter(|n| (1..=5).contains(n));
            let (lo, hi) = match v.split_once('-') {
                Some((a, b)) => (parse(a), parse(b)),
                None => (parse(v), parse(v)),
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(err(
                    file,
                    format!("rfm[{i}] ({}) {k}", r.name),
                    format!("`{v}`: write a score 1-5 or a range like \"2-4\""),
                )),
            }
        };
        if r.name.trim().is_empty() || rules.iter().any(|o| o.name == r.name) {
            return Err(err(file, format!("rfm[{i}] name"), "each rule needs a name of its own"));
        }
        rules.push(RfmRule { r: range(&r.r, "r")?, f: range(&r.f, "f")?, m: range(&r.m, "m")?, name: r.name });
    }
    Ok(rules)
}

/// The lapse-mode keys of `[lapse]` as written.
#[derive(Debug, Default)]
pub struct RawLapseMode {
    /// `fixed`, `cadence` or `p_alive`.
    pub mode: Option<String>,
    /// Cadence: lapsed after this many typical gaps.
    pub factor: Option<f64>,
    /// Cadence: never lapsed sooner than this after the last order.
    pub min: Option<HumanDuration>,
    /// Cadence: always lapsed this long after the last order.
    pub max: Option<HumanDuration>,
    /// `p_alive`: lapsed when P(alive) falls below this.
    pub p_alive_below: Option<f64>,
    /// At risk after this many typical gaps (before lapse).
    pub at_risk_factor: Option<f64>,
}

/// Validates the lapse mode and the at-risk factor.
pub fn lapse_mode(file: &str, raw: RawLapseMode) -> Result<(LapseMode, Option<f64>), ConfigError> {
    let factor_ok = |v: f64| v.is_finite() && v > 0.0 && v < 1_000.0;
    let mode = match raw.mode.as_deref().unwrap_or("fixed") {
        "fixed" => LapseMode::Fixed,
        "cadence" => {
            let factor = raw.factor.unwrap_or(3.0);
            if !factor_ok(factor) {
                return Err(err(file, "[lapse] factor", "a positive number of typical gaps, like 3"));
            }
            let min = raw.min.map_or(Duration::from_secs(7 * 86_400), |d| d.0);
            let max = raw.max.map_or(Duration::from_secs(730 * 86_400), |d| d.0);
            if min > max {
                return Err(err(file, "[lapse] min", "is longer than [lapse] max"));
            }
            LapseMode::Cadence { factor, min, max }
        }
        "p_alive" => {
            let below = raw.p_alive_below.unwrap_or(0.3);
            if !(below > 0.0 && below < 1.0) {
                return Err(err(file, "[lapse] p_alive_below", "a probability between 0 and 1, like 0.3"));
            }
            LapseMode::PAlive { below }
        }
        other => {
            return Err(err(file, "[lapse] mode", format!("`{other}`: write \"fixed\", \"cadence\" or \"p_alive\"")));
        }
    };
    let at_risk = raw.at_risk_factor;
    if let Some(f) = at_risk {
        if !factor_ok(f) {
            return Err(err(file, "[lapse] at_risk_factor", "a positive number of typical gaps, like 1.5"));
        }
        if let LapseMode::Cadence { factor, .. } = mode
            && f >= factor
        {
            return Err(err(
                file,
                "[lapse] at_risk_factor",
                "must be below [lapse] factor: at risk comes before lapsed",
            ));
        }
    }
    Ok((mode, at_risk))
}

/// A sequence's `stage` as written.
pub fn stage(file: &str, key: &str, raw: Option<&str>) -> Result<Stage, ConfigError> {
    match raw.unwrap_or("lapsed") {
        "lapsed" => Ok(Stage::Lapsed),
        "at_risk" => Ok(Stage::AtRisk),
        other => Err(err(file, key, format!("`{other}`: write \"lapsed\" or \"at_risk\""))),
    }
}

/// The condition as quoted in an error: whole when short, else the 60
/// characters around `column` with `…` for what is left out.
fn excerpt(when: &str, column: usize) -> String {
    let chars: Vec<char> = when.chars().collect();
    if chars.len() <= 120 {
        return when.to_string();
    }
    let start = column.saturating_sub(31).min(chars.len().saturating_sub(60));
    let end = (start + 60).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(chars.get(start..end).unwrap_or_default());
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn an_error_quotes_a_long_condition_around_the_column() {
        assert_eq!(excerpt("clv > 1 and", 12), "clv > 1 and");
        let long = vec!["orders > 1"; 100].join(" or ");
        let cut = excerpt(&long, 3501.min(long.chars().count()));
        assert_eq!(cut.chars().count(), 61, "{cut}");
        assert!(cut.starts_with('…') && long.ends_with(cut.trim_start_matches('…')), "{cut}");
        let middle = excerpt(&long, 500);
        assert!(middle.starts_with('…') && middle.ends_with('…') && middle.chars().count() == 62, "{middle}");
        assert_eq!(excerpt(&long, 1).chars().count(), 61);
    }
}
