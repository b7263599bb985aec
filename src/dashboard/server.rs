//! The dashboard's router on its own listener (`[dashboard] listen`,
//! served by [`crate::http::server::serve`]: the shared accept loop, the
//! request limits and the drain), the sign-in when the token is required,
//! and the inputs of a view: the report (computed by
//! [`crate::report::from_store`] at most every `[dashboard] refresh`, off
//! the async threads), the rollups, the counters and the guard.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::pages::{self, Page};
use super::view::Inputs;
use crate::clock::Clock;
use crate::config::Config;
use crate::report::Report;
use crate::reputation::guard::Guard;
use crate::store::{Store, StoreError, rollup};

/// The cookie the sign-in sets.
const COOKIE_NAME: &str = "winback_dashboard";

/// What the handlers share.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: Arc<Config>,
    store: Store,
    clock: Clock,
    guard: Option<Arc<Guard>>,
    report: Mutex<Option<(Instant, Arc<Report>)>>,
}

/// Why a view could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task failed.
    #[error("the report task failed: {0}")]
    Task(String),
}

impl Dashboard {
    /// The dashboard over `store`; `guard` gives the reputation figures
    /// (absent: the reputation page says so).
    pub fn new(cfg: Arc<Config>, store: Store, clock: Clock, guard: Option<Arc<Guard>>) -> Dashboard {
        Dashboard { inner: Arc::new(Inner { cfg, store, clock, guard, report: Mutex::new(None) }) }
    }

    /// The report, computed again when older than `[dashboard] refresh`.
    async fn report(&self) -> Result<Arc<Report>, DashboardError> {
        let fresh = self.inner.cfg.dashboard.refresh;
        if let Some((at, r)) = self.inner.report.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < fresh
        {
            return Ok(r.clone());
        }
        let (store, cfg, now) = (self.inner.store.clone(), self.inner.cfg.clone(), self.inner.clock.now());
        let report = tokio::task::spawn_blocking(move || crate::report::from_store(&store.read()?, &cfg, now))
            .await
            .map_err(|e| DashboardError::Task(e.to_string()))??;
        let report = Arc::new(report);
        *self.inner.report.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), report.clone()));
        Ok(report)
    }

    /// Everything a page is drawn from, now.
    pub async fn inputs(&self) -> Result<Inputs, DashboardError> {
        let report = self.report().await?;
        let inner = &self.inner;
        let today = rollup::day_of(inner.clock.now());
        let days: Vec<i64> = (0..i64::from(inner.cfg.dashboard.days)).rev().map(|b| today - b).collect();
        let r = inner.store.read()?;
        let rollups = r.rollups(days.first().copied().unwrap_or(today), today)?;
        let status = crate::admin::status::Status::from_counts(&r.counts()?, &inner.cfg, 0);
        Ok(Inputs {
            report,
            rollups,
            days,
            suppressed: status.suppressed.into_iter().filter(|(_, n)| *n > 0).collect(),
            machine_open_share: status.machine_open_share,
            reputation: inner.guard.as_ref().map(|g| (g.snapshot(), g.history())),
            dns: inner.guard.as_ref().and_then(|g| g.dns_report()),
        })
    }

    /// Whether the request may see the pages: always on loopback, else
    /// with the API token as a bearer token or the sign-in cookie.
    fn allowed(&self, headers: &HeaderMap) -> bool {
        if !self.inner.cfg.dashboard.token_required {
            return true;
        }
        let Some(expected) = self.inner.cfg.http.api_token.as_deref() else { return false };
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let cookie = headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
            v.split(';').find_map(|c| c.trim().strip_prefix(COOKIE_NAME).and_then(|r| r.strip_prefix('=')))
        });
        [bearer, cookie].into_iter().flatten().any(|given| same(expected, given))
    }
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.iter().zip(b).fold(a.len() ^ b.len(), |acc, (x, y)| acc | usize::from(x ^ y)) == 0
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], body).into_response()
}

async fn show(d: Dashboard, page: Page, headers: HeaderMap) -> Response {
    if !d.allowed(&headers) {
        return html(StatusCode::UNAUTHORIZED, pages::login(false));
    }
    let rendered = match d.inputs().await {
        Ok(inputs) => pages::render(page, &inputs).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match rendered {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            tracing::error!("dashboard: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "the dashboard is unavailable; see the log\n").into_response()
        }
    }
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

async fn login_form(State(d): State<Dashboard>) -> Response {
    let _ = d;
    html(StatusCode::OK, pages::login(false))
}

async fn login(State(d): State<Dashboard>, Form(f): Form<Login>) -> Response {
    let ok = d.inner.cfg.http.api_token.as_deref().is_some_and(|t| same(t, f.token.trim()));
    if !ok {
        return html(StatusCode::UNAUTHORIZED, pages::login(true));
    }
    let cookie = format!("{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict", f.token.trim());
    (StatusCode::SEE_OTHER, [(LOCATION, "/".to_string()), (SET_COOKIE, cookie)]).into_response()
}

/// The dashboard's routes: one per [`Page`], and the sign-in.
pub fn router(d: Dashboard) -> Router {
    let mut r = Router::new();
    for page in Page::ALL {
        r = r.route(page.path(), get(move |State(d): State<Dashboard>, h: HeaderMap| show(d, page, h)));
    }
    r.route("/login", get(login_form).post(login)).with_state(d)
}
