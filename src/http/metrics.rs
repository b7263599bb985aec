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
