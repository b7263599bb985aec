//! `winback status`: counts per contact state, suppressions per reason,
//! messages per outcome and the queue, from the store's counters (O(1) in
//! the number of contacts).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::SuppressionReason;
use crate::store::Counts;

/// Contacts in one sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceCounts {
    /// Sequence name.
    pub name: String,
    /// `waiting[i]`: contacts whose next message is step i+1.
    pub waiting_for_step: Vec<i64>,
    /// Final message sent, grace period running.
    pub in_grace: i64,
    /// In the control group (sent nothing), span running.
    #[serde(default)]
    pub control: i64,
}

/// The status snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// All contacts.
    pub contacts_total: i64,
    /// Not in a sequence.
    pub idle: i64,
    /// Per sequence.
    pub sequences: Vec<SequenceCounts>,
    /// Reactivated (engaged during a sequence).
    pub reactivated: i64,
    /// Sunset.
    pub sunset: i64,
    /// Suppressions per reason.
    pub suppressed: BTreeMap<String, i64>,
    /// Messages per outcome (`queued` counts every message ever queued).
    pub messages: BTreeMap<String, i64>,
    /// Temporary failures seen (each retry counts).
    pub deferrals: i64,
    /// Messages waiting to be sent or retried.
    pub queue_depth: u64,
    /// Events per `kind:origin`.
    pub events: BTreeMap<String, i64>,
    /// Reports not attributed to a message we sent, per `kind:reason`
    /// (acted on nothing; `winback reports unattributed` lists them).
    #[serde(default)]
    pub unattributed_reports: BTreeMap<String, i64>,
    /// Due times being recomputed after a rule change (absent when none is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_recompute: Option<crate::outbound::rescan::Progress>,
    /// Share of opens made by machines (privacy proxies, scanners), if any opens.
    pub machine_open_share: Option<f64>,
    /// Sender reputation: rates per window with the thresholds, providers,
    /// warm-up and any pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reputation: Option<Box<crate::reputation::Snapshot>>,
    /// The customers as of the last score refresh: segment sizes, revenue,
    /// average CLV, lapsed and at-risk counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<Box<crate::customers::overview::Overview>>,
    /// The KPIs (JSON only; `winback report` renders them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpis: Option<crate::report::Report>,
}

impl Status {
    /// Builds the snapshot.
    pub fn from_counts(counts: &Counts, cfg: &Config, queue_depth: u64) -> Status {
        let mut s = Status {
            contacts_total: counts.get("contacts:total"),
            idle: counts.get("contacts:idle"),
            reactivated: counts.get("contacts:reactivated"),
            sunset: counts.get("contacts:sunset"),
            deferrals: counts.get("messages:deferrals"),
            queue_depth,
            ..Status::default()
        };
        for seq in &cfg.sequences {
            let n = seq.steps.len();
            let control = counts.get(&format!("contacts:control:{}", seq.name));
            let mut sc = SequenceCounts { name: seq.name.clone(), waiting_for_step: vec![0; n], in_grace: 0, control };
            for (rest, v) in counts.with_prefix("contacts:active") {
                let Some((name, step)) = rest.rsplit_once(':') else { continue };
                if name != seq.name {
                    continue;
                }
                match step.parse::<usize>() {
                    Ok(i) if i < n => sc.waiting_for_step[i] += v,
                    Ok(_) => sc.in_grace += v,
                    Err(_) => {}
                }
            }
            s.sequences.push(sc);
        }
        for r in SuppressionReason::ALL {
            s.suppressed.insert(r.as_str().to_string(), counts.get(&format!("suppressed:{r}")));
        }
        for (k, v) in counts.with_prefix("messages") {
            if k != "deferrals" {
                s.messages.insert(k.to_string(), v);
            }
        }
        for (k, v) in counts.with_prefix("events") {
            s.events.insert(k.to_string(), v);
        }
        for (k, v) in counts.with_prefix("reports:unattributed") {
            s.unattributed_reports.insert(k.to_string(), v);
        }
        let opens = |origin: &str| counts.get(&format!("events:open:{origin}"));
        let total_opens = opens("human") + opens("machine") + opens("unknown");
        if total_opens > 0 {
            s.machine_open_share = Some(opens("machine") as f64 / total_opens as f64);
        }
        s
    }

    /// Human-readable rendering.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "contacts: {}", self.contacts_total);
        let _ = writeln!(o, "  idle:            {}", self.idle);
        for sc in &self.sequences {
            let steps: Vec<String> =
                sc.waiting_for_step.iter().enumerate().map(|(i, v)| format!("step {}: {v}", i + 1)).collect();
            let _ =
                writeln!(o, "  in {}:  {}, grace: {}, control: {}", sc.name, steps.join(", "), sc.in_grace, sc.control);
        }
        let _ = writeln!(o, "  reactivated:     {}", self.reactivated);
        let _ = writeln!(o, "  sunset:          {}", self.sunset);
        let sup: Vec<String> = self.suppressed.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(o, "suppressed: {}", sup.join(", "));
        let msgs: Vec<String> = self.messages.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(o, "messages: {}", if msgs.is_empty() { "none".into() } else { msgs.join(", ") });
        let _ = writeln!(o, "deferrals: {}", self.deferrals);
        let _ = writeln!(o, "queue depth: {}", self.queue_depth);
        if !self.events.is_empty() {
            let ev: Vec<String> = self.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(o, "events: {}", ev.join(", "));
        }
        if !self.unattributed_reports.is_empty() {
            let u: Vec<String> = self.unattributed_reports.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(o, "unattributed reports (no action): {}", u.join(", "));
        }
        if let Some(p) = &self.due_recompute {
            let _ =
                writeln!(o, "due times being recomputed: {} of {} contacts ({} changed)", p.done, p.total, p.changed);
        }
        if let Some(share) = self.machine_open_share {
            let _ = writeln!(o, "machine-open share: {:.1}%", share * 100.0);
        }
        if let Some(c) = &self.customers {
            let clv = c.buyers.average_clv.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(
                o,
                "customers (scores of {}): buyers {}, lapsed {}, at risk {}, average CLV {clv}",
                crate::clock::rfc3339(c.at),
                c.buyers.customers,
                c.lapsed,
                c.at_risk
            );
        }
        if let Some(rep) = &self.reputation {
            o.push('\n');
            o.push_str(&rep.render_text());
        }
        o
    }
}
