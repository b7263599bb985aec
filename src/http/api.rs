//! The events API for applications: `POST /api/v1/events` (one event or an
//! array) and `GET /api/v1/contacts/{email}`. Bearer-token authenticated;
//! every answer is JSON, errors as `{"error": …, "field": …}`.
//!
//! Events go through the same engine path as `winback events add`, one
//! group-committed transaction per request. Events for unknown addresses
//! are reported per item and not recorded, unless `[http]
//! create_unknown_contacts` says to create the contacts.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::api_input::{ApiEvent, FieldError, Limits, parse_events};
use super::state::HttpState;
use crate::domain::address::normalize;
use crate::domain::{Contact, Event, EventKind, Origin, Suppression};
use crate::engine::{self, EventResult};

/// Most recent events returned with a contact.
const CONTACT_EVENTS: usize = 50;

fn error(status: StatusCode, field: &str, message: impl Into<String>) -> Response {
    let mut body = json!({ "error": message.into() });
    if !field.is_empty() {
        body["field"] = json!(field);
    }
    (status, Json(body)).into_response()
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!("events API: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "", "the store is unavailable; retry later")
}

/// Checks the bearer token in constant time; `Some` is the 401 to send.
fn unauthorized(st: &HttpState, headers: &HeaderMap) -> Option<Response> {
    let deny = |message: &str| {
        let mut r = error(StatusCode::UNAUTHORIZED, "", message);
        r.headers_mut().insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer realm=\"winback\""));
        Some(r)
    };
    let cfg = st.inner.cfg();
    let Some(expected) = cfg.http.api_token.as_deref() else {
        return deny("the events API is off: set [http] api_token_file in the winback configuration");
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(given) = given else { return deny("send the API token as `Authorization: Bearer TOKEN`") };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let diff = a.iter().zip(b).fold(a.len() ^ b.len(), |acc, (x, y)| acc | usize::from(x ^ y));
    if diff != 0 {
        return deny("the API token is not valid");
    }
    None
}

/// Per-item outcome.
#[derive(Debug, Serialize)]
struct ItemResult {
    index: usize,
    email: String,
    status: &'static str,
}

/// `POST /api/v1/events`
pub async fn post_events(State(st): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    if let Some(r) = unauthorized(&st, &headers) {
        return r;
    }
    let limit = st.inner.cfg().http.max_body;
    let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, "", format!("the body is larger than {limit} bytes"));
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let Ok(bytes) = to_bytes(body, limit).await else { return too_large() };
    let inner = &st.inner;
    let now = inner.clock.now();
    let cfg = inner.cfg();
    let limits = Limits { max_batch: cfg.http.max_batch, max_value: cfg.http.max_event_value };
    let items = match parse_events(&bytes, &inner.api_kinds(), limits, now) {
        Ok(items) => items,
        Err(FieldError { field, message }) => return error(StatusCode::BAD_REQUEST, &field, message),
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match to_event(item, now) {
            Ok(e) => events.push(e),
            Err(message) => {
                let field = if bytes.first() == Some(&b'[') { format!("[{i}].email") } else { "email".into() };
                return error(StatusCode::BAD_REQUEST, &field, message);
            }
        }
    }
    let create = cfg.http.create_unknown_contacts;
    let emails: Vec<String> = events.iter().map(|e| e.email.clone()).collect();
    let outcome = inner
        .committer
        .run(move |w| events.iter().map(|e| engine::record_event(w, &cfg, e, create)).collect::<Result<Vec<_>, _>>())
        .await;
    let results = match outcome {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let items: Vec<ItemResult> = results
        .iter()
        .zip(emails)
        .enumerate()
        .map(|(index, (r, email))| ItemResult {
            index,
            email,
            status: match r {
                EventResult::Recorded => "recorded",
                EventResult::Reactivated => "reactivated",
                EventResult::UnknownContact => "unknown_contact",
            },
        })
        .collect();
    let unknown = items.iter().filter(|i| i.status == "unknown_contact").count();
    let body = json!({ "recorded": items.len() - unknown, "unknown": unknown, "results": items });
    (StatusCode::OK, Json(body)).into_response()
}

fn to_event(item: ApiEvent, now: crate::clock::Millis) -> Result<Event, String> {
    let email = normalize(&item.email).map_err(|e| format!("`{}`: {e}", item.email))?;
    Ok(Event {
        email,
        kind: EventKind::parse(&item.kind),
        at: item.at.unwrap_or(now),
        // Asserted by the application.
        origin: Origin::Human,
        value: item.value,
        reference: item.reference,
        message: None,
    })
}

/// The answer of `GET /api/v1/contacts/{email}`.
#[derive(Debug, Serialize)]
struct ContactAnswer {
    email: String,
    contact: Option<Contact>,
    suppression: Option<Suppression>,
    /// The most recent events, newest last.
    events: Vec<Event>,
}

/// `GET /api/v1/contacts/{email}`
pub async fn get_contact(State(st): State<HttpState>, headers: HeaderMap, Path(email): Path<String>) -> Response {
    if let Some(r) = unauthorized(&st, &headers) {
        return r;
    }
    let email = match normalize(&email) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, "email", format!("`{email}`: {e}")),
    };
    let read = || -> Result<ContactAnswer, crate::store::StoreError> {
        let r = st.inner.store.read()?;
        Ok(ContactAnswer {
            contact: r.contact(&email)?,
            suppression: r.suppression(&email)?,
            events: r.last_events_of(&email, CONTACT_EVENTS)?,
            email: email.clone(),
        })
    };
    match read() {
        Ok(a) if a.contact.is_none() && a.suppression.is_none() => {
            error(StatusCode::NOT_FOUND, "email", format!("no contact {email}"))
        }
        Ok(a) => (StatusCode::OK, Json(a)).into_response(),
        Err(e) => store_error(e),
    }
}
