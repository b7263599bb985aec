//! The numbers marketers ask for, per sequence and per step: sent,
//! delivered, opens (human and machine), clicks, reactivated, reactivation
//! rate, retention rate, unsubscribed, sunset, and revenue from reactivated
//! contacts. A pure computation over the store's messages, events and
//! reactivations ([`compute`]), rendered as text or JSON.
//!
//! Definitions:
//! - *entered*: contacts that entered the sequence.
//! - *sent*: messages accepted by the next hop (or interrupted by a crash
//!   mid-transaction, see the README). *delivered*: sent minus those that
//!   later bounced.
//! - *reactivated*: contacts who engaged during the sequence; per step, the
//!   step after which they engaged. *Reactivation rate* = reactivated / entered.
//! - *retained*: a reactivated contact that engaged again at least
//!   `retention_window` after its reactivation. *Retention rate* = retained /
//!   reactivations at least `retention_window` old (younger ones cannot be
//!   judged yet).
//! - *revenue*: the sum of `value` of purchase events by reactivated contacts
//!   at or after their reactivation. The sum is always a finite number: it
//!   saturates at the largest `f64`, and a stored value that is not finite
//!   (possible only in stores written before values were checked) counts
//!   as 0. A non-finite revenue received from a daemon (sent as JSON
//!   `null`) reads as NaN and is shown as "unavailable".
//!
//! [`lift`] holds the statistics of a mailed group against its control
//! group (interval, p-value, sample size); [`variants`] the per-variant
//! figures of steps with variants; [`roi`] cost, revenue and return per
//! sequence and step; [`export`] the CSV and JSON Lines rows; [`survey`]
//! the answers to the reasons-for-leaving survey per sequence and choice;
//! [`customers`] the predicted CLV of the reactivated contacts and the
//! reactivations and revenue per segment; [`purchases`] the purchase index
//! the revenue figures share.

pub mod customers;
pub mod export;
pub mod lift;
pub mod purchases;
pub mod roi;
pub mod survey;
pub mod variants;

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::{Event, EventKind, Origin};
use crate::store::{Counts, MessageRecord, MessageState, Reactivation};

/// Figures of one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepKpi {
    /// 1-based step number.
    pub step: u32,
    /// Messages sent.
    pub sent: u64,
    /// Sent and not bounced.
    pub delivered: u64,
    /// Opens by people.
    pub opens_human: u64,
    /// Opens by machines (privacy proxies, scanners).
    pub opens_machine: u64,
    /// Opens of unknown origin.
    pub opens_unknown: u64,
    /// Clicks not made by machines.
    pub clicks: u64,
    /// Contacts reactivated after this step.
    pub reactivated: u64,
    /// Unsubscribes attributed to this step's messages.
    pub unsubscribed: u64,
    /// Cost and return of the step.
    #[serde(default)]
    pub roi: Option<roi::Roi>,
    /// The step's variants compared, when it has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Box<variants::StepVariants>>,
}

/// Figures of one sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SequenceKpi {
    /// Name.
    pub name: String,
    /// Contacts that entered.
    pub entered: u64,
    /// Contacts reactivated.
    pub reactivated: u64,
    /// reactivated / entered.
    pub reactivation_rate: Option<f64>,
    /// Reactivations old enough to judge retention.
    pub retention_eligible: u64,
    /// Of those, engaged again after the window.
    pub retained: u64,
    /// retained / retention_eligible.
    pub retention_rate: Option<f64>,
    /// Unsubscribes from this sequence's messages.
    pub unsubscribed: u64,
    /// Contacts sunset.
    pub sunset: u64,
    /// Purchase value from reactivated contacts after reactivation.
    #[serde(deserialize_with = "null_as_nan")]
    pub revenue: f64,
    /// Per step.
    pub steps: Vec<StepKpi>,
    /// The control group (`holdout`): sent nothing, measured the same way.
    #[serde(default)]
    pub control: ControlKpi,
    /// Cost and return of the sequence, with the incremental revenue.
    #[serde(default)]
    pub roi: Option<roi::Roi>,
    /// Answers to the reasons-for-leaving survey about this sequence's messages.
    #[serde(default)]
    pub survey: survey::SurveyKpi,
    /// The reactivated contacts as customers: predicted CLV, per segment.
    #[serde(default)]
    pub customers: customers::CustomersKpi,
}

/// The control group of one sequence, and what mailing achieved over it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlKpi {
    /// Contacts that entered as control.
    pub entered: u64,
    /// Of them, engaged during the sequence's span anyway.
    pub reactivated: u64,
    /// Left after the span without engaging.
    pub finished: u64,
    /// reactivated / entered.
    pub reactivation_rate: Option<f64>,
    /// Purchase value from reactivated control contacts after reactivation.
    pub revenue: f64,
    /// Revenue per entered contact, mailed group.
    pub revenue_per_contact_mailed: Option<f64>,
    /// Revenue per entered contact, control group.
    pub revenue_per_contact_control: Option<f64>,
    /// The mailed reactivation rate over the control's, with its interval
    /// and p-value.
    pub lift: Option<lift::Lift>,
    /// While the interval includes 0: contacts per group still needed to
    /// detect the configured minimum effect.
    pub needed_per_group: Option<u64>,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When it was computed.
    pub at: Millis,
    /// The retention window used, in days.
    pub retention_window_days: f64,
    /// Per sequence.
    pub sequences: Vec<SequenceKpi>,
}

/// Reads a number that JSON may carry as `null` (how `serde_json` writes
/// a non-finite `f64`), so one bad figure never makes a whole answer
/// unreadable.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Adds a value to a sum without ever leaving the finite range: a value
/// that is not finite counts as 0, and the sum saturates.
pub fn add_value(sum: f64, v: f64) -> f64 {
    if !v.is_finite() {
        return sum;
    }
    (sum + v).clamp(f64::MIN, f64::MAX)
}

fn money(v: f64) -> String {
    match v {
        v if !v.is_finite() => "unavailable".to_string(),
        v if v.abs() >= 1e15 => format!("{v:.3e}"),
        v => format!("{v:.2}"),
    }
}

/// Each configured sequence's position, by name (the order of the
/// report's sequences).
fn sequence_index(cfg: &Config) -> HashMap<&str, usize> {
    cfg.sequences.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect()
}

fn rate(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Computes the report. `events` are all recorded events. Without the
/// reactivated contacts' customer records ([`compute_with`]), every
/// reactivation counts without segment or CLV.
pub fn compute(
    cfg: &Config,
    counts: &Counts,
    messages: &[MessageRecord],
    events: &[Event],
    reactivations: &[Reactivation],
    now: Millis,
) -> Report {
    compute_with(cfg, counts, messages, events, reactivations, &HashMap::new(), now)
}

/// [`compute`], with `profiles`: the customer records of the reactivated
/// contacts, by address.
pub fn compute_with(
    cfg: &Config,
    counts: &Counts,
    messages: &[MessageRecord],
    events: &[Event],
    reactivations: &[Reactivation],
    profiles: &HashMap<String, crate::customers::Customer>,
    now: Millis,
) -> Report {
    let window = crate::clock::ms(cfg.report.retention_window);
    let mut seqs: Vec<SequenceKpi> = cfg
        .sequences
        .iter()
        .map(|s| SequenceKpi {
            name: s.name.clone(),
            entered: counts.get(&format!("kpi:entered:{}", s.name)).max(0) as u64,
            sunset: counts.get(&format!("kpi:sunset:{}", s.name)).max(0) as u64,
            steps: (0..s.steps.len() as u32).map(|i| StepKpi { step: i + 1, ..StepKpi::default() }).collect(),
            ..SequenceKpi::default()
        })
        .collect();
    let index = sequence_index(cfg);
    let mut by_id: HashMap<u64, (usize, usize)> = HashMap::new();
    for m in messages {
        let Some(&si) = index.get(m.sequence.as_str()) else { continue };
        let Some(step) = seqs[si].steps.get_mut(m.step as usize) else { continue };
        by_id.insert(m.id, (si, m.step as usize));
        if matches!(m.state, MessageState::Sent | MessageState::Interrupted) {
            step.sent += 1;
            step.delivered += 1;
        }
    }
    // Engagement timelines per contact, for retention and revenue.
    let mut engaged: HashMap<&str, Vec<Millis>> = HashMap::new();
    let purchases = purchases::Purchases::from_events(events);
    for e in events {
        if e.is_engagement(&cfg.lapse) {
            engaged.entry(e.email.as_str()).or_default().push(e.at);
        }
        let Some(&(si, st)) = e.message.as_ref().and_then(|id| by_id.get(id)) else { continue };
        let step = &mut seqs[si].steps[st];
        match (&e.kind, e.origin) {
            (EventKind::Open, Origin::Human) => step.opens_human += 1,
            (EventKind::Open, Origin::Machine) => step.opens_machine += 1,
            (EventKind::Open, Origin::Unknown) => step.opens_unknown += 1,
            (EventKind::Click, o) if o != Origin::Machine => step.clicks += 1,
            (EventKind::Unsubscribe, _) => {
                step.unsubscribed += 1;
                seqs[si].unsubscribed += 1;
            }
            (EventKind::Bounce, _) => step.delivered = step.delivered.saturating_sub(1),
            _ => {}
        }
    }
    for r in reactivations {
        let Some(&si) = index.get(r.sequence.as_str()) else { continue };
        let s = &mut seqs[si];
        let revenue = purchases.revenue_after(&r.email, r.at);
        if r.control {
            s.control.reactivated += 1;
            s.control.revenue = add_value(s.control.revenue, revenue);
            continue;
        }
        s.reactivated += 1;
        // `after_step` messages were sent; attribute to the last one.
        if let Some(step) = s.steps.get_mut((r.after_step as usize).saturating_sub(1)) {
            step.reactivated += 1;
        }
        if now.saturating_sub(r.at) >= window {
            s.retention_eligible += 1;
            let again =
                engaged.get(r.email.as_str()).is_some_and(|ts| ts.iter().any(|&t| t >= r.at.saturating_add(window)));
            if again {
                s.retained += 1;
            }
        }
        s.revenue = add_value(s.revenue, revenue);
    }
    let answers = survey::tally(&cfg.survey, events, |id| by_id.get(&id).map(|&(si, _)| si), seqs.len());
    for (s, a) in seqs.iter_mut().zip(answers) {
        s.survey = a;
    }
    for s in &mut seqs {
        s.reactivation_rate = rate(s.reactivated, s.entered);
        s.retention_rate = rate(s.retained, s.retention_eligible);
        s.control.entered = counts.get(&format!("kpi:control:entered:{}", s.name)).max(0) as u64;
        s.control.finished = counts.get(&format!("kpi:control:finished:{}", s.name)).max(0) as u64;
        control_figures(s, cfg.report.min_detectable_lift);
    }
    variants::fill(&mut seqs, cfg, counts, messages, events, reactivations);
    roi::fill(&mut seqs, cfg, &purchases, reactivations);
    customers::fill(&mut seqs, cfg, &purchases, reactivations, profiles);
    Report { at: now, retention_window_days: window as f64 / 86_400_000.0, sequences: seqs }
}

/// The report over everything in a store snapshot.
pub fn from_store(r: &crate::store::Reader, cfg: &Config, now: Millis) -> Result<Report, crate::store::StoreError> {
    let mut messages = Vec::new();
    r.for_each_message(|m| messages.push(m))?;
    let mut events = Vec::new();
    r.for_each_event(|_, e| events.push(e))?;
    let reactivations = r.reactivations()?;
    let mut profiles = HashMap::new();
    for x in reactivations.iter().filter(|x| !x.control) {
        if !profiles.contains_key(&x.email)
            && let Some(c) = r.contact(&x.email)?
        {
            profiles.insert(x.email.clone(), c.customer);
        }
    }
    Ok(compute_with(cfg, &r.counts()?, &messages, &events, &reactivations, &profiles, now))
}

/// The control group's rates and the lift of mailing over it.
fn control_figures(s: &mut SequenceKpi, min_effect: f64) {
    let c = &mut s.control;
    c.reactivation_rate = rate(c.reactivated, c.entered);
    let per = |v: f64, n: u64| (n > 0).then(|| v / n as f64);
    c.revenue_per_contact_mailed = per(s.revenue, s.entered);
    c.revenue_per_contact_control = per(c.revenue, c.entered);
    c.lift = lift::lift(s.reactivated, s.entered, c.reactivated, c.entered);
    c.needed_per_group = match (&c.lift, c.reactivation_rate) {
        (Some(l), Some(base)) if l.ci_low <= 0.0 && l.ci_high >= 0.0 => {
            lift::sample_size((base + min_effect).min(1.0), base)
        }
        _ => None,
    };
}

impl Report {
    /// Human-readable rendering.
    pub fn render(&self) -> String {
        let pct = |r: Option<f64>| r.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0));
        let mut o = String::new();
        for s in &self.sequences {
            let _ = writeln!(o, "sequence {}", s.name);
            let _ = writeln!(
                o,
                "  entered {}  reactivated {} ({})  retained {} of {} ({}, window {}d)  unsubscribed {}  sunset {}  revenue {}",
                s.entered,
                s.reactivated,
                pct(s.reactivation_rate),
                s.retained,
                s.retention_eligible,
                pct(s.retention_rate),
                self.retention_window_days,
                s.unsubscribed,
                s.sunset,
                money(s.revenue)
            );
            let c = &s.control;
            if c.entered > 0 {
                let _ = writeln!(
                    o,
                    "  control: entered {}  reactivated {} ({})  finished {}  revenue {}",
                    c.entered,
                    c.reactivated,
                    pct(c.reactivation_rate),
                    c.finished,
                    money(c.revenue)
                );
                if let Some(l) = &c.lift {
                    let _ = writeln!(
                        o,
                        "  lift over control: {:+.1} points ({}), 95% CI [{:+.1}, {:+.1}], p = {:.4}{}",
                        l.absolute * 100.0,
                        l.relative.map_or_else(|| "-".into(), |r| format!("{:+.0}%", r * 100.0)),
                        l.ci_low * 100.0,
                        l.ci_high * 100.0,
                        l.p_value,
                        c.needed_per_group
                            .map(|n| format!("; not significant yet: about {n} contacts per group needed"))
                            .unwrap_or_default()
                    );
                }
            }
            if let Some(r) = &s.roi {
                let _ = writeln!(o, "  return: {}", r.render());
            }
            let _ = writeln!(o, "  step      sent  delivered  opens(h/m/?)      clicks  reactivated  unsubscribed");
            for st in &s.steps {
                let _ = writeln!(
                    o,
                    "  {:<4} {:>9} {:>10}  {:>5}/{:<5}/{:<5} {:>7} {:>12} {:>13}",
                    st.step,
                    st.sent,
                    st.delivered,
                    st.opens_human,
                    st.opens_machine,
                    st.opens_unknown,
                    st.clicks,
                    st.reactivated,
                    st.unsubscribed
                );
                if let Some(r) = st.roi.as_ref().filter(|r| r.cost > 0.0 || r.revenue != 0.0) {
                    let _ = writeln!(o, "       {}", r.render());
                }
                if let Some(v) = &st.variants {
                    o += &v.render();
                }
            }
            customers::render(&mut o, &s.customers);
            survey::render(&mut o, &s.survey);
        }
        o
    }
}

#[cfg(test)]
mod tests;
