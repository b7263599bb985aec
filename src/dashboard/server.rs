//! The dashboard's router on its own listener (`[dashboard] listen`,
//! served by [`crate::http::server::serve`]: the shared accept loop, the
//! request limits and the drain), the sign-in when the token is required,
//! and the inputs of a view: the report (computed by
//! [`crate::report::from_store`] off the async threads, at most every
//! `[dashboard] refresh`, in the background once the first view has one),
//! the rollups, the counters and the guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::config::live::Live;
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
    /// The configuration in force (a reload's sequences show at once).
    cfg: Live<Config>,
    store: Store,
    clock: Clock,
    guard: Option<Arc<Guard>>,
    /// The last report and when it was computed; held while one is
    /// computed, so concurrent views wait for that one instead of each
    /// computing their own.
    report: tokio::sync::Mutex<Option<(Instant, Arc<Report>)>>,
    /// A background recomputation is running.
    refreshing: AtomicBool,
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
    pub fn new(cfg: Live<Config>, store: Store, clock: Clock, guard: Option<Arc<Guard>>) -> Dashboard {
        Dashboard {
            inner: Arc::new(Inner {
                cfg,
                store,
                clock,
                guard,
                report: tokio::sync::Mutex::new(None),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    /// The report. The first view computes it; later views get the last
    /// one at once and, when it is older than `[dashboard] refresh`, start
    /// its recomputation in the background (one at a time): a page never
    /// waits for the pass over every event the KPIs take, except the very
    /// first.
    async fn report(&self) -> Result<Arc<Report>, DashboardError> {
        let fresh = self.inner.cfg.get().dashboard.refresh;
        let mut cached = self.inner.report.lock().await;
        if let Some((at, r)) = cached.as_ref() {
            if at.elapsed() >= fresh && !self.inner.refreshing.swap(true, Ordering::AcqRel) {
                let me = self.clone();
                tokio::spawn(async move {
                    match me.compute().await {
                        Ok(r) => *me.inner.report.lock().await = Some((Instant::now(), r)),
                        Err(e) => tracing::warn!("dashboard figures not refreshed: {e}"),
                    }
                    me.inner.refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(r.clone());
        }
        let report = self.compute().await?;
        *cached = Some((Instant::now(), report.clone()));
        Ok(report)
    }

    /// Computes the report now, off the async threads.
    async fn compute(&self) -> Result<Arc<Report>, DashboardError> {
        let (store, cfg, now) = (self.inner.store.clone(), self.inner.cfg.get(), self.inner.clock.now());
        let report = tokio::task::spawn_blocking(move || crate::report::from_store(&store.read()?, &cfg, now))
            .await
            .map_err(|e| DashboardError::Task(e.to_string()))??;
        Ok(Arc::new(report))
    }

    /// Everything a page is drawn from, now.
    pub async fn inputs(&self) -> Result<Inputs, DashboardError> {
        let report = self.report().await?;
        let inner = &self.inner;
        let cfg = inner.cfg.get();
        let today = rollup::day_of(inner.clock.now());
        let days: Vec<i64> = (0..i64::from(cfg.dashboard.days)).rev().map(|b| today - b).collect();
        let r = inner.store.read()?;
        let rollups = r.rollups(days.first().copied().unwrap_or(today), today)?;
        let status = crate::admin::status::Status::from_counts(&r.counts()?, &cfg, 0);
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
        if !self.inner.cfg.get().dashboard.token_required {
            return true;
        }
        let cfg = self.inner.cfg.get();
        let Some(expected) = cfg.http.api_token.as_deref() else { return false };
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

async fn login_form() -> Response {
    html(StatusCode::OK, pages::login(false))
}

async fn login(State(d): State<Dashboard>, Form(f): Form<Login>) -> Response {
    let ok = d.inner.cfg.get().http.api_token.as_deref().is_some_and(|t| same(t, f.token.trim()));
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "dashboard-token-0123456789";

    /// A dashboard on a non-loopback address (never bound here: requests
    /// go straight to the router).
    fn app(dir: &std::path::Path) -> Router {
        let token = dir.join("token");
        std::fs::write(&token, TOKEN).unwrap();
        let mut perms = std::fs::metadata(&token).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&token, perms).unwrap();
        let extra = format!(
            "state_dir = {:?}\n[http]\napi_token_file = {:?}\n[dashboard]\nlisten = \"0.0.0.0:8026\"\n",
            dir.join("var").display().to_string(),
            token.display().to_string()
        );
        let cfg = crate::config::testing::with_sequence(&extra, "wb", "1h", &[("0s", "miss-you")]);
        assert!(cfg.dashboard.token_required);
        let store = Store::open(&cfg.state_dir).unwrap();
        router(Dashboard::new(Live::fixed(Arc::new(cfg)), store, Clock::system(), None))
    }

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let res = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn get(path: &str, header: Option<(&str, String)>) -> Request<Body> {
        let mut b = Request::get(path);
        if let Some((k, v)) = header {
            b = b.header(k, v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn off_loopback_every_page_needs_the_token_or_the_sign_in_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        for page in Page::ALL {
            let (status, _, body) = send(&app, get(page.path(), None)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", page.path());
            assert!(body.contains("name=\"token\""), "the sign-in form: {body}");
            assert!(!body.contains("data-k"), "no figure without the token");
        }
        let wrong = Some(("authorization", "Bearer nope".to_string()));
        assert_eq!(send(&app, get("/", wrong)).await.0, StatusCode::UNAUTHORIZED);
        let bearer = Some(("authorization", format!("Bearer {TOKEN}")));
        let (status, _, body) = send(&app, get("/", bearer)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("Sequence wb"), "{body}");

        let form = |t: &str| {
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("token={t}")))
                .unwrap()
        };
        let (status, headers, body) = send(&app, form("guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.get(SET_COOKIE).is_none() && body.contains("not valid"));
        let (status, headers, _) = send(&app, form(TOKEN)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = headers.get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_string();
        let (status, _, _) = send(&app, get("/reputation", Some(("cookie", format!("other=1; {pair}"))))).await;
        assert_eq!(status, StatusCode::OK);
    }
}
