//! The routers (the public one, and `/metrics` for the metrics listener),
//! the limits around them, and the connection handling (on the shared
//! accept loop, [`crate::net::accept`]).
//!
//! Bounded everywhere: at most `max_connections` connections (more wait in
//! the kernel's backlog), at most `max_concurrency` requests in flight
//! (more are answered 503 at once instead of queueing in memory), a
//! deadline per request (408) and for request headers, which also closes
//! idle kept-alive connections, and body limits per route.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use super::config::HttpConfig;
use super::state::HttpState;
use super::{api, metrics, survey, tracking, unsubscribe};
use crate::net::accept::{self, AcceptError, Limits, WhenFull};

/// The path of the Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The public routes, without the request limits ([`serve`] adds them
/// around the whole app). `/metrics` is not among them: it is private
/// ([`metrics_router`]) and answers 404 here.
pub fn router(state: HttpState) -> Router {
    let max_body = state.inner.cfg().http.max_body;
    Router::new()
        .route("/o/{file}", get(tracking::open))
        .route("/c/{token}", get(tracking::click))
        .route("/u/{token}", get(unsubscribe::confirm).post(unsubscribe::one_click))
        .route("/s/{token}", get(survey::form).post(survey::answer))
        .route("/api/v1/events", post(api::post_events))
        .route("/api/v1/contacts/{email}", get(api::get_contact))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// The routes of the metrics listener (`[metrics] listen`): `/metrics`
/// and `/healthz`. `/metrics` adds reputation figures only when the state
/// carries the guard ([`HttpState::with_guard`]).
pub fn metrics_router(state: HttpState) -> Router {
    Router::new().route(METRICS_PATH, get(metrics::metrics)).route("/healthz", get(healthz)).with_state(state)
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
async fn healthz(State(st): State<HttpState>) -> Response {
    match st.inner.store.read() {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!("health check: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

async fn overloaded(err: BoxError) -> Response {
    if err.is::<tower::load_shed::error::Overloaded>() {
        (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "1")], "overloaded, retry shortly\n").into_response()
    } else if err.is::<tower::timeout::error::Elapsed>() {
        (StatusCode::REQUEST_TIMEOUT, "request took too long\n").into_response()
    } else {
        tracing::error!("http: {err}");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
    }
}

/// Serves `app`, with load shedding over `max_concurrency` (503) and the
/// request deadline (408) around it, on an already-bound
/// listener until `cancel` fires, then stops accepting and lets requests
/// in flight finish (up to ten seconds). HTTP/1.1 only: winback sits
/// behind a TLS-terminating proxy or is reached directly by mail clients.
/// `Err` when the listening socket fails for good.
pub async fn serve(
    listener: impl accept::Listen<Stream = tokio::net::TcpStream, Peer = std::net::SocketAddr>,
    app: Router,
    cfg: &HttpConfig,
    cancel: CancellationToken,
) -> Result<(), AcceptError> {
    // The limits wrap the whole app as one service, so one semaphore
    // counts every route (a `Router::layer` would give each route its own).
    let app = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .concurrency_limit(cfg.max_concurrency)
        .timeout(cfg.request_timeout)
        .service(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(cfg.header_timeout).keep_alive(true);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "http listening");
    }
    // More connections than the cap wait in the kernel's backlog.
    let limits = Limits {
        name: "http",
        max_connections: cfg.max_connections,
        max_per_peer: None,
        when_full: WhenFull::Wait,
        drain: SHUTDOWN_GRACE,
    };
    let run = move |stream: tokio::net::TcpStream, peer: std::net::SocketAddr, cancel: CancellationToken| {
        let _ = stream.set_nodelay(true);
        let svc = app.clone().map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let conn = http.serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(svc));
        async move {
            tokio::pin!(conn);
            let done = tokio::select! {
                done = conn.as_mut() => done,
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!(%peer, "http connection: {e}");
            }
        }
    };
    accept::serve(listener, limits, cancel, run, |_, _| async {}).await
}
