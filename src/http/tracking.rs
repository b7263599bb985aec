//! The open pixel (`GET /o/{token}.gif`) and the click redirect
//! (`GET /c/{token}`).
//!
//! Each genuine request is classified (person, machine, unknown) and
//! recorded in the event journal (which the engine applies to the store)
//! before the answer goes out, so an acknowledged open or click is on
//! disk. Forged, truncated or altered tokens, and tokens of messages the
//! store does not know, get 404 and record nothing. HEAD requests (link checkers) are answered but never
//! recorded: a person's browser does not send them.
//!
//! The redirect target is the URL recorded for that message and link
//! index, never anything taken from the request, so winback cannot be used
//! as an open redirect.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, EXPIRES, LOCATION, PRAGMA, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::classify::{Action, Observation, RecentClick, classify};
use super::client_ip::client_ip;
use super::pages;
use super::state::HttpState;
use crate::domain::{Event, EventKind};
use crate::store::MessageRecord;
use crate::token::Purpose;

/// Headers that keep the pixel and the redirect out of every cache, so
/// each open and click reaches us.
const NO_STORE: [(HeaderName, &str); 3] =
    [(CACHE_CONTROL, "no-store, no-cache, must-revalidate, private, max-age=0"), (PRAGMA, "no-cache"), (EXPIRES, "0")];

/// What the request shows about the client.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client address after trusted proxies; `None` when the server
    /// was driven without a socket (in-process tests).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, if valid text.
    pub user_agent: Option<String>,
}

impl FromRequestParts<HttpState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &HttpState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let xff = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let ip = peer.map(|p| client_ip(p, xff, &st.inner.cfg().http.trusted_proxies));
        let user_agent = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(ClientInfo { ip, user_agent })
    }
}

pub(super) fn not_found_html() -> Response {
    (StatusCode::NOT_FOUND, NO_STORE, Html(pages::not_found())).into_response()
}

/// The token segment of a path. A segment that is not even valid text is
/// answered like a forged token (404), not with a routing error.
#[derive(Debug, Clone)]
pub struct TokenPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TokenPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(TokenPath(t)),
            Err(_) => Err(not_found_html()),
        }
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "5")], "store unavailable").into_response()
}

/// `GET /o/{token}.gif`
pub async fn open(
    State(st): State<HttpState>,
    method: Method,
    client: ClientInfo,
    TokenPath(file): TokenPath,
) -> Response {
    let st = &st.inner;
    let Some(token) = file.strip_suffix(".gif") else { return StatusCode::NOT_FOUND.into_response() };
    let msg = match st.message_for(Purpose::Open, token) {
        Ok(Some((m, _))) => m,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!("open pixel: {e}");
            return unavailable();
        }
    };
    if method != Method::HEAD {
        track(st, &msg, Action::Open, &client, &[]).await;
    }
    (NO_STORE, [(CONTENT_TYPE, "image/gif")], &pages::PIXEL_GIF[..]).into_response()
}

/// `GET /c/{token}`
pub async fn click(
    State(st): State<HttpState>,
    method: Method,
    client: ClientInfo,
    TokenPath(token): TokenPath,
) -> Response {
    let st = &st.inner;
    let (msg, link) = match st.message_for(Purpose::Click, &token) {
        Ok(Some(found)) => found,
        Ok(None) => return not_found_html(),
        Err(e) => {
            tracing::error!("click redirect: {e}");
            return unavailable();
        }
    };
    let Some(location) = msg.links.get(usize::from(link)).and_then(|u| location(u)) else {
        return not_found_html();
    };
    if method != Method::HEAD {
        let now = st.clock.now();
        let window = crate::clock::ms(st.cfg().tracking.signals.timing.click_burst_window);
        let recent = st.recent_clicks.record_within(msg.id, RecentClick { at: now, link }, window);
        track(st, &msg, Action::Click { link }, &client, &recent).await;
    }
    let mut h = HeaderMap::new();
    h.insert(LOCATION, location);
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    (StatusCode::FOUND, NO_STORE, h).into_response()
}

/// Classifies and records an open or click. A store failure is logged
/// and the person still gets the pixel or the redirect: losing one event
/// is better than breaking their click.
async fn track(
    st: &super::state::Inner,
    msg: &MessageRecord,
    action: Action,
    client: &ClientInfo,
    recent: &[RecentClick],
) {
    let now = st.clock.now();
    let obs = Observation {
        action,
        ip: client.ip,
        user_agent: client.user_agent.as_deref(),
        sent_at: msg.sent_at.or(msg.first_attempt_at),
        now,
        recent_clicks: recent,
    };
    let cfg = st.cfg();
    let verdict = classify(&cfg.tracking.signals, &obs);
    let (kind, reference) = match action {
        Action::Open => (EventKind::Open, None),
        Action::Click { link } => (EventKind::Click, msg.links.get(usize::from(link)).cloned()),
    };
    tracing::debug!(message = msg.id, kind = %kind, origin = verdict.origin.as_str(), signal = %verdict.signal, "tracked");
    let mut e = Event::new(msg.email.clone(), kind.clone(), now);
    e.origin = verdict.origin;
    e.message = Some(msg.id);
    e.reference = reference;
    if let Err(err) = st.track(e).await {
        tracing::error!(message = msg.id, kind = %kind, "not recorded: {err}");
    }
}

/// A `Location` value for a recorded link: only `http(s)` URLs, with
/// bytes a header cannot carry percent-encoded.
fn location(url: &str) -> Option<HeaderValue> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if (0x21..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_http_only_and_header_safe() {
        assert_eq!(location("https://shop.example/a?b=1").unwrap(), "https://shop.example/a?b=1");
        assert_eq!(location("HTTP://x.example/ü x").unwrap(), "HTTP://x.example/%C3%BC%20x");
        assert!(location("javascript:alert(1)").is_none());
        assert!(location("//evil.example/").is_none());
        assert!(location("https://x.example/\r\nSet-Cookie: a=b").unwrap().to_str().unwrap().contains("%0D%0A"));
    }
}
