//! `GET /metrics`: the daemon's figures in the Prometheus text format:
//! messages by outcome, queue depth, events by kind and origin,
//! suppressions by reason, contacts by state, the store's size, the
//! sender-reputation rates, thresholds, pause and provider rates, and the
//! last DNS health check.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::state::HttpState;
use crate::admin::status::Status;
use crate::metrics::{self, Exposition, KindConflict};
use crate::store::StoreError;

/// Renders every metric family.
pub async fn metrics(State(st): State<HttpState>) -> Response {
    match render(&st) {
        Ok(text) => (StatusCode::OK, [(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!("metrics: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum MetricsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kind(#[from] KindConflict),
}

fn render(st: &HttpState) -> Result<String, MetricsError> {
    let inner = &st.inner;
    let r = inner.store.read()?;
    let status = Status::from_counts(&r.counts()?, &inner.cfg(), r.queue_depth()?);
    let mut e = Exposition::new();
    write_status(&mut e, &status)?;
    if let Some(o) = crate::customers::refresh::last_overview(&r)? {
        write_customers(&mut e, &o)?;
    }
    let size = std::fs::metadata(inner.store.path()).map(|m| m.len() as f64).unwrap_or(f64::NAN);
    e.gauge("winback_store_bytes", "Size of the state store file.")?.sample(&[], size);
    let mut text = match &inner.guard {
        Some(g) => {
            g.snapshot().write_metrics(&mut e)?;
            let mut t = e.render();
            if let Some(report) = g.dns_report() {
                t.push_str(&report.prometheus());
            }
            t
        }
        None => e.render(),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The customers as of the last score refresh.
fn write_customers(e: &mut Exposition, o: &crate::customers::overview::Overview) -> Result<(), KindConflict> {
    let stage = e.gauge("winback_customers_stage", "Contacts lapsed and at risk, as of the last score refresh.")?;
    stage.sample(&[("stage", "lapsed")], o.lapsed as f64);
    stage.sample(&[("stage", "at_risk")], o.at_risk as f64);
    let rows = || {
        std::iter::once(("all", &o.buyers))
            .chain(o.rfm.iter().map(|r| ("rfm", r)))
            .chain(o.segments.iter().map(|r| ("segment", r)))
    };
    let customers =
        e.gauge("winback_customers", "Buyers, per RFM segment and per [[segment]], as of the last score refresh.")?;
    for (kind, row) in rows() {
        customers.sample(&[("kind", kind), ("segment", &row.name)], row.customers as f64);
    }
    let revenue =
        e.gauge("winback_customers_revenue", "Order value of the buyers, per segment, as of the last score refresh.")?;
    for (kind, row) in rows() {
        revenue.sample(&[("kind", kind), ("segment", &row.name)], row.revenue);
    }
    let clv =
        e.gauge("winback_customers_clv_average", "Mean predicted CLV, per segment, as of the last score refresh.")?;
    for (kind, row) in rows() {
        if let Some(v) = row.average_clv {
            clv.sample(&[("kind", kind), ("segment", &row.name)], v);
        }
    }
    if let Some(at) = o.refreshed.as_ref().map(|r| r.at) {
        e.gauge("winback_customers_refreshed_seconds", "When the scores were last refreshed (Unix time).")?
            .sample(&[], at as f64 / 1000.0);
    }
    Ok(())
}

/// The store's counters: contacts, messages, events, suppressions, queue.
fn write_status(e: &mut Exposition, s: &Status) -> Result<(), KindConflict> {
    let contacts = e.gauge("winback_contacts", "Contacts by state.")?;
    contacts.sample(&[("state", "idle")], s.idle as f64);
    contacts.sample(&[("state", "reactivated")], s.reactivated as f64);
    contacts.sample(&[("state", "sunset")], s.sunset as f64);
    for seq in &s.sequences {
        let active: i64 = seq.waiting_for_step.iter().sum::<i64>() + seq.in_grace;
        contacts.sample(&[("state", "active"), ("sequence", &seq.name)], active as f64);
    }
    e.gauge("winback_contacts_total", "All contacts.")?.sample(&[], s.contacts_total as f64);
    let messages = e.counter("winback_messages_total", "Messages by outcome (queued counts every message queued).")?;
    for (outcome, n) in &s.messages {
        messages.sample(&[("outcome", outcome)], *n as f64);
    }
    e.counter("winback_deferrals_total", "Temporary failures (each retry counts).")?.sample(&[], s.deferrals as f64);
    e.gauge("winback_queue_depth", "Messages waiting to be sent or retried.")?.sample(&[], s.queue_depth as f64);
    let events = e.counter("winback_events_total", "Events by kind and origin.")?;
    for (key, n) in &s.events {
        let (kind, origin) = key.split_once(':').unwrap_or((key, ""));
        events.sample(&[("kind", kind), ("origin", origin)], *n as f64);
    }
    let suppressed = e.gauge("winback_suppressed", "Suppressed addresses by reason.")?;
    for (reason, n) in &s.suppressed {
        suppressed.sample(&[("reason", reason)], *n as f64);
    }
    let unattributed = e.counter(
        "winback_unattributed_reports_total",
        "Bounce and complaint reports not attributed to a message we sent (no action), by kind and reason.",
    )?;
    for (key, n) in &s.unattributed_reports {
        let (kind, reason) = key.split_once(':').unwrap_or((key, ""));
        unattributed.sample(&[("kind", kind), ("reason", reason)], *n as f64);
    }
    if let Some(share) = s.machine_open_share {
        e.gauge("winback_machine_open_share", "Share of opens made by machines (proxies, scanners).")?
            .sample(&[], share);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::overview::{Overview, SegmentRow};

    #[test]
    fn customers_figures_per_segment() {
        let row = |name: &str, customers, revenue, clv| {
            let mut r = SegmentRow::default();
            (r.name, r.customers, r.revenue, r.average_clv) = (String::from(name), customers, revenue, clv);
            r
        };
        let o = Overview {
            at: 0,
            lapsed: 7,
            at_risk: 3,
            buyers: row("buyers", 10, 500.0, Some(42.5)),
            rfm: vec![row("champions", 2, 300.0, Some(120.0))],
            segments: vec![row("big", 4, 400.0, None)],
            ..Overview::default()
        };
        let mut e = Exposition::new();
        write_customers(&mut e, &o).unwrap();
        let text = e.render();
        for line in [
            "winback_customers_stage{stage=\"lapsed\"} 7",
            "winback_customers_stage{stage=\"at_risk\"} 3",
            "winback_customers{kind=\"all\",segment=\"buyers\"} 10",
            "winback_customers{kind=\"rfm\",segment=\"champions\"} 2",
            "winback_customers{kind=\"segment\",segment=\"big\"} 4",
            "winback_customers_revenue{kind=\"segment\",segment=\"big\"} 400",
            "winback_customers_clv_average{kind=\"all\",segment=\"buyers\"} 42.5",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("clv_average{kind=\"segment\""), "no CLV, no sample:\n{text}");
    }
}
