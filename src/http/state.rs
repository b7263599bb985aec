//! What every HTTP handler shares: the config, the store (reads) and its
//! group committer (writes), the token keys, the clock, and the small
//! in-memory tables the handlers keep.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::clock::{Clock, ms};
use crate::config::Config;
use crate::domain::{Event, EventKind};
use crate::reputation::guard::Guard;
use crate::store::{Committer, Journal, MessageRecord, Store, StoreError};
use crate::token::{Keys, Purpose};

use super::cache::MessageCache;
use super::config::BUILTIN_API_KINDS;
use super::recent::RecentClicks;

/// Messages tracked for click bursts at once.
const RECENT_MESSAGES: usize = 65_536;
/// Sent messages kept in memory.
const CACHED_MESSAGES: usize = 100_000;

/// Shared state of the HTTP side; cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpState {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    /// The configuration in force (replaced on reload): take it per request.
    pub live: crate::config::live::Live<Config>,
    pub store: Store,
    pub committer: Committer,
    pub keys: Keys,
    pub clock: Clock,
    pub recent_clicks: RecentClicks,
    pub messages: MessageCache,
    pub guard: Option<Arc<Guard>>,
    pub journal: Journal,
}

impl HttpState {
    /// Everything the handlers need. `committer` is the store's group
    /// committer (shared with the rest of the daemon); `journal` the event
    /// journal opens and clicks go to; `keys` the token secret of the
    /// state directory.
    pub fn new(
        cfg: impl Into<crate::config::live::Live<Config>>,
        store: Store,
        committer: Committer,
        journal: Journal,
        keys: Keys,
        clock: Clock,
    ) -> Self {
        let live = cfg.into();
        let window = ms(live.get().tracking.signals.timing.click_burst_window);
        let inner = Inner {
            live,
            store,
            committer,
            keys,
            clock,
            recent_clicks: RecentClicks::new(RECENT_MESSAGES, window),
            messages: MessageCache::new(CACHED_MESSAGES),
            guard: None,
            journal,
        };
        HttpState { inner: Arc::new(inner) }
    }

    /// Reports opens, clicks and unsubscribes to the reputation guard, and
    /// serves its figures on `/metrics`. Call before the state is cloned.
    pub fn with_guard(mut self, guard: Arc<Guard>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.guard = Some(guard),
            None => tracing::error!("HttpState::with_guard after the state was shared; reputation signals not wired"),
        }
        self
    }

    /// The event kinds the events API accepts.
    pub fn api_kinds(&self) -> BTreeSet<String> {
        self.inner.api_kinds()
    }
}

impl Inner {
    /// The configuration in force now.
    pub fn cfg(&self) -> Arc<Config> {
        self.live.get()
    }

    /// The event kinds the events API accepts under the configuration in force.
    pub fn api_kinds(&self) -> BTreeSet<String> {
        api_kinds(&self.cfg())
    }
}

/// Built-in kinds, `[http] event_kinds` and `[lapse] engagement_kinds`,
/// without the kinds only winback records.
fn api_kinds(cfg: &Config) -> BTreeSet<String> {
    BUILTIN_API_KINDS
        .iter()
        .map(|k| k.to_string())
        .chain(cfg.http.event_kinds.iter().cloned())
        .chain(cfg.lapse.engagement_kinds.iter().cloned())
        .filter(|k| !EventKind::parse(k).is_reserved())
        .collect()
}

impl Inner {
    /// The message a token names, if the token is genuine and the message exists.
    pub fn message_for(&self, purpose: Purpose, token: &str) -> Result<Option<(Arc<MessageRecord>, u16)>, StoreError> {
        let Some(t) = self.keys.verify(purpose, token) else { return Ok(None) };
        if let Some(m) = self.messages.get(t.message) {
            return Ok(Some((m, t.extra)));
        }
        Ok(self.store.read()?.message(t.message)?.map(|m| (self.messages.offer(m), t.extra)))
    }

    /// Records an open or click; returns once it is durable in the journal.
    pub async fn track(&self, event: Event) -> Result<(), StoreError> {
        let signal = self.guard.as_ref().map(|g| (g.clone(), event.email.clone(), event.kind.clone(), event.origin));
        self.journal.append(event).await?;
        if let Some((g, email, kind, origin)) = signal {
            g.record_event(&email, &kind, origin == crate::domain::Origin::Human);
        }
        Ok(())
    }
}
