//! A bounded in-memory cache of the messages tokens name, so the pixel and
//! the redirect do not open a store snapshot per request.
//!
//! Only messages that have been sent are cached: from then on the fields
//! the HTTP side reads (recipient, links, send time) never change. When
//! the cache is full it is emptied and refills from the store; memory
//! stays bounded and a miss only costs one store read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::MessageRecord;

/// Sent messages by id.
#[derive(Debug)]
pub struct MessageCache {
    map: Mutex<HashMap<u64, Arc<MessageRecord>>>,
    cap: usize,
}

impl MessageCache {
    /// A cache of at most `cap` messages.
    pub fn new(cap: usize) -> Self {
        MessageCache { map: Mutex::new(HashMap::new()), cap: cap.max(1) }
    }

    /// A cached message.
    pub fn get(&self, id: u64) -> Option<Arc<MessageRecord>> {
        // A poisoned lock only means another request panicked while holding
        // it; the map itself is intact.
        self.map.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// Keeps a message if it has been sent; returns it shared either way.
    pub fn offer(&self, m: MessageRecord) -> Arc<MessageRecord> {
        let m = Arc::new(m);
        if m.sent_at.is_some() {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= self.cap {
                map.clear();
            }
            map.insert(m.id, m.clone());
        }
        m
    }

    /// Messages cached.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageState;

    fn msg(id: u64, sent: bool) -> MessageRecord {
        MessageRecord {
            id,
            email: "a@x.example".into(),
            sequence: "s".into(),
            step: 0,
            created_at: 0,
            state: if sent { MessageState::Sent } else { MessageState::Queued { ready_at: 0 } },
            attempts: 0,
            first_attempt_at: None,
            sent_at: sent.then_some(5),
            message_id: None,
            last_reply: None,
            links: vec![],
            variant: None,
        }
    }

    #[test]
    fn caches_only_sent_messages_and_stays_bounded() {
        let c = MessageCache::new(2);
        c.offer(msg(1, false));
        assert!(c.get(1).is_none());
        c.offer(msg(1, true));
        c.offer(msg(2, true));
        assert_eq!(c.get(1).map(|m| m.id), Some(1));
        c.offer(msg(3, true));
        assert!(c.len() <= 2);
        assert_eq!(c.get(3).map(|m| m.id), Some(3));
    }
}
