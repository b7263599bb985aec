//! A compact set of canonical addresses seen during one import, each with
//! the line it was first seen on.
//!
//! A `HashMap<String, u64>` costs about 90 bytes per address (a heap block
//! per key plus a 32-byte bucket at a load factor near ½). Importing a
//! million contacts within the memory budget calls for less: the
//! addresses sit back to back in one arena, each entry is 16 bytes, and the
//! open-addressing table holds 8-byte slots (a 32-bit hash tag and an entry
//! number), about 60 bytes per address all told. Hashing uses the standard
//! library's keyed SipHash, so a hostile file cannot force collisions.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// The index is full (more than `u32::MAX - 1` distinct addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Arena offset << 16 | length.
    span: u64,
    /// The value stored with the key (the first line).
    value: u64,
}

/// Canonical address → first line.
#[derive(Debug)]
pub(crate) struct DedupIndex {
    arena: String,
    entries: Vec<Entry>,
    /// 0 = empty; otherwise hash tag << 32 | (entry number + 1).
    slots: Vec<u64>,
    hasher: RandomState,
}

impl Default for DedupIndex {
    fn default() -> Self {
        DedupIndex { arena: String::new(), entries: Vec::new(), slots: vec![0; 1024], hasher: RandomState::new() }
    }
}

impl DedupIndex {
    /// Inserts `key` → `value` unless `key` is present; returns the value
    /// already stored when it is.
    pub(crate) fn insert(&mut self, key: &str, value: u64) -> Result<Option<u64>, Full> {
        let hash = self.hasher.hash_one(key);
        let mask = self.slots.len() - 1;
        let tag = hash >> 32;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots.get(i).copied().unwrap_or(0);
            if slot == 0 {
                break;
            }
            if slot >> 32 == tag {
                let entry = self.entries.get((slot & 0xffff_ffff) as usize - 1);
                if let Some(e) = entry.filter(|e| self.key_of(e) == key) {
                    return Ok(Some(e.value));
                }
            }
            i = (i + 1) & mask;
        }
        let number = u32::try_from(self.entries.len() + 1).ok().filter(|&n| n < u32::MAX).ok_or(Full)?;
        let len = u16::try_from(key.len()).map_err(|_| Full)?;
        self.entries.push(Entry { span: (self.arena.len() as u64) << 16 | u64::from(len), value });
        self.arena.push_str(key);
        if let Some(s) = self.slots.get_mut(i) {
            *s = tag << 32 | u64::from(number);
        }
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
        Ok(None)
    }

    fn key_of(&self, e: &Entry) -> &str {
        let start = (e.span >> 16) as usize;
        self.arena.get(start..start + (e.span & 0xffff) as usize).unwrap_or("")
    }

    fn grow(&mut self) {
        let mut slots = vec![0u64; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (n, e) in self.entries.iter().enumerate() {
            let hash = self.hasher.hash_one(self.key_of(e));
            let mut i = hash as usize & mask;
            while slots.get(i).is_some_and(|&s| s != 0) {
                i = (i + 1) & mask;
            }
            if let Some(s) = slots.get_mut(i) {
                *s = (hash >> 32) << 32 | (n as u64 + 1);
            }
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_first_values_across_growth() {
        let mut d = DedupIndex::default();
        for i in 0..10_000u64 {
            assert_eq!(d.insert(&format!("user{i}@example.com"), i), Ok(None));
        }
        for i in 0..10_000u64 {
            assert_eq!(d.insert(&format!("user{i}@example.com"), 99_999), Ok(Some(i)));
        }
        assert_eq!(d.insert("", 7), Ok(None));
        assert_eq!(d.insert("", 8), Ok(Some(7)));
        assert_eq!(d.insert("user1@example.com", 8), Ok(Some(1)));
    }
}
