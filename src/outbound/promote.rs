//! The variant promoter task: when some step has `auto_promote = true`,
//! it computes the report every [`EVERY_TICKS`] scheduler ticks and, once
//! one variant of such a step beats every other significantly on
//! reactivation, promotes it through the engine (logged once); the
//! scheduler then gives it to every new contact. Without such a step the
//! task only waits (a reload may bring one; the configuration is taken
//! anew at every look).

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::live::Live;
use crate::engine;
use crate::store::{Committer, Store, StoreError};

/// How many scheduler ticks between two looks.
pub const EVERY_TICKS: u32 = 50;

/// The steps to promote now: (sequence, 0-based step, variant).
pub fn winners(cfg: &Config, report: &crate::report::Report) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for (s, kpi) in cfg.sequences.iter().zip(&report.sequences) {
        for (i, (st, k)) in s.steps.iter().zip(&kpi.steps).enumerate() {
            let Some(v) = k.variants.as_deref().filter(|v| st.auto_promote && v.significant && v.promoted.is_none())
            else {
                continue;
            };
            if let Some(best) = &v.best {
                out.push((s.name.clone(), i, best.clone()));
            }
        }
    }
    out
}

/// Runs until cancelled.
pub async fn run(
    live: Live<Config>,
    store: Store,
    committer: Committer,
    clock: Clock,
    cancel: CancellationToken,
) -> Result<(), StoreError> {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(live.get().scheduler.tick * EVERY_TICKS) => {}
        }
        let cfg = live.get();
        let promoting =
            cfg.sequences.iter().any(|s| s.steps.iter().any(|st| st.auto_promote && !st.variants.is_empty()));
        if !promoting {
            continue;
        }
        let report = match store.read().and_then(|r| crate::report::from_store(&r, &cfg, clock.now())) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("variant promotion: cannot compute the report: {e}");
                continue;
            }
        };
        for (sequence, step, variant) in winners(&cfg, &report) {
            let (s, v) = (sequence.clone(), variant.clone());
            match committer.run(move |w| engine::promote_variant(w, &s, step, &v)).await {
                Ok(true) => tracing::info!(
                    sequence = %sequence,
                    step = step + 1,
                    variant = %variant,
                    "variant promoted: it beats every other on reactivation at 95%; new contacts all get it"
                ),
                Ok(false) => {}
                Err(StoreError::Closed) => return Err(StoreError::Closed),
                Err(e) => tracing::error!("variant promotion not recorded: {e}"),
            }
        }
    }
}
