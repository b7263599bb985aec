//! What each page shows, built from the inputs: the [`Report`] (the very
//! value `winback report --json` prints, from [`crate::report::from_store`]),
//! the store's daily rollups, the status counters, and the reputation
//! guard's snapshot, 30-day history and last DNS health check. Each page
//! is a JSON context for its template; charts come as finished SVG, and
//! every figure the report holds is tagged `data-k` (its place in the
//! report) and `data-v` (its exact value) so a test can compare them.

use serde_json::{Value, json};

use super::svg::{self, Interval, Rule, Series, Style, Unit};
use crate::dns::health::DnsHealthReport;
use crate::report::{Report, lift};
use crate::reputation::history::History;
use crate::reputation::{Snapshot, counters::Counts};
use crate::store::rollup::{self, Rollups};

/// Everything the pages are drawn from, read once per view.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The KPIs, as `winback report --json` computes them.
    pub report: std::sync::Arc<Report>,
    /// Daily rollups of the days in `days`.
    pub rollups: Rollups,
    /// The days the time series cover (day numbers), oldest first.
    pub days: Vec<i64>,
    /// Suppressions per reason (totals, from the counters).
    pub suppressed: Vec<(String, i64)>,
    /// Share of opens made by machines, all time.
    pub machine_open_share: Option<f64>,
    /// The reputation now and over 30 days, when the daemon's guard runs.
    pub reputation: Option<(Snapshot, History)>,
    /// The last DNS health check, if one ran.
    pub dns: Option<DnsHealthReport>,
}

/// A figure of the report: `data-k`, `data-v`, and the text shown.
fn fig(key: String, v: f64, text: String) -> Value {
    json!({ "k": key, "v": v, "text": text })
}

fn count(key: String, n: u64) -> Value {
    fig(key, n as f64, n.to_string())
}

fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn rate(key: String, r: Option<f64>) -> Value {
    json!({ "k": key, "v": r, "text": pct(r) })
}

fn money(key: String, v: f64) -> Value {
    let text = if v.is_finite() { format!("{v:.2}") } else { "unavailable".into() };
    json!({ "k": key, "v": if v.is_finite() { Some(v) } else { None }, "text": text })
}

/// `YYYY-MM-DD` of a day number.
pub fn day_label(day: i64) -> String {
    crate::clock::rfc3339(day.saturating_mul(rollup::DAY_MS)).chars().take(10).collect()
}

fn short_labels(days: &[i64]) -> Vec<String> {
    days.iter().map(|d| day_label(*d).chars().skip(5).collect()).collect()
}

/// The overview: per sequence the funnel, mailed against control with the
/// lift and its interval, revenue and return.
pub fn overview(inp: &Inputs) -> Value {
    let mut seqs = Vec::new();
    for (si, s) in inp.report.sequences.iter().enumerate() {
        let key = |f: &str| format!("sequences.{si}.{f}");
        let mut stages: Vec<(String, f64, Value)> =
            vec![("entered".into(), s.entered as f64, count(key("entered"), s.entered))];
        for (i, st) in s.steps.iter().enumerate() {
            stages.push((
                format!("step {} sent", st.step),
                st.sent as f64,
                count(format!("sequences.{si}.steps.{i}.sent"), st.sent),
            ));
        }
        let opens: u64 = s.steps.iter().map(|st| st.opens_human).sum();
        let clicks: u64 = s.steps.iter().map(|st| st.clicks).sum();
        stages.push(("human opens".into(), opens as f64, count(format!("sequences.{si}.steps.*.opens_human"), opens)));
        stages.push(("clicks".into(), clicks as f64, count(format!("sequences.{si}.steps.*.clicks"), clicks)));
        stages.push(("reactivated".into(), s.reactivated as f64, count(key("reactivated"), s.reactivated)));
        stages.push(("retained".into(), s.retained as f64, count(key("retained"), s.retained)));
        stages.push(("sunset".into(), s.sunset as f64, count(key("sunset"), s.sunset)));
        let items: Vec<(String, f64)> = stages.iter().map(|(l, v, _)| (l.clone(), *v)).collect();
        let funnel = svg::hbars(
            &format!("funnel-{si}"),
            &format!("Funnel of sequence {}", s.name),
            "Contacts entering, messages sent per step, human opens and clicks, reactivated, retained and sunset; the same numbers are in the table below.",
            &items,
            Unit::Count,
        );
        let c = &s.control;
        let mut rows = Vec::new();
        let (ml, mh) = lift::wilson(s.reactivated, s.entered);
        if s.entered > 0 {
            rows.push(Interval {
                label: "mailed rate".into(),
                mid: s.reactivation_rate.unwrap_or(0.0),
                low: ml,
                high: mh,
            });
        }
        if c.entered > 0 {
            let (cl, ch) = lift::wilson(c.reactivated, c.entered);
            rows.push(Interval {
                label: "control rate".into(),
                mid: c.reactivation_rate.unwrap_or(0.0),
                low: cl,
                high: ch,
            });
        }
        if let Some(l) = &c.lift {
            rows.push(Interval {
                label: "lift (mailed − control)".into(),
                mid: l.absolute,
                low: l.ci_low,
                high: l.ci_high,
            });
        }
        let lift_chart = (!rows.is_empty()).then(|| {
            svg::intervals(
                &format!("lift-{si}"),
                &format!("Reactivation rate, mailed against control, sequence {}", s.name),
                "Each point is a rate with its 95% interval as error bars (Wilson for the rates, Newcombe's hybrid score for the lift); an interval that crosses the 0 line is not significant.",
                &rows,
                Unit::Percent,
            )
        });
        let lift_fig = c.lift.as_ref().map(|l| {
            json!({
                "absolute": fig(key("control.lift.absolute"), l.absolute, format!("{:+.1} points", l.absolute * 100.0)),
                "ci_low": fig(key("control.lift.ci_low"), l.ci_low, format!("{:+.1}", l.ci_low * 100.0)),
                "ci_high": fig(key("control.lift.ci_high"), l.ci_high, format!("{:+.1}", l.ci_high * 100.0)),
                "p_value": fig(key("control.lift.p_value"), l.p_value, format!("{:.4}", l.p_value)),
                "relative": l.relative.map(|r| format!("{:+.0}%", r * 100.0)),
            })
        });
        let roi = s.roi.as_ref().map(|r| {
            json!({
                "cost": money(key("roi.cost"), r.cost),
                "revenue": money(key("roi.revenue"), r.revenue),
                "roi": rate(key("roi.roi"), r.roi),
                "incremental_revenue": r.incremental_revenue.map(|v| money(key("roi.incremental_revenue"), v)),
            })
        });
        seqs.push(json!({
            "name": s.name,
            "funnel": funnel,
            "stages": stages.iter().map(|(l, _, f)| json!({ "label": l, "fig": f })).collect::<Vec<_>>(),
            "reactivation_rate": rate(key("reactivation_rate"), s.reactivation_rate),
            "retention_rate": rate(key("retention_rate"), s.retention_rate),
            "unsubscribed": count(key("unsubscribed"), s.unsubscribed),
            "revenue": money(key("revenue"), s.revenue),
            "control": {
                "entered": count(key("control.entered"), c.entered),
                "reactivated": count(key("control.reactivated"), c.reactivated),
                "rate": rate(key("control.reactivation_rate"), c.reactivation_rate),
                "revenue": money(key("control.revenue"), c.revenue),
                "needed": c.needed_per_group,
            },
            "lift_chart": lift_chart,
            "lift": lift_fig,
            "roi": roi,
        }));
    }
    json!({ "sequences": seqs, "at": crate::clock::rfc3339(inp.report.at) })
}

/// The variants of every step that has them, side by side.
pub fn variants(inp: &Inputs) -> Value {
    let mut steps = Vec::new();
    for (si, s) in inp.report.sequences.iter().enumerate() {
        for (ti, st) in s.steps.iter().enumerate() {
            let Some(v) = &st.variants else { continue };
            let key = |vi: usize, f: &str| format!("sequences.{si}.steps.{ti}.variants.variants.{vi}.{f}");
            let rows: Vec<Interval> = v
                .variants
                .iter()
                .map(|x| {
                    let (lo, hi) = lift::wilson(x.reactivated, x.sent);
                    Interval { label: x.name.clone(), mid: x.reactivation_rate.unwrap_or(0.0), low: lo, high: hi }
                })
                .collect();
            let chart = svg::intervals(
                &format!("variants-{si}-{ti}"),
                &format!("Reactivation rate per variant, {} step {}", s.name, st.step),
                "Each variant's reactivations per message sent, with its 95% Wilson interval as error bars; the table below has every figure.",
                &rows,
                Unit::Percent,
            );
            let list: Vec<Value> = v
                .variants
                .iter()
                .enumerate()
                .map(|(vi, x)| {
                    json!({
                        "name": x.name,
                        "weight": x.weight,
                        "sent": count(key(vi, "sent"), x.sent),
                        "delivered": count(key(vi, "delivered"), x.delivered),
                        "opens_human": count(key(vi, "opens_human"), x.opens_human),
                        "clicks": count(key(vi, "clicks"), x.clicks),
                        "reactivated": count(key(vi, "reactivated"), x.reactivated),
                        "rate": rate(key(vi, "reactivation_rate"), x.reactivation_rate),
                        "revenue": money(key(vi, "revenue"), x.revenue),
                        "unsubscribed": count(key(vi, "unsubscribed"), x.unsubscribed),
                        "complaints": count(key(vi, "complaints"), x.complaints),
                        "vs_best": x.vs_best.as_ref().map(|l| format!("best ahead by {:+.1} points [{:+.1}, {:+.1}], p = {:.3}", l.absolute * 100.0, l.ci_low * 100.0, l.ci_high * 100.0, l.p_value)),
                    })
                })
                .collect();
            steps.push(json!({
                "sequence": s.name, "step": st.step, "chart": chart, "variants": list,
                "best": v.best, "recommendation": v.recommendation, "promoted": v.promoted,
                "needed": v.needed_per_variant,
            }));
        }
    }
    json!({ "steps": steps })
}

fn day_values(inp: &Inputs, key: &str) -> Vec<f64> {
    inp.days.iter().map(|d| rollup::figure(&inp.rollups, *d, key)).collect()
}

/// Rows of a per-day table: the day and one value per series.
fn table(days: &[i64], series: &[Series], unit: Unit) -> Vec<Value> {
    days.iter()
        .enumerate()
        .filter(|(i, _)| series.iter().any(|s| s.values.get(*i).is_some_and(|v| *v != 0.0)))
        .map(|(i, d)| json!({ "day": day_label(*d), "values": series.iter().map(|s| unit.fmt(s.values.get(i).copied().unwrap_or(0.0))).collect::<Vec<_>>() }))
        .collect()
}

/// Revenue, reactivations and messages per day.
pub fn activity(inp: &Inputs) -> Value {
    let labels = short_labels(&inp.days);
    let n = inp.days.len();
    let revenue =
        [Series { name: "purchases of reactivated contacts".into(), values: day_values(inp, rollup::REVENUE) }];
    let reactivations = [
        Series { name: "mailed".into(), values: day_values(inp, rollup::REACTIVATED) },
        Series { name: "control".into(), values: day_values(inp, rollup::REACTIVATED_CONTROL) },
    ];
    let sent = [Series { name: "sent".into(), values: day_values(inp, rollup::SENT) }];
    let r = &inp.report;
    let total = r.sequences.iter().fold(0.0, |a, s| crate::report::add_value(a, s.revenue));
    let reactivated: u64 = r.sequences.iter().map(|s| s.reactivated).sum();
    json!({
        "days": n,
        "revenue_chart": svg::daily("revenue", &format!("Revenue per day, last {n} days"), "Purchase value per day (UTC) of contacts at or after their reactivation, mailed and control together; the days with figures are in the table below.", &labels, &revenue, &[], Style::Stacked, Unit::Money),
        "reactivations_chart": svg::daily("reactivations", &format!("Reactivations per day, last {n} days"), "Contacts reactivated per day, mailed and control stacked; the table below has the figures.", &labels, &reactivations, &[], Style::Stacked, Unit::Count),
        "sent_chart": svg::daily("sent", &format!("Messages sent per day, last {n} days"), "Messages accepted by the next hop per day; the table below has the figures.", &labels, &sent, &[], Style::Stacked, Unit::Count),
        "revenue_rows": table(&inp.days, &revenue, Unit::Money),
        "reactivation_rows": table(&inp.days, &reactivations, Unit::Count),
        "sent_rows": table(&inp.days, &sent, Unit::Count),
        "total_revenue": money("sequences.*.revenue".into(), total),
        "total_reactivated": count("sequences.*.reactivated".into(), reactivated),
    })
}

fn day_rate(c: &Counts, num: fn(&Counts) -> u32, den: fn(&Counts) -> u32) -> f64 {
    let d = den(c);
    if d == 0 { 0.0 } else { f64::from(num(c)) / f64::from(d) }
}

/// Reputation over 30 days: rates per provider against the thresholds,
/// deferrals, suspensions, the warm-up and any pause.
pub fn reputation(inp: &Inputs) -> Value {
    let Some((snap, hist)) = &inp.reputation else { return json!({ "available": false }) };
    let labels = short_labels(&hist.days);
    let all = std::iter::once(&hist.all).chain(hist.providers.iter());
    let series = |f: &dyn Fn(&Counts) -> f64| -> Vec<Series> {
        std::iter::once(&hist.all)
            .chain(hist.providers.iter())
            .map(|s| Series { name: s.name.clone(), values: s.days.iter().map(|(_, c)| f(c)).collect() })
            .collect()
    };
    let hard = series(&|c| day_rate(c, |c| c.hard_bounces.total(), |c| c.sent));
    let complaints = series(&|c| day_rate(c, |c| c.complaints, |c| c.delivered));
    let deferrals: Vec<Series> = hist
        .providers
        .iter()
        .map(|s| Series { name: s.name.clone(), values: s.days.iter().map(|(_, c)| f64::from(c.deferred)).collect() })
        .collect();
    let t = &snap.thresholds;
    let rules = |w: f64, p: f64| {
        vec![
            Rule { name: format!("warn {}", Unit::Percent.fmt(w)), value: w, colour: svg::PALETTE[1] },
            Rule { name: format!("pause {}", Unit::Percent.fmt(p)), value: p, colour: svg::PALETTE[4] },
        ]
    };
    let n = hist.days.len();
    let totals: Vec<Value> = all
        .map(|s| {
            let mut c = Counts::default();
            for (_, d) in &s.days {
                c.add(d);
            }
            json!({ "name": s.name, "sent": c.sent, "delivered": c.delivered, "deferred": c.deferred,
                    "hard": c.hard_bounces.total(), "complaints": c.complaints,
                    "hard_rate": pct((c.sent > 0).then(|| f64::from(c.hard_bounces.total()) / f64::from(c.sent))),
                    "complaint_rate": pct((c.delivered > 0).then(|| f64::from(c.complaints) / f64::from(c.delivered))) })
        })
        .collect();
    let providers: Vec<Value> = snap
        .providers
        .iter()
        .map(|p| json!({ "name": p.name.as_str(), "configured": p.configured_rate, "target": p.target_rate, "reduced": p.reduced,
                          "suspended_until": p.suspended_until.map(crate::clock::rfc3339) }))
        .collect();
    let warmup: Vec<Value> = snap
        .scopes
        .iter()
        .filter_map(|s| s.warmup.as_ref().map(|w| json!({ "name": s.name, "cap": w.cap, "sent_today": w.sent_today, "clean_days": w.clean_days, "complete": w.complete })))
        .collect();
    json!({
        "available": true,
        "level": format!("{:?}", snap.level).to_lowercase(),
        "pause": snap.pause.as_ref().map(|p| json!({ "since": crate::clock::rfc3339(p.since), "scope": p.scope, "reason": p.reason })),
        "thresholds": { "hard_warn": Unit::Percent.fmt(t.hard_bounce.warn), "hard_pause": Unit::Percent.fmt(t.hard_bounce.pause),
                        "complaint_warn": Unit::Percent.fmt(t.complaint.warn), "complaint_pause": Unit::Percent.fmt(t.complaint.pause),
                        "min_volume": t.min_volume },
        "hard_chart": svg::daily("hard-bounces", &format!("Hard-bounce rate per day and provider, last {n} days"), "Hard bounces per message sent each day, all providers together and per provider, against the warn and pause thresholds (dashed); the totals are in the table below.", &labels, &hard, &rules(t.hard_bounce.warn, t.hard_bounce.pause), Style::Lines, Unit::Percent),
        "complaint_chart": svg::daily("complaints", &format!("Complaint rate per day and provider, last {n} days"), "Complaints per message delivered each day, all providers together and per provider, against the warn and pause thresholds (dashed); the totals are in the table below.", &labels, &complaints, &rules(t.complaint.warn, t.complaint.pause), Style::Lines, Unit::Percent),
        "deferral_chart": svg::daily("deferrals", &format!("Deferrals per day and provider, last {n} days"), "Temporary failures (4xx) per day, stacked by provider; the totals are in the table below.", &labels, &deferrals, &[], Style::Stacked, Unit::Count),
        "totals": totals,
        "providers": providers,
        "warmup": warmup,
    })
}

/// Suppressions by reason over time, the machine-open share, the last DNS
/// health check.
pub fn hygiene(inp: &Inputs) -> Value {
    let labels = short_labels(&inp.days);
    let n = inp.days.len();
    let reasons: Vec<Series> = crate::domain::SuppressionReason::ALL
        .iter()
        .map(|r| Series { name: r.to_string(), values: day_values(inp, &rollup::suppressed_key(*r)) })
        .filter(|s| s.values.iter().any(|v| *v != 0.0))
        .collect();
    let kind = crate::domain::EventKind::Open;
    let share: Vec<f64> = inp
        .days
        .iter()
        .map(|d| {
            let f = |o| rollup::figure(&inp.rollups, *d, &rollup::event_key(&kind, o));
            let machine = f(crate::domain::Origin::Machine);
            let all = machine + f(crate::domain::Origin::Human) + f(crate::domain::Origin::Unknown);
            if all > 0.0 { machine / all } else { 0.0 }
        })
        .collect();
    let share_series = [Series { name: "machine share of opens".into(), values: share }];
    let dns = inp.dns.as_ref().map(|r| {
        json!({ "from_domain": r.from_domain, "bounce_domain": r.bounce_domain, "listed": r.listed,
                "checks": r.checks.iter().map(|c| json!({ "name": c.name, "status": c.status.label(), "detail": c.detail })).collect::<Vec<_>>(),
                "listings": r.listings.iter().map(|l| format!("{} on {}", l.subject, l.zone)).collect::<Vec<_>>() })
    });
    json!({
        "suppression_chart": svg::daily("suppressions", &format!("New suppressions per day by reason, last {n} days"), "Addresses suppressed each day, stacked by reason; the table below has the figures.", &labels, &reasons, &[], Style::Stacked, Unit::Count),
        "suppression_rows": table(&inp.days, &reasons, Unit::Count),
        "reasons": reasons.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "suppressed": inp.suppressed.iter().map(|(r, n)| json!({ "reason": r, "n": n })).collect::<Vec<_>>(),
        "share_chart": svg::daily("machine-opens", &format!("Machine-open share per day, last {n} days"), "Share of the day's opens made by privacy proxies and scanners; the table below has the figures.", &labels, &share_series, &[], Style::Lines, Unit::Percent),
        "share_rows": table(&inp.days, &share_series, Unit::Percent),
        "machine_open_share": pct(inp.machine_open_share),
        "dns": dns,
    })
}
