//! Read access: a consistent snapshot, plus the lookups shared with
//! [`super::Writer`] (written once, generic over redb's table types).

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::StoreError;
use super::codec::{decode, decode_events};
use super::records::{Counts, HistoryEntry, MessageRecord, Reactivation};
use super::tables::*;
use crate::clock::Millis;
use crate::domain::{Contact, Event, Suppression};

/// The lookups both a [`Reader`] and a [`super::Writer`] offer, written
/// once: both name their tables the same.
macro_rules! shared_reads {
    () => {
        /// A contact by normalized address.
        pub fn contact(&self, email: &str) -> Result<Option<Contact>, StoreError> {
            $crate::store::reader::get_contact(&self.contacts, email)
        }

        /// The suppression of an address, if any.
        pub fn suppression(&self, email: &str) -> Result<Option<Suppression>, StoreError> {
            $crate::store::reader::get_suppression(&self.suppressions, email)
        }

        /// A message by id.
        pub fn message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
            $crate::store::reader::get_message(&self.messages, id)
        }

        /// The message that went out with a `Message-ID` (with or without
        /// angle brackets).
        pub fn message_by_message_id(&self, message_id: &str) -> Result<Option<MessageRecord>, StoreError> {
            let key = $crate::store::tables::message_id_key(message_id);
            match self.message_ids.get(key.as_str())? {
                Some(id) => self.message(id.value()),
                None => Ok(None),
            }
        }

        /// The soft bounces counted for an address (stores from before the
        /// table kept them as blobs: read from there until first written).
        pub fn soft_bounces(&self, email: &str) -> Result<$crate::store::SoftBounces, StoreError> {
            if let Some(v) = self.soft_bounces.get(email)? {
                return $crate::store::codec::decode("soft_bounces", &email, v.value());
            }
            let legacy = self.blob(&$crate::store::writer::legacy_soft_key(email))?;
            Ok(legacy.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default())
        }

        /// Whether the address was forgotten on request (see
        /// [`crate::domain::suppression::forgotten_hash`]).
        pub fn is_forgotten(&self, email: &str) -> Result<bool, StoreError> {
            use $crate::domain::suppression::{FORGET_KEY_BLOB, forgotten_hash};
            let Some(key) = self.blob(FORGET_KEY_BLOB)? else { return Ok(false) };
            Ok(self.forgotten.get(forgotten_hash(&key, email).as_str())?.is_some())
        }

        /// A small state blob.
        pub fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            $crate::store::reader::get_blob(&self.blobs, key)
        }

        /// Messages ready at or before `now`, earliest first.
        pub fn ready_messages(&self, now: Millis, limit: usize) -> Result<Vec<u64>, StoreError> {
            $crate::store::reader::ready_messages(&self.outbox, now, limit)
        }

        /// Messages between "sending" and their outcome (start-up recovery).
        pub fn inflight(&self) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for row in self.inflight.iter()? {
                out.push(row?.0.value());
            }
            Ok(out)
        }
    };
}
pub(super) use shared_reads;

/// A page of events with their ids, and the id to continue after.
pub type EventsPage = (Vec<(u64, Event)>, Option<u64>);

/// A read-only snapshot of the store.
pub struct Reader {
    contacts: ReadOnlyTable<&'static str, &'static [u8]>,
    schedule: ReadOnlyTable<(u64, &'static str), ()>,
    suppressions: ReadOnlyTable<&'static str, &'static [u8]>,
    messages: ReadOnlyTable<u64, &'static [u8]>,
    message_ids: ReadOnlyTable<&'static str, u64>,
    outbox: ReadOnlyTable<(u64, u64), ()>,
    inflight: ReadOnlyTable<u64, ()>,
    events: ReadOnlyTable<u64, &'static [u8]>,
    event_runs: ReadOnlyTable<(&'static str, u64), u64>,
    history: ReadOnlyTable<(&'static str, u64), &'static [u8]>,
    reactivations: ReadOnlyTable<u64, &'static [u8]>,
    counters: ReadOnlyTable<&'static str, i64>,
    blobs: ReadOnlyTable<&'static str, &'static [u8]>,
    soft_bounces: ReadOnlyTable<&'static str, &'static [u8]>,
    forgotten: ReadOnlyTable<&'static str, i64>,
    rollups: ReadOnlyTable<(i64, &'static str), f64>,
}

impl Reader {
    shared_reads!();

    pub(super) fn open(txn: ReadTransaction) -> Result<Self, StoreError> {
        Ok(Reader {
            contacts: txn.open_table(CONTACTS)?,
            schedule: txn.open_table(SCHEDULE)?,
            suppressions: txn.open_table(SUPPRESSIONS)?,
            messages: txn.open_table(MESSAGES)?,
            message_ids: txn.open_table(MESSAGE_IDS)?,
            outbox: txn.open_table(OUTBOX)?,
            inflight: txn.open_table(INFLIGHT)?,
            events: txn.open_table(EVENTS)?,
            event_runs: txn.open_table(CONTACT_EVENT_RUNS)?,
            history: txn.open_table(HISTORY)?,
            reactivations: txn.open_table(REACTIVATIONS)?,
            counters: txn.open_table(COUNTERS)?,
            blobs: txn.open_table(BLOBS)?,
            soft_bounces: txn.open_table(SOFT_BOUNCES)?,
            forgotten: txn.open_table(FORGOTTEN)?,
            rollups: txn.open_table(ROLLUPS)?,
        })
    }

    /// Up to `limit` contact addresses after `after` (from the first when
    /// `None`), in key order: a full scan in pages.
    pub fn contact_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        use std::ops::Bound;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::with_capacity(limit.min(4_096));
        for row in self.contacts.range::<&str>((lower, Bound::Unbounded))?.take(limit) {
            out.push(row?.0.value().to_string());
        }
        Ok(out)
    }

    /// The daily rollups of the days `from..=to` (day numbers, see
    /// [`super::rollup::day_of`]).
    pub fn rollups(&self, from: i64, to: i64) -> Result<super::rollup::Rollups, StoreError> {
        super::rollup::read(&self.rollups, from, to)
    }

    /// All counters.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let mut out = Counts::default();
        for row in self.counters.iter()? {
            let (k, v) = row?;
            out.0.insert(k.value().to_string(), v.value());
        }
        Ok(out)
    }

    /// Every suppression, in address order.
    pub fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        let mut out = Vec::new();
        for row in self.suppressions.iter()? {
            let (k, v) = row?;
            out.push(decode("suppressions", &k.value(), v.value())?);
        }
        Ok(out)
    }

    /// A contact's history, oldest first.
    pub fn history(&self, email: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut out = Vec::new();
        for row in self.history.range((email, 0u64)..=(email, u64::MAX))? {
            let (k, v) = row?;
            out.push(decode("history", &k.value().0, v.value())?);
        }
        Ok(out)
    }

    /// Addresses whose scheduled time is at or before `now`, earliest first.
    pub fn due_contacts(&self, now: Millis, limit: usize) -> Result<Vec<String>, StoreError> {
        due_contacts(&self.schedule, now, limit)
    }

    /// A contact's events, oldest recorded first.
    pub fn events_of(&self, email: &str) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        for (first, last) in super::event_runs::spans(&self.event_runs, email)? {
            self.run_events(first, last, &mut out)?;
        }
        Ok(out)
    }

    /// A contact's `n` most recently recorded events, oldest first: reads
    /// its runs from the newest back and stops at `n`, so a contact with a
    /// long history costs what its last events cost.
    pub fn last_events_of(&self, email: &str, n: usize) -> Result<Vec<Event>, StoreError> {
        let mut newest_first = Vec::with_capacity(n.min(1024));
        'runs: for row in self.event_runs.range((email, 0)..=(email, u64::MAX))?.rev() {
            let (k, last) = row?;
            for chunk in self.events.range(k.value().1..=last.value())?.rev() {
                let (id, body) = chunk?;
                for (_, e) in decode_events(id.value(), body.value())?.into_iter().rev() {
                    if newest_first.len() == n {
                        break 'runs;
                    }
                    newest_first.push(e);
                }
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }

    /// Appends the events of the run `first..=last` (in chunks or rows of
    /// one event) to `out`.
    fn run_events(&self, first: u64, last: u64, out: &mut Vec<Event>) -> Result<(), StoreError> {
        for row in self.events.range(first..=last)? {
            let (k, v) = row?;
            out.extend(decode_events(k.value(), v.value())?.into_iter().map(|(_, e)| e));
        }
        Ok(())
    }

    /// Calls `f` with each contact's events (oldest recorded first), one
    /// contact at a time, contacts by address: per-customer summaries of
    /// the whole history without holding it.
    pub fn for_each_contact_events(&self, mut f: impl FnMut(&[Event])) -> Result<(), StoreError> {
        let mut email = String::new();
        let mut events = Vec::new();
        for row in self.event_runs.iter()? {
            let (k, last) = row?;
            let (who, first) = k.value();
            if who != email {
                if !events.is_empty() {
                    f(&events);
                    events.clear();
                }
                email.clear();
                email.push_str(who);
            }
            self.run_events(first, last.value(), &mut events)?;
        }
        if !events.is_empty() {
            f(&events);
        }
        Ok(())
    }

    /// Calls `f` for every event in recording order (reports).
    pub fn for_each_event(&self, mut f: impl FnMut(u64, Event)) -> Result<(), StoreError> {
        for row in self.events.iter()? {
            let (k, v) = row?;
            for (id, e) in decode_events(k.value(), v.value())? {
                f(id, e);
            }
        }
        Ok(())
    }

    /// Calls `f` with every event after id `after` (from the first when
    /// `None`) in recording order, until it returns `false`.
    fn each_event_after(&self, after: Option<u64>, mut f: impl FnMut(u64, Event) -> bool) -> Result<(), StoreError> {
        use std::ops::Bound;
        // The row holding `after` may hold later events of its chunk too.
        let start = match after {
            Some(a) => self.events.range(..=a)?.next_back().transpose()?.map_or(a, |(k, _)| k.value()),
            None => 0,
        };
        for row in self.events.range::<u64>((Bound::Included(start), Bound::Unbounded))? {
            let (k, v) = row?;
            for (id, e) in decode_events(k.value(), v.value())? {
                if after.is_none_or(|a| id > a) && !f(id, e) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One page of the events in recording order for an export: those
    /// after id `after` (from the first when `None`) that happened at or
    /// after `since`, at most `limit` of them, looking at no more than
    /// `scan` events. Returns them with their ids, and the id to continue
    /// after (`None` at the end).
    pub fn events_page(
        &self,
        after: Option<u64>,
        since: Option<Millis>,
        limit: usize,
        scan: usize,
    ) -> Result<EventsPage, StoreError> {
        let mut out = Vec::with_capacity(limit.min(4_096));
        let (mut last, mut looked, mut more) = (None, 0usize, false);
        self.each_event_after(after, |id, e| {
            if looked >= scan.max(1) || out.len() >= limit.max(1) {
                more = true;
                return false;
            }
            looked += 1;
            last = Some(id);
            if since.is_none_or(|t| e.at >= t) {
                out.push((id, e));
            }
            true
        })?;
        Ok((out, last.filter(|_| more)))
    }

    /// Every reactivation, oldest first (reports).
    pub fn reactivations(&self) -> Result<Vec<Reactivation>, StoreError> {
        let mut out = Vec::new();
        for row in self.reactivations.iter()? {
            let (k, v) = row?;
            out.push(decode("reactivations", &k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Calls `f` for every message (reports).
    pub fn for_each_message(&self, mut f: impl FnMut(MessageRecord)) -> Result<(), StoreError> {
        for row in self.messages.iter()? {
            let (k, v) = row?;
            f(decode("messages", &k.value(), v.value())?);
        }
        Ok(())
    }

    /// Calls `f` for every contact (reports, export).
    pub fn for_each_contact(&self, mut f: impl FnMut(Contact)) -> Result<(), StoreError> {
        for row in self.contacts.iter()? {
            let (k, v) = row?;
            f(decode("contacts", &k.value(), v.value())?);
        }
        Ok(())
    }

    /// The earliest scheduled contact time and outbox time, for sleeping until then.
    pub fn next_wakeup(&self) -> Result<Option<Millis>, StoreError> {
        let a = self.schedule.first()?.map(|(k, _)| k.value().0);
        let b = self.outbox.first()?.map(|(k, _)| k.value().0);
        Ok(a.into_iter().chain(b).min().map(|t| t as Millis))
    }

    /// Messages waiting in the outbox (queued or deferred).
    pub fn queue_depth(&self) -> Result<u64, StoreError> {
        Ok(self.outbox.len()?)
    }

    /// How many contacts exist.
    pub fn contact_count(&self) -> Result<u64, StoreError> {
        Ok(self.contacts.len()?)
    }
}

pub(super) fn get_contact(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    email: &str,
) -> Result<Option<Contact>, StoreError> {
    t.get(email)?.map(|v| decode("contacts", &email, v.value())).transpose()
}

pub(super) fn get_suppression(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    email: &str,
) -> Result<Option<Suppression>, StoreError> {
    t.get(email)?.map(|v| decode("suppressions", &email, v.value())).transpose()
}

pub(super) fn get_message(
    t: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> Result<Option<MessageRecord>, StoreError> {
    t.get(id)?.map(|v| decode("messages", &id, v.value())).transpose()
}

pub(super) fn get_blob(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(t.get(key)?.map(|v| v.value().to_vec()))
}

pub(super) fn due_contacts(
    t: &impl ReadableTable<(u64, &'static str), ()>,
    now: Millis,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let end = key_time(now).saturating_add(1);
    let mut out = Vec::new();
    for row in t.range((0u64, "")..(end, ""))?.take(limit) {
        out.push(row?.0.value().1.to_string());
    }
    Ok(out)
}

pub(super) fn ready_messages(
    t: &impl ReadableTable<(u64, u64), ()>,
    now: Millis,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let end = key_time(now).saturating_add(1);
    let mut out = Vec::new();
    for row in t.range((0u64, 0u64)..(end, 0u64))?.take(limit) {
        out.push(row?.0.value().1);
    }
    Ok(out)
}
