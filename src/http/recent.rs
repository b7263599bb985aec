//! Recent clicks per message, in memory, for the click-burst signal.
//!
//! Only the last burst window matters, so the table holds little: entries
//! older than the window are dropped whenever the table reaches its cap,
//! and if it is still full then (a flood of distinct messages within one
//! window) it is cleared. The cost of that is a missed burst, never
//! unbounded memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Millis;

use super::classify::RecentClick;

/// Most clicks kept per message.
const PER_MESSAGE: usize = 16;

/// Recent clicks by message id.
#[derive(Debug)]
pub struct RecentClicks {
    map: Mutex<HashMap<u64, Vec<RecentClick>>>,
    cap: usize,
    window: Millis,
}

impl RecentClicks {
    /// A table of at most `cap` messages keeping clicks for `window` ms.
    pub fn new(cap: usize, window: Millis) -> Self {
        RecentClicks { map: Mutex::new(HashMap::new()), cap: cap.max(1), window: window.max(0) }
    }

    /// Records a click and returns the earlier clicks on the same message
    /// that are still within the window.
    pub fn record(&self, message: u64, click: RecentClick) -> Vec<RecentClick> {
        self.record_within(message, click, self.window)
    }

    /// [`RecentClicks::record`] with the window in force now (it changes
    /// on reload) instead of the one the table was made with.
    pub fn record_within(&self, message: u64, click: RecentClick, window: Millis) -> Vec<RecentClick> {
        // A poisoned lock only means another request panicked mid-update of
        // this cache; its content is still usable.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = click.at.saturating_sub(window.max(0));
        if !map.contains_key(&message) && map.len() >= self.cap {
            map.retain(|_, v| v.iter().any(|c| c.at >= horizon));
            if map.len() >= self.cap {
                map.clear();
            }
        }
        let list = map.entry(message).or_default();
        list.retain(|c| c.at >= horizon);
        let earlier = list.clone();
        if list.len() >= PER_MESSAGE {
            list.remove(0);
        }
        list.push(click);
        earlier
    }

    /// Messages currently tracked.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(at: Millis, link: u16) -> RecentClick {
        RecentClick { at, link }
    }

    #[test]
    fn returns_earlier_clicks_within_the_window() {
        let r = RecentClicks::new(10, 1_000);
        assert!(r.record(1, c(10_000, 0)).is_empty());
        assert_eq!(r.record(1, c(10_500, 1)), vec![c(10_000, 0)]);
        assert!(r.record(2, c(10_600, 0)).is_empty(), "per message");
        assert_eq!(r.record(1, c(11_200, 2)), vec![c(10_500, 1)], "the first aged out");
        assert_eq!(r.record_within(1, c(11_300, 3), 2_000), vec![c(10_500, 1), c(11_200, 2)], "a longer window");
    }

    #[test]
    fn stays_bounded() {
        let r = RecentClicks::new(3, 1_000);
        for m in 0..3 {
            r.record(m, c(0, 0));
        }
        r.record(99, c(5_000, 0));
        assert_eq!(r.len(), 1, "stale entries dropped");
        for m in 0..10 {
            r.record(m, c(5_000, 0));
            assert!(r.len() <= 3);
        }
        for i in 0..100 {
            r.record(1, c(5_000, i));
        }
        assert!(r.record(1, c(5_000, 0)).len() <= PER_MESSAGE);
    }
}
