//! Unsubscribe: `GET /u/{token}` shows a confirmation page (a GET never
//! changes anything: link scanners follow GETs), `POST /u/{token}` with the
//! RFC 8058 body `List-Unsubscribe=One-Click` suppresses the address at
//! once and answers 200 without a redirect. The page's button posts that
//! same body, so mail providers' one-click requests and people's clicks
//! take one path.

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::pages::{self, ONE_CLICK_FIELD, ONE_CLICK_VALUE};
use super::state::HttpState;
use super::tracking::TokenPath;
use crate::domain::{EventKind, SuppressionReason};
use crate::engine;
use crate::token::Purpose;

/// Largest unsubscribe body: the real one is 26 bytes (a little more as
/// multipart).
pub const MAX_BODY: usize = 8 * 1024;

/// The page may post only to ourselves, load nothing, run nothing, and not
/// be framed (no clickjacking of the button).
const PAGE_HEADERS: [(HeaderName, &str); 3] = [
    (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
    (X_FRAME_OPTIONS, "DENY"),
    (axum::http::header::CACHE_CONTROL, "no-store"),
];

fn page(status: StatusCode, html: String) -> Response {
    (status, PAGE_HEADERS, Html(html)).into_response()
}

/// `GET /u/{token}`: the confirmation page (or "already unsubscribed").
pub async fn confirm(State(st): State<HttpState>, TokenPath(token): TokenPath) -> Response {
    let st = &st.inner;
    let lookup = st.message_for(Purpose::Unsubscribe, &token).and_then(|m| match m {
        Some((msg, _)) => {
            let suppressed = st.store.read()?.suppression(&msg.email)?;
            Ok(Some((msg, suppressed)))
        }
        None => Ok(None),
    });
    match lookup {
        Ok(None) => page(StatusCode::NOT_FOUND, pages::not_found()),
        Ok(Some((msg, Some(s)))) if s.reason == SuppressionReason::Unsubscribed => {
            page(StatusCode::OK, pages::unsubscribed(&msg.email))
        }
        // The form posts back to this very path (relative, so it works
        // behind any proxy prefix-free base URL).
        Ok(Some((msg, _))) => page(StatusCode::OK, pages::unsubscribe_confirm(&msg.email, &token)),
        Err(e) => {
            tracing::error!("unsubscribe page: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable, please try again").into_response()
        }
    }
}

/// `POST /u/{token}`: RFC 8058 one-click unsubscribe.
pub async fn one_click(
    State(st): State<HttpState>,
    TokenPath(token): TokenPath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let st = &st.inner;
    let msg = match st.message_for(Purpose::Unsubscribe, &token) {
        Ok(Some((m, _))) => m,
        Ok(None) => return page(StatusCode::NOT_FOUND, pages::not_found()),
        Err(e) => {
            tracing::error!("unsubscribe: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable, please try again").into_response();
        }
    };
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_one_click(content_type, &bytes) {
        return page(StatusCode::BAD_REQUEST, pages::bad_unsubscribe_request());
    }
    let now = st.clock.now();
    let id = msg.id;
    let sent = (*msg).clone();
    // Only the first unsubscribe counts (replays change nothing).
    let done = st
        .committer
        .run(move |w| engine::unsubscribe(w, &sent, &format!("one-click unsubscribe, message {id}"), now))
        .await;
    match done {
        Ok(new) => {
            tracing::info!(message = id, new, "unsubscribed");
            if let (true, Some(g)) = (new, &st.guard) {
                g.record_event(&msg.email, &EventKind::Unsubscribe, true);
            }
            page(StatusCode::OK, pages::unsubscribed(&msg.email))
        }
        Err(e) => {
            tracing::error!(message = id, "unsubscribe not recorded: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "could not unsubscribe right now, please try again").into_response()
        }
    }
}

/// Whether a body is an RFC 8058 one-click request: a form field
/// `List-Unsubscribe` with value `One-Click`, sent as
/// `application/x-www-form-urlencoded` or `multipart/form-data` (the RFC
/// allows both; a missing content type is read as urlencoded).
pub fn is_one_click(content_type: &str, body: &[u8]) -> bool {
    let ct = content_type.trim().to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        return boundary(content_type).is_some_and(|b| multipart_has_one_click(body, &b));
    }
    if !(ct.is_empty() || ct.starts_with("application/x-www-form-urlencoded")) {
        return false;
    }
    form_urlencoded::parse(body).any(|(k, v)| k == ONE_CLICK_FIELD && v.trim() == ONE_CLICK_VALUE)
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn multipart_has_one_click(body: &[u8], boundary: &str) -> bool {
    let Ok(text) = std::str::from_utf8(body) else { return false };
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str()).any(|part| {
        let Some((head, content)) = part.split_once("\r\n\r\n").or_else(|| part.split_once("\n\n")) else {
            return false;
        };
        let named = head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("content-disposition:")
                && l.contains("form-data")
                && l.contains(&format!("name=\"{}\"", ONE_CLICK_FIELD.to_ascii_lowercase()))
        });
        named && content.trim_end_matches(['\r', '\n', '-']).trim() == ONE_CLICK_VALUE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_one_click() {
        assert!(is_one_click("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click"));
        assert!(is_one_click("", b"List-Unsubscribe=One-Click"));
        assert!(is_one_click("application/x-www-form-urlencoded; charset=UTF-8", b"a=1&List-Unsubscribe=One-Click"));
        assert!(!is_one_click("application/x-www-form-urlencoded", b"List-Unsubscribe=Yes"));
        assert!(!is_one_click("application/x-www-form-urlencoded", b""));
        assert!(!is_one_click("application/json", b"List-Unsubscribe=One-Click"));
    }

    #[test]
    fn multipart_one_click() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert!(is_one_click("multipart/form-data; boundary=XyZ", body.as_bytes()));
        assert!(is_one_click("multipart/form-data; boundary=\"XyZ\"", body.as_bytes()));
        assert!(!is_one_click("multipart/form-data; boundary=Other", body.as_bytes()));
        assert!(!is_one_click("multipart/form-data", body.as_bytes()));
        let wrong = body.replace("One-Click", "Nope");
        assert!(!is_one_click("multipart/form-data; boundary=XyZ", wrong.as_bytes()));
        assert!(!is_one_click("multipart/form-data; boundary=XyZ", &[0xff, 0xfe]));
    }
}
