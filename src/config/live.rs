//! A value the daemon replaces while it runs (the configuration, and what
//! is built from it such as the compiled templates; see
//! `crate::daemon::reload`). Readers hold a [`Live`] and take the current
//! value per tick, per request or per message; the one [`Publisher`]
//! replaces it whole. A value taken is an `Arc`: work begun under the old
//! configuration ends under it, and nothing ever sees half of a change.
//!
//! Built on `tokio::sync::watch` (no extra dependency): taking the value
//! is a short read lock and an `Arc` clone.

use std::sync::Arc;

use tokio::sync::watch;

/// The reading side: cheap to clone, one per task.
pub struct Live<T> {
    rx: watch::Receiver<Arc<T>>,
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live { rx: self.rx.clone() }
    }
}

impl<T> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

impl<T> Live<T> {
    /// A value that never changes (tests, the CLI working on the store).
    pub fn fixed(value: Arc<T>) -> Live<T> {
        let (_tx, rx) = watch::channel(value);
        Live { rx }
    }

    /// The value in force now.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.rx.borrow())
    }

    /// Waits until a value not yet seen through this reader is published
    /// (never, for a fixed value), for tasks that sleep long.
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.rx.borrow_and_update();
    }
}

impl<T> From<Arc<T>> for Live<T> {
    fn from(value: Arc<T>) -> Self {
        Live::fixed(value)
    }
}

/// The writing side: replaces the value for every [`Live`] at once.
pub struct Publisher<T> {
    tx: watch::Sender<Arc<T>>,
}

impl<T> std::fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl<T> Publisher<T> {
    /// Starts with `value`.
    pub fn new(value: Arc<T>) -> Publisher<T> {
        Publisher { tx: watch::Sender::new(value) }
    }

    /// A reader of this value.
    pub fn subscribe(&self) -> Live<T> {
        Live { rx: self.tx.subscribe() }
    }

    /// The value in force now.
    pub fn current(&self) -> Arc<T> {
        Arc::clone(&self.tx.borrow())
    }

    /// Puts `value` in force for every reader.
    pub fn publish(&self, value: Arc<T>) {
        self.tx.send_replace(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_a_published_value_and_keep_what_they_took() {
        let p = Publisher::new(Arc::new(1));
        let live = p.subscribe();
        let taken = live.get();
        p.publish(Arc::new(2));
        assert_eq!((*taken, *live.get(), *live.clone().get(), *p.current()), (1, 2, 2, 2));
        assert_eq!(*Live::fixed(Arc::new(7)).get(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn changed_wakes_on_a_publish_only() {
        let p = Publisher::new(Arc::new(1));
        let mut live = p.subscribe();
        let quiet = tokio::time::timeout(std::time::Duration::from_secs(60), live.changed()).await;
        assert!(quiet.is_err(), "nothing published yet");
        p.publish(Arc::new(2));
        tokio::time::timeout(std::time::Duration::from_secs(1), live.changed()).await.expect("woken");
        let mut fixed = Live::fixed(Arc::new(0));
        assert!(tokio::time::timeout(std::time::Duration::from_secs(60), fixed.changed()).await.is_err());
    }
}
