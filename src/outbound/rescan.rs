//! Rules that change take effect: when the lapse rules or the sequences
//! differ from those the stored due times were computed under (at start;
//! the fingerprint is [`engine::rules_fingerprint`]), every contact's due
//! time is recomputed once, in pages, in the background, through the
//! engine, without holding up sending. Progress is kept in the store (and
//! shown by `status`); an interrupted pass starts again at the next start.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::engine;
use crate::store::{Committer, Store, StoreError};

/// Contacts per transaction.
const PAGE: usize = 1_000;

/// The blob holding a pass's progress while it runs.
pub const PROGRESS_KEY: &str = "progress:due-recompute";

/// A pass's progress, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Contacts looked at.
    pub done: u64,
    /// Contacts in the store when the pass began.
    pub total: u64,
    /// Due times changed so far.
    pub changed: u64,
}

/// Runs one pass if the rules changed since the last complete one;
/// returns its progress (`None`: nothing to do). Stops early, without
/// marking the pass complete, when `cancel` fires.
pub async fn run(
    cfg: Arc<Config>,
    store: Store,
    committer: Committer,
    cancel: CancellationToken,
) -> Result<Option<Progress>, StoreError> {
    let rules = engine::rules_fingerprint(&cfg);
    let (stored, total) = {
        let r = store.read()?;
        (r.blob(engine::RULES_KEY)?, r.contact_count()?)
    };
    if stored.as_deref() == Some(rules.as_bytes()) {
        return Ok(None);
    }
    if total == 0 {
        // Nothing to recompute: remember the rules for the next start.
        committer.run(move |w| w.put_blob(engine::RULES_KEY, rules.as_bytes())).await?;
        return Ok(None);
    }
    tracing::info!(contacts = total, "lapse rules or sequences changed: recomputing every due time in the background");
    let mut p = Progress { total, ..Progress::default() };
    let mut after: Option<String> = None;
    loop {
        if cancel.is_cancelled() {
            return Ok(Some(p));
        }
        let page = store.read()?.contact_page(after.as_deref(), PAGE)?;
        let Some(last) = page.last().cloned() else { break };
        let (c, n) = (cfg.clone(), page.len() as u64);
        let mut next = p.clone();
        next.done += n;
        let saved = next.clone();
        let changed = committer
            .run(move |w| {
                let changed = engine::recompute_due(w, &c, &page)?;
                let progress = Progress { changed: saved.changed + changed as u64, ..saved };
                w.put_blob(PROGRESS_KEY, &serde_json::to_vec(&progress).unwrap_or_default())?;
                Ok(changed)
            })
            .await?;
        next.changed += changed as u64;
        p = next;
        after = Some(last);
        tokio::task::yield_now().await;
    }
    committer
        .run(move |w| {
            w.remove_blob(PROGRESS_KEY)?;
            w.put_blob(engine::RULES_KEY, rules.as_bytes())
        })
        .await?;
    tracing::info!(contacts = p.done, changed = p.changed, "due times recomputed under the current rules");
    Ok(Some(p))
}

/// The progress of a pass under way, if any.
pub fn progress(r: &crate::store::Reader) -> Result<Option<Progress>, StoreError> {
    Ok(r.blob(PROGRESS_KEY)?.and_then(|b| serde_json::from_slice(&b).ok()))
}
