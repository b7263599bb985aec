//! Reputation state in the store: one blob under [`STATE_KEY`], written
//! when the controller's durable state changed and read at start, so a
//! pause, provider suspensions and warm-up progress survive restarts.

use super::state::{Pause, ReputationState};
use super::{ProviderLimits, Reputation, SavedRolling};
use crate::clock::Millis;
use crate::config::Config;
use crate::store::{Reader, Store, StoreError, Writer};

/// The blob key.
pub const STATE_KEY: &str = "reputation";

fn decode(blob: Option<Vec<u8>>) -> Result<ReputationState, StoreError> {
    match blob {
        None => Ok(ReputationState::default()),
        Some(b) => ReputationState::from_bytes(&b).map_err(|e| StoreError::Corrupt {
            table: "blobs",
            key: STATE_KEY.into(),
            detail: e.to_string(),
        }),
    }
}

/// The stored state (the default when none was stored).
pub fn load(r: &Reader) -> Result<ReputationState, StoreError> {
    decode(r.blob(STATE_KEY)?)
}

/// Stores the state.
pub fn save(w: &mut Writer<'_>, state: &ReputationState) -> Result<(), StoreError> {
    w.put_blob(STATE_KEY, &state.to_bytes())
}

/// The blob key of the rolling counters.
pub const COUNTERS_KEY: &str = "reputation-counters";

/// A controller for this configuration that continues from the stored
/// state and counters. Unreadable counters only cost history (rates build
/// up again), so they are logged and left out; an unreadable state is an
/// error, because it may hold a pause.
pub fn open(cfg: &Config, r: &Reader) -> Result<Reputation, StoreError> {
    let mut rep = Reputation::restore(cfg.reputation.clone(), ProviderLimits::from_config(&cfg.limits), load(r)?);
    if let Some(b) = r.blob(COUNTERS_KEY)? {
        match serde_json::from_slice::<SavedRolling>(&b) {
            Ok(saved) => rep.restore_counters(&saved),
            Err(e) => tracing::warn!("stored reputation counters unreadable ({e}); rates start afresh"),
        }
    }
    Ok(rep)
}

/// Stores the rolling counters.
pub fn save_counters(w: &mut Writer<'_>, rep: &Reputation) -> Result<(), StoreError> {
    // Plain data with string keys: serializing cannot fail.
    w.put_blob(COUNTERS_KEY, &serde_json::to_vec(&rep.save_counters()).unwrap_or_default())
}

/// Lifts a stored pause, for `winback resume` when no daemon holds the
/// state in memory (a running daemon resumes its own controller with
/// [`Reputation::resume`] and saves it). Returns the pause lifted.
pub fn resume(store: &Store, now: Millis) -> Result<Option<Pause>, StoreError> {
    store.write(|w| {
        // A damaged state cannot hold a pause anyone can read; the operator
        // asked to send again, so a fresh state replaces it.
        let mut state = decode(w.blob(STATE_KEY)?).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "replacing the unreadable reputation state");
            ReputationState::default()
        });
        let lifted = state.resume(now);
        save(w, &state)?;
        Ok(lifted)
    })
}

impl Reputation {
    /// Saves the durable state if it changed since the last save.
    pub fn save_if_dirty(&mut self, w: &mut Writer<'_>) -> Result<bool, StoreError> {
        if !self.take_dirty() {
            return Ok(false);
        }
        if let Err(e) = save(w, self.state()) {
            // Not saved: try again next time.
            self.dirty = true;
            return Err(e);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reputation::{Gate, ProviderKey, Reason, Signal, SignalKind};

    const T0: Millis = 1_750_000_000_000;

    fn config() -> Config {
        Config::from_toml("test", crate::config::EMBEDDED_DEFAULT).unwrap()
    }

    #[test]
    fn a_pause_is_saved_survives_reopening_and_is_lifted_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config();
        let store = Store::open(dir.path()).unwrap();
        let mut rep = open(&cfg, &store.read().unwrap()).unwrap();
        assert!(store.write(|w| rep.save_if_dirty(w)).map(|saved| !saved).unwrap(), "nothing to save yet");
        let google = ProviderKey::new("google");
        for i in 0..200 {
            let t = T0 + i * 1_000;
            rep.record(t, &Signal::new("shop.example", Some(google.clone()), SignalKind::Sent));
            let kind =
                if i % 10 == 0 { SignalKind::HardBounce { reason: Reason::BadMailbox } } else { SignalKind::Delivered };
            rep.record(t, &Signal::new("shop.example", Some(google.clone()), kind));
        }
        assert!(store.write(|w| rep.save_if_dirty(w)).unwrap());
        drop(store);

        // Restart: a new process opens the store.
        let store = Store::open(dir.path()).unwrap();
        let rep = open(&cfg, &store.read().unwrap()).unwrap();
        assert!(matches!(rep.gate(T0 + 86_400_000, "shop.example", &google), Gate::Paused { .. }));

        let lifted = resume(&store, T0 + 90_000_000).unwrap().expect("a pause was lifted");
        assert!(lifted.reason.contains("hard-bounce rate"));
        let rep = open(&cfg, &store.read().unwrap()).unwrap();
        assert_eq!(rep.gate(T0 + 90_000_000, "shop.example", &google), Gate::Send);
        assert_eq!(rep.state().evaluate_from, Some(T0 + 90_000_000));
        assert_eq!(resume(&store, T0 + 90_000_001).unwrap(), None, "nothing left to lift");
    }

    #[test]
    fn the_admin_resume_request_lifts_the_stored_pause() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let pause = Pause { since: T0, scope: "all".into(), reason: "r".into(), breaches: vec![], until: None };
        let state = ReputationState { pause: Some(pause), ..Default::default() };
        store.write(|w| save(w, &state)).unwrap();
        let cx = crate::admin::Context {
            store: store.clone(),
            cfg: std::sync::Arc::new(config()),
            clock: crate::clock::Clock::starting_at(T0 + 5),
            guard: None,
            keys: None,
            reload: None,
        };
        match crate::admin::execute(&cx, crate::admin::Request::Resume) {
            crate::admin::Response::Resumed { lifted: Some(p) } => assert_eq!(p.since, T0),
            other => panic!("{other:?}"),
        }
        assert!(load(&store.read().unwrap()).unwrap().pause.is_none());
    }

    #[test]
    fn rolling_counters_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config();
        let store = Store::open(dir.path()).unwrap();
        let mut rep = open(&cfg, &store.read().unwrap()).unwrap();
        let google = ProviderKey::new("google");
        for i in 0..50 {
            let t = T0 + i * 120_000;
            rep.record(t, &Signal::new("shop.example", Some(google.clone()), SignalKind::Sent));
            rep.record(t, &Signal::new("shop.example", Some(google.clone()), SignalKind::Complaint));
        }
        let now = T0 + 50 * 120_000;
        let before = rep.snapshot(now);
        store.write(|w| save_counters(w, &rep)).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let rep = open(&cfg, &store.read().unwrap()).unwrap();
        assert_eq!(rep.snapshot(now), before);
        assert_eq!(rep.assess(now, "all").level, crate::reputation::Level::Ok, "below the minimum volume");
        // Damaged counters cost history, not the start.
        store.write(|w| w.put_blob(COUNTERS_KEY, b"[oops")).unwrap();
        let rep = open(&cfg, &store.read().unwrap()).unwrap();
        assert_eq!(rep.snapshot(now).scopes[0].windows[1].counts.sent, 0);
    }

    #[test]
    fn a_damaged_blob_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write(|w| w.put_blob(STATE_KEY, b"{not json")).unwrap();
        let e = load(&store.read().unwrap()).unwrap_err();
        assert!(e.to_string().contains("reputation"), "{e}");
        assert_eq!(resume(&store, T0).unwrap(), None);
        assert_eq!(load(&store.read().unwrap()).unwrap().evaluate_from, Some(T0), "replaced by a fresh state");
    }
}
