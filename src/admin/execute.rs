//! The one handler for admin requests, used by the daemon's socket server
//! and by the CLI when no daemon runs.

use std::sync::Arc;

use super::protocol::*;
use super::status::Status;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Contact, ContactState, Event, EventKind, SuppressionReason, sequence};
use crate::engine::{self, EventResult};
use crate::reputation::guard::Guard;
use crate::store::{Reader, Store, StoreError, Writer};
use crate::token::{Keys, TokenError};

/// What the handler works on.
#[derive(Debug, Clone)]
pub struct Context {
    /// The store.
    pub store: Store,
    /// The validated configuration.
    pub cfg: Arc<Config>,
    /// The clock.
    pub clock: Clock,
    /// The running daemon's reputation guard (none when the CLI works on
    /// the store directly).
    pub guard: Option<Arc<Guard>>,
    /// The running daemon's token keys (none when the CLI works on the
    /// state directory directly: they are read from it when asked for).
    pub keys: Option<Keys>,
    /// The running daemon's reload; requests then see the configuration
    /// in force (none when the CLI works on the store directly).
    pub reload: Option<Arc<crate::daemon::reload::Reloader>>,
}

/// Executes a request. Store failures become [`Response::Error`].
pub fn execute(cx: &Context, req: Request) -> Response {
    let Some(reload) = &cx.reload else {
        return run(cx, req).unwrap_or_else(|e| Response::Error { message: e.to_string() });
    };
    if let Request::Reload = req {
        return match reload.reload() {
            Ok(report) => Response::Reloaded { report: Box::new(report) },
            Err(e) => Response::ReloadRefused { message: e.to_string() },
        };
    }
    let cx = Context { cfg: reload.current(), ..cx.clone() };
    run(&cx, req).unwrap_or_else(|e| Response::Error { message: e.to_string() })
}

/// Lists the token keys, after a rotation if asked: on the daemon's keys
/// (which then sign with the new key at once) or on the state directory's.
fn keys(cx: &Context, rotate: bool) -> Result<Response, TokenError> {
    let keys = match &cx.keys {
        Some(k) => k.clone(),
        None => Keys::open(&cx.cfg.state_dir, &cx.cfg.tokens, cx.clock)?,
    };
    if rotate {
        let new = keys.rotate()?;
        tracing::info!(key = new.id, "token signing key rotated");
    }
    Ok(Response::Keys { keys: keys.list() })
}

fn run(cx: &Context, req: Request) -> Result<Response, StoreError> {
    let now = cx.clock.now();
    let cfg = &cx.cfg;
    Ok(match req {
        Request::Status => {
            let r = cx.store.read()?;
            let mut status = Status::from_counts(&r.counts()?, cfg, r.queue_depth()?);
            status.kpis = Some(report(&r, cfg, now)?);
            status.due_recompute = crate::outbound::rescan::progress(&r)?;
            status.customers = crate::customers::refresh::last_overview(&r)?.map(Box::new);
            status.reputation = match &cx.guard {
                Some(g) => Some(Box::new(g.snapshot())),
                // No daemon: the durable part (pause, providers, warm-up);
                // the rolling counters live in the daemon only.
                None => match crate::reputation::persist::open(cfg, &r) {
                    Ok(rep) => Some(Box::new(rep.snapshot(now))),
                    Err(e) => {
                        tracing::warn!("reputation not shown: {e}");
                        None
                    }
                },
            };
            Response::Status(Box::new(status))
        }
        Request::Report => Response::Report(Box::new(report(&cx.store.read()?, cfg, now)?)),
        Request::EventsPage { after, since, limit } => {
            // A page looks at a bounded number of rows, so a `since` far
            // in the past never holds one request for the whole journal.
            let limit = limit.clamp(1, 10_000);
            let (events, next) = cx.store.read()?.events_page(after, since, limit, limit.saturating_mul(20))?;
            Response::EventsPage { events, next }
        }
        Request::ContactShow { email } => {
            let r = cx.store.read()?;
            let view = match r.contact(&email)? {
                None => None,
                Some(contact) => {
                    let mut messages = Vec::new();
                    // Messages are few per contact; a scan of all is fine for
                    // an operator command but not for hot paths.
                    r.for_each_message(|m| {
                        if m.email == email {
                            messages.push(m)
                        }
                    })?;
                    Some(Box::new(ContactView {
                        suppression: r.suppression(&email)?,
                        history: r.history(&email)?,
                        events: r.events_of(&email)?,
                        messages,
                        contact,
                    }))
                }
            };
            Response::Contact { view }
        }
        Request::CustomersModel { as_of, unit, horizon, discount, until } => {
            let as_of = as_of.unwrap_or(now).min(now);
            let until = until.unwrap_or(now).clamp(as_of, now);
            // Summarised one customer at a time: no list of every purchase.
            let mut ledger = crate::customers::Ledger::new(as_of, until, unit);
            cx.store.read()?.for_each_contact_events(|events| {
                let purchases = events.iter().filter(|e| e.kind == EventKind::Purchase);
                ledger.customer(purchases.map(|e| (e.at, e.value)));
            })?;
            let report = crate::customers::model_of(ledger, unit, horizon, discount);
            Response::CustomersModel { report: Box::new(report) }
        }
        Request::CustomersRefresh => {
            Response::CustomersRefreshed { refreshed: Box::new(crate::customers::refresh::run(&cx.store, cfg, now)?) }
        }
        Request::Customers => {
            let r = cx.store.read()?;
            let mut b = crate::customers::overview::Builder::new(&cfg.customers, &cfg.lapse, now);
            r.for_each_contact(|c| b.add(&c))?;
            Response::Customers { overview: Box::new(b.finish(crate::customers::refresh::last(&r)?)) }
        }
        Request::ContactExport { email } => Response::Export { export: Box::new(export(&cx.store.read()?, &email)?) },
        Request::ContactForget { email } => {
            let erased = cx.store.write(|w| engine::forget(w, &email, now))?;
            tracing::info!(?erased, "a contact was forgotten on request");
            Response::Forgotten { erased }
        }
        Request::EventsAdd { events, create } => {
            let recorded = cx.store.write(|w| engine::record_batch(w, cfg, &events, create))?;
            let results = recorded
                .into_iter()
                .map(|r| match r {
                    EventResult::Recorded => EventItemResult::Recorded,
                    EventResult::Reactivated => EventItemResult::Reactivated,
                    EventResult::UnknownContact => EventItemResult::UnknownContact,
                })
                .collect();
            Response::Events { results }
        }
        Request::SuppressAdd { email, note } => {
            let (added, entry) = cx.store.write(|w| {
                let added = engine::suppress(w, &email, SuppressionReason::Manual, &note, now)?;
                Ok((added, w.suppression(&email)?))
            })?;
            Response::Suppressed { added, entry }
        }
        Request::SuppressRemove { email } => {
            Response::Unsuppressed { lifted: cx.store.write(|w| engine::unsuppress(w, cfg, &email, now))? }
        }
        Request::SuppressList { reason } => {
            let mut entries = cx.store.read()?.suppressions()?;
            if let Some(r) = reason {
                entries.retain(|s| s.reason == r);
            }
            Response::Suppressions { entries }
        }
        Request::Resume => match &cx.guard {
            Some(g) => {
                let lifted = g.resume();
                g.save_to(&cx.store)?;
                Response::Resumed { lifted }
            }
            None => Response::Resumed { lifted: crate::reputation::persist::resume(&cx.store, now)? },
        },
        Request::Keys { rotate } => keys(cx, rotate).unwrap_or_else(|e| Response::Error { message: e.to_string() }),
        Request::Backup { dest } => match crate::backup::backup(&cx.store, &cfg.state_dir, &dest, now) {
            Ok(manifest) => Response::Backup { manifest: Box::new(manifest) },
            Err(e) => Response::Error { message: e.to_string() },
        },
        Request::StoreCheck => Response::StoreCheck { report: Box::new(cx.store.check()?) },
        Request::Reload => Response::Error {
            message: "no daemon is running: nothing to reload (a start reads the configuration)".into(),
        },
        Request::Import { contacts, dry_run } => {
            let outcomes = if dry_run {
                let r = cx.store.read()?;
                contacts
                    .iter()
                    .map(|c| {
                        Ok(if r.is_forgotten(&c.email)? {
                            ImportOutcome::Suppressed { reason: SuppressionReason::Forgotten }
                        } else if let Some(sup) = r.suppression(&c.email)? {
                            ImportOutcome::Suppressed { reason: sup.reason }
                        } else if r.contact(&c.email)?.is_some() {
                            ImportOutcome::Updated
                        } else {
                            ImportOutcome::Created
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
            } else {
                cx.store.write(|w| contacts.iter().map(|c| import_one(w, cfg, c, now)).collect())?
            };
            Response::Imported { outcomes }
        }
    })
}

/// Everything the store holds about `email`.
fn export(r: &Reader, email: &str) -> Result<PersonExport, StoreError> {
    let mut messages = Vec::new();
    r.for_each_message(|m| {
        if m.email == email {
            messages.push(m)
        }
    })?;
    let reactivations = r.reactivations()?.into_iter().filter(|x| x.email == email).collect();
    Ok(PersonExport {
        email: email.to_string(),
        contact: r.contact(email)?,
        suppression: r.suppression(email)?,
        history: r.history(email)?,
        events: r.events_of(email)?,
        messages,
        reactivations,
        soft_bounces: r.soft_bounces(email)?,
        forgotten: r.is_forgotten(email)?,
    })
}

fn report(r: &Reader, cfg: &Config, now: crate::clock::Millis) -> Result<crate::report::Report, StoreError> {
    crate::report::from_store(r, cfg, now)
}

/// The events a re-import reports: a purchase (without value) when its
/// `last_purchase_at` is newer than what is known, an engagement when its
/// `last_engaged_at` is. Dates in the future count as now.
fn newer_dates(old: &Contact, row: &ImportContact, now: crate::clock::Millis) -> Vec<Event> {
    let newer = |known: Option<i64>, imported: Option<i64>| imported.filter(|t| known.is_none_or(|k| *t > k));
    let mut out = Vec::new();
    for (kind, at) in [
        (EventKind::Purchase, newer(old.last_purchase_at, row.last_purchase_at)),
        (EventKind::Engaged, newer(old.last_engaged_at, row.last_engaged_at)),
    ] {
        if let Some(at) = at {
            let mut e = Event::new(row.email.clone(), kind, at.min(now));
            e.reference = Some("import".into());
            out.push(e);
        }
    }
    out
}

/// Creates or updates one contact from an import row (the import's merge
/// rules). A suppressed address stays suppressed: its fields are updated,
/// it is never scheduled.
pub(crate) fn import_one(
    w: &mut Writer<'_>,
    cfg: &Config,
    row: &ImportContact,
    now: crate::clock::Millis,
) -> Result<ImportOutcome, StoreError> {
    if w.is_forgotten(&row.email)? {
        // Erased on request: the shop's data brings it back, we do not.
        return Ok(ImportOutcome::Suppressed { reason: SuppressionReason::Forgotten });
    }
    let suppression = w.suppression(&row.email)?;
    let old = w.contact(&row.email)?;
    let news = old.as_ref().map(|o| newer_dates(o, row, now)).unwrap_or_default();
    let mut c = old.clone().unwrap_or_else(|| Contact::new(row.email.clone(), now));
    row.clone().update(&mut c);
    if let (None, Some(t)) = (&old, c.last_purchase_at) {
        // A new contact's last purchase starts its purchase history.
        c.customer.purchases.add(t.min(now), None);
    }
    // A purchase is engagement for lapse purposes when purchases count.
    if cfg.lapse.engagement_kinds.contains(EventKind::Purchase.as_str()) {
        c.last_engaged_at = c.last_engaged_at.max(c.last_purchase_at);
    }
    if matches!(c.state, ContactState::Idle | ContactState::Reactivated { .. }) {
        c.due_at = if suppression.is_some() { None } else { sequence::idle_due(&c, cfg) };
    }
    if old.as_ref() != Some(&c) {
        w.put_contact(old.as_ref(), &c)?;
    }
    if old.is_none() {
        w.add_history(&row.email, now, "imported")?;
    }
    // What the shop's data says happened since we last heard is engagement
    // like any other: it can end a sequence as reactivated.
    for e in &news {
        engine::record_event(w, cfg, e, false)?;
    }
    Ok(match (suppression, old.is_some()) {
        (Some(s), _) => ImportOutcome::Suppressed { reason: s.reason },
        (None, true) => ImportOutcome::Updated,
        (None, false) => ImportOutcome::Created,
    })
}
