//! Recent clicks per message, in memory, for the click-burst signal.
//!
//! Only the last burst window matters, so the table holds little: two
//! generations of at most half the cap each. Clicks go to the current one
//! (a message's list moves there when clicked again); when it is full it
//! becomes the previous one and the old previous one is dropped whole. So
//! every click costs the same however the table is filled (no scan of all
//! entries under the lock), memory stays under the cap, and what a flood of
//! distinct messages can push out is only a message not clicked within the
//! last half-cap of other messages: a missed burst, never unbounded memory.
//! Clicks older than the window are dropped when their message is read.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Millis;

use super::classify::RecentClick;

/// Most clicks kept per message.
const PER_MESSAGE: usize = 16;

/// Clicks by message id.
type Table = HashMap<u64, Vec<RecentClick>>;

/// The two generations: clicks go to `current`; `previous` is only read.
#[derive(Debug, Default)]
struct Generations {
    current: Table,
    previous: Table,
}

/// Recent clicks by message id.
#[derive(Debug)]
pub struct RecentClicks {
    map: Mutex<Generations>,
    /// Most messages in one generation (half the cap).
    half: usize,
    window: Millis,
}

impl RecentClicks {
    /// A table of at most `cap` messages keeping clicks for `window` ms.
    pub fn new(cap: usize, window: Millis) -> Self {
        RecentClicks { map: Mutex::new(Generations::default()), half: (cap / 2).max(1), window: window.max(0) }
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
        let mut g = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = click.at.saturating_sub(window.max(0));
        let mut list = match g.current.remove(&message) {
            Some(list) => list,
            None => g.previous.remove(&message).unwrap_or_default(),
        };
        list.retain(|c| c.at >= horizon);
        let earlier = list.clone();
        if list.len() >= PER_MESSAGE {
            list.remove(0);
        }
        list.push(click);
        if g.current.len() >= self.half {
            g.previous = std::mem::take(&mut g.current);
        }
        g.current.insert(message, list);
        earlier
    }

    /// Messages currently tracked.
    pub fn len(&self) -> usize {
        let g = self.map.lock().unwrap_or_else(|p| p.into_inner());
        g.current.len() + g.previous.len()
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
        let r = RecentClicks::new(4, 1_000);
        for m in 0..100 {
            r.record(m, c(5_000, 0));
            assert!(r.len() <= 4, "{} messages", r.len());
        }
        for i in 0..100 {
            r.record(1, c(5_000, i));
        }
        assert!(r.record(1, c(5_000, 0)).len() <= PER_MESSAGE);
    }

    #[test]
    fn a_flood_of_other_messages_pushes_out_only_what_was_not_clicked_since() {
        let r = RecentClicks::new(8, 10_000);
        r.record(1, c(1_000, 0));
        // Up to half the cap of other messages: message 1 is still known.
        for m in 100..104 {
            r.record(m, c(1_100, 0));
        }
        assert_eq!(r.record(1, c(1_200, 1)), vec![c(1_000, 0)]);
        // Clicked again, it moved to the current generation: another four
        // do not push it out either.
        for m in 200..204 {
            r.record(m, c(1_300, 0));
        }
        assert_eq!(r.record(1, c(1_400, 2)), vec![c(1_000, 0), c(1_200, 1)]);
        // A full cap of others without a click on it does.
        for m in 300..308 {
            r.record(m, c(1_500, 0));
        }
        assert!(r.record(1, c(1_600, 3)).is_empty());
    }
}
