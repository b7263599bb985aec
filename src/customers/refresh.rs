//! Refreshing every customer's scores: one read pass gathers the buyers'
//! purchase summaries (recency, frequency, spend and the BG/NBD's
//! (x, tₓ, T)), the models are fitted and the quintiles cut, then the
//! contacts are scored page by page through the engine, which also
//! recomputes their due times (scores move P(alive) lapse times and
//! segments). Beyond [`super::FIT_SAMPLE`] buyers the models are fitted
//! on an evenly spaced sample; every buyer is scored. Runs on a schedule
//! in the daemon (`[customers] refresh`) and on demand (`winback customers
//! refresh`).

use serde::{Deserialize, Serialize};

use super::bgnbd::{BgNbd, BgNbdFit, Rft};
use super::config::CustomersConfig;
use super::gamma_gamma::{GammaGammaFit, Spend};
use super::lapse::{self, LapseMode};
use super::rfm::Quintiles;
use super::{Scores, Unit, clv, segments};
use crate::clock::Millis;
use crate::config::Config;
use crate::domain::Contact;
use crate::store::{Store, StoreError};

/// Contacts per write transaction.
const PAGE: usize = 2_000;
/// The blob holding the last refresh's [`Refreshed`].
pub const REFRESHED_KEY: &str = "customers:refreshed";
/// Where the overview of the last refresh is kept.
pub const OVERVIEW_KEY: &str = "customers:overview";

/// What a refresh did (kept in the store; shown by `winback customers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refreshed {
    /// When.
    pub at: Millis,
    /// Contacts looked at.
    pub contacts: u64,
    /// Of them, buyers (scored).
    pub buyers: u64,
    /// Due times that moved.
    pub due_changed: u64,
    /// The BG/NBD fit, when the data supports one.
    pub bgnbd: Option<BgNbdFit>,
    /// The Gamma–Gamma fit, when the data supports one.
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Why a fit is absent.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Everything needed to score one customer.
#[derive(Debug, Clone)]
pub struct Scorer {
    now: Millis,
    unit: Unit,
    horizon: f64,
    expected_period: f64,
    discount: f64,
    recency: Quintiles,
    frequency: Quintiles,
    monetary: Quintiles,
    bgnbd: Option<BgNbd>,
    gamma_gamma: Option<GammaGammaFit>,
    rules: Vec<super::config::RfmRule>,
    p_alive_below: Option<f64>,
}

/// A buyer's figures for the quintiles and the models.
fn figures(c: &Contact, now: Millis, unit: Unit) -> Option<(f64, f64, f64, Rft, Spend)> {
    let p = &c.customer.purchases;
    let (first, last) = (p.first?, p.last?);
    let u = unit.millis();
    let rft = Rft {
        x: f64::from(p.days.saturating_sub(1)),
        t_x: (last - first).max(0) as f64 / u,
        t: (now - first).max(0) as f64 / u,
    };
    let spend = p.repeat_spend();
    let recency_days = (now - last).max(0) as f64 / 86_400_000.0;
    Some((-recency_days, f64::from(p.orders), p.total, rft, spend))
}

/// The buyers' figures, gathered in one pass over the contacts.
#[derive(Debug, Default)]
pub struct Gathered {
    r: Vec<f64>,
    f: Vec<f64>,
    m: Vec<f64>,
    rft: Vec<Rft>,
    spend: Vec<Spend>,
}

impl Gathered {
    /// Adds a contact (nothing when it never bought).
    pub fn add(&mut self, c: &Contact, now: Millis, unit: Unit) {
        if let Some((r, f, m, rft, spend)) = figures(c, now, unit) {
            self.r.push(r);
            self.f.push(f);
            self.m.push(m);
            self.rft.push(rft);
            self.spend.push(spend);
        }
    }
}

impl Scorer {
    /// Fits the models on gathered figures and cuts the quintiles; also
    /// returns why a fit is absent, and the fits.
    pub fn new(
        cfg: &CustomersConfig,
        mode: LapseMode,
        now: Millis,
        g: Gathered,
    ) -> (Scorer, Vec<String>, Option<BgNbdFit>, Option<GammaGammaFit>) {
        let (bg, gg, notes) = super::fit_models(&g.rft, &g.spend);
        let u = cfg.unit.millis();
        let scorer = Scorer {
            now,
            unit: cfg.unit,
            horizon: cfg.horizon.as_millis() as f64 / u,
            expected_period: cfg.expected_period.as_millis() as f64 / u,
            discount: cfg.discount,
            recency: Quintiles::new(g.r),
            frequency: Quintiles::new(g.f),
            monetary: Quintiles::new(g.m),
            bgnbd: bg.map(|b| b.params),
            gamma_gamma: gg,
            rules: cfg.rfm.clone(),
            p_alive_below: match mode {
                LapseMode::PAlive { below } => Some(below),
                _ => None,
            },
        };
        (scorer, notes, bg, gg)
    }

    /// The scores of one contact; `None` for a contact that never bought.
    pub fn score(&self, c: &Contact) -> Option<Scores> {
        let (rv, fv, mv, rft, spend) = figures(c, self.now, self.unit)?;
        let (r, f, m) = (self.recency.score(rv), self.frequency.score(fv), self.monetary.score(mv));
        let bg = self.bgnbd.as_ref();
        let value = self.gamma_gamma.map(|g| g.expected_value(&spend));
        let first = c.customer.purchases.first.unwrap_or(self.now);
        Some(Scores {
            at: self.now,
            r,
            f,
            m,
            rfm_segment: segments::rfm_segment(&self.rules, r, f, m).map(String::from),
            p_alive: bg.map(|b| b.p_alive(&rft)),
            expected_purchases: bg.map(|b| b.expected_purchases(&rft, self.expected_period)),
            clv: bg.zip(value).map(|(b, v)| clv(b, v, &rft, self.horizon, self.unit, self.discount)),
            p_alive_lapse_at: bg
                .zip(self.p_alive_below)
                .and_then(|(b, below)| lapse::p_alive_crossing(b, &rft, below, first, self.unit.millis())),
        })
    }
}

/// Refreshes every contact's scores in `store` at `now` through the
/// engine, and records what it did.
pub fn run(store: &Store, cfg: &Config, now: Millis) -> Result<Refreshed, StoreError> {
    let (scorer, notes, bgnbd, gamma_gamma, contacts) = {
        let mut g = Gathered::default();
        let mut contacts = 0u64;
        store.read()?.for_each_contact(|c| {
            contacts += 1;
            g.add(&c, now, cfg.customers.unit);
        })?;
        let (s, n, b, gg) = Scorer::new(&cfg.customers, cfg.lapse.mode, now, g);
        (s, n, b, gg, contacts)
    };
    let mut after: Option<String> = None;
    let (mut buyers, mut due_changed) = (0u64, 0u64);
    // The overview is made of the contacts as they are written.
    let mut overview = super::overview::Builder::new(&cfg.customers, &cfg.lapse, now);
    loop {
        let page = store.read()?.contact_page(after.as_deref(), PAGE)?;
        let Some(last) = page.last().cloned() else { break };
        let mut seen = |c: &Contact| overview.add(c);
        // Pages are not synced one by one: the durable write of the result
        // below makes them durable, and a refresh cut short is redone.
        let (b, d) =
            store.write_unsynced(|w| crate::engine::score_contacts(w, cfg, &page, &|c| scorer.score(c), &mut seen))?;
        buyers += b as u64;
        due_changed += d as u64;
        after = Some(last);
    }
    let done = Refreshed { at: now, contacts, buyers, due_changed, bgnbd, gamma_gamma, notes };
    let overview = serde_json::to_vec(&overview.finish(None)).unwrap_or_default();
    let bytes = serde_json::to_vec(&done).unwrap_or_default();
    store.write(|w| {
        w.put_blob(OVERVIEW_KEY, &overview)?;
        w.put_blob(REFRESHED_KEY, &bytes)
    })?;
    tracing::info!(contacts, buyers, due_changed, "customer scores refreshed");
    Ok(done)
}

/// The last refresh, if any.
pub fn last(r: &crate::store::Reader) -> Result<Option<Refreshed>, StoreError> {
    Ok(r.blob(REFRESHED_KEY)?.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The overview as of the last refresh (segments, lapsed, at risk), with
/// that refresh: what `status` and `/metrics` show without a pass over
/// every contact.
pub fn last_overview(r: &crate::store::Reader) -> Result<Option<super::overview::Overview>, StoreError> {
    let Some(mut o) = r.blob(OVERVIEW_KEY)?.and_then(|b| serde_json::from_slice::<super::overview::Overview>(&b).ok())
    else {
        return Ok(None);
    };
    o.refreshed = last(r)?;
    Ok(Some(o))
}

/// Refreshes the scores every `[customers] refresh` (at start when the last
/// refresh is older than that), until `cancel`. A failed refresh is logged
/// and tried again at the next period.
pub async fn schedule(
    mut live: crate::config::live::Live<Config>,
    store: Store,
    clock: crate::clock::Clock,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        // Taken anew every round; a reload with another period wakes the wait.
        let cfg = live.get();
        let period = cfg.customers.refresh;
        let last_at = store.read().and_then(|r| last(&r)).ok().flatten().map(|l| l.at);
        let next = last_at.map_or(i64::MIN, |t| t.saturating_add(period.as_millis() as i64));
        let wait = u64::try_from(next.saturating_sub(clock.now())).unwrap_or(0);
        if wait > 0 {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = live.changed() => continue,
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
            }
        }
        let (c, s, now) = (cfg.clone(), store.clone(), clock.now());
        let failed = match tokio::task::spawn_blocking(move || run(&s, &c, now)).await {
            Ok(Ok(_)) => false,
            Ok(Err(e)) => {
                tracing::error!("customer scores not refreshed (tried again in {period:?}): {e}");
                true
            }
            Err(e) => {
                tracing::error!("customer scores not refreshed (tried again in {period:?}): {e}");
                true
            }
        };
        if failed {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
    }
}
