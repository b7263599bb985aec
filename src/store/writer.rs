//! Write access inside one transaction. Every mutation keeps its indexes
//! and counters in step: the schedule follows `Contact::due_at`, the outbox
//! and in-flight sets follow `MessageRecord::state`, the `Message-ID`
//! index follows `MessageRecord::message_id`, counters follow
//! contact states, suppressions, message outcomes and events.

use std::collections::HashMap;

use redb::{ReadableTable, Table, WriteTransaction};

use super::StoreError;
use super::codec::{decode, encode};
use super::records::{HistoryEntry, MessageRecord, MessageState, Reactivation, ReportMarks, SoftBounces};
use super::tables::*;
use crate::clock::Millis;
use crate::domain::{Contact, ContactState, Event, EventKind, Origin, Suppression};

/// The blob that says [`MESSAGE_IDS`] covers every message.
const MESSAGE_ID_INDEX_BUILT: &str = "schema:message-id-index";

/// The tables of one write transaction.
pub struct Writer<'txn> {
    contacts: Table<'txn, &'static str, &'static [u8]>,
    schedule: Table<'txn, (u64, &'static str), ()>,
    /// Schedule changes of this transaction, (due, address) → whether the
    /// entry is there at the end, written in key order by
    /// [`Self::flush_schedule`]: an import moves thousands of contacts to
    /// due times all over the table, and in order they touch each page of
    /// it once instead of once per contact.
    schedule_pending: std::collections::BTreeMap<(u64, String), bool>,
    pub(super) suppressions: Table<'txn, &'static str, &'static [u8]>,
    pub(super) messages: Table<'txn, u64, &'static [u8]>,
    message_ids: Table<'txn, &'static str, u64>,
    outbox: Table<'txn, (u64, u64), ()>,
    inflight: Table<'txn, u64, ()>,
    pub(super) events: Table<'txn, u64, &'static [u8]>,
    event_runs: Table<'txn, (&'static str, u64), u64>,
    /// The run of one contact's events being recorded (written by [`Self::flush`]).
    run: super::event_runs::PendingRun,
    history: Table<'txn, (&'static str, u64), &'static [u8]>,
    pub(super) reactivations: Table<'txn, u64, &'static [u8]>,
    counters: Table<'txn, &'static str, i64>,
    blobs: Table<'txn, &'static str, &'static [u8]>,
    soft_bounces: Table<'txn, &'static str, &'static [u8]>,
    report_marks: Table<'txn, u64, u8>,
    forgotten: Table<'txn, &'static str, i64>,
    pub(super) rollups: Table<'txn, (i64, &'static str), f64>,
    /// Rollup changes of this transaction, by (day, figure), written once
    /// by [`Self::flush`] like the counters.
    rollup_pending: HashMap<String, HashMap<i64, f64>>,
    /// The counter and rollup keys of each kind and origin of event, made
    /// once per transaction rather than once per event.
    event_keys: HashMap<(EventKind, Origin), (String, String)>,
    /// Counter changes of this transaction, written once by [`Self::flush`]:
    /// a bulk import touches the same few counters a million times.
    pending: HashMap<String, i64>,
}

/// Adds `delta` to a pending counter (allocating its key only once).
fn count_into(pending: &mut HashMap<String, i64>, key: &str, delta: i64) {
    match pending.get_mut(key) {
        Some(v) => *v += delta,
        None => {
            pending.insert(key.to_string(), delta);
        }
    }
}

/// Adds `delta` to a pending rollup figure of the day holding `at`.
fn roll_into(pending: &mut HashMap<String, HashMap<i64, f64>>, at: Millis, key: &str, delta: f64) {
    let days = match pending.get_mut(key) {
        Some(days) => days,
        None => pending.entry(key.to_string()).or_default(),
    };
    let v = days.entry(super::rollup::day_of(at)).or_insert(0.0);
    *v = super::rollup::add(*v, delta);
}

/// The ids under one address in a table keyed `(email, id)`.
fn ids_of<V: redb::Value + 'static>(
    t: &Table<'_, (&'static str, u64), V>,
    email: &str,
) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    for row in t.range((email, 0)..=(email, u64::MAX))? {
        out.push(row?.0.value().1);
    }
    Ok(out)
}

/// What [`Writer::erase_person`] found and erased (or anonymised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    /// The contact record.
    pub contact: bool,
    /// Events.
    pub events: usize,
    /// History lines.
    pub history: usize,
    /// The suppression entry (replaced by the keyed hash).
    pub suppression: bool,
    /// Messages kept for the KPIs without the address.
    pub messages: usize,
    /// Reactivations kept for the KPIs without the address.
    pub reactivations: usize,
}

/// Where soft bounces were kept before they had a table of their own.
pub(super) fn legacy_soft_key(email: &str) -> String {
    format!("softbounce:{email}")
}

/// The counter key of a contact state (`contacts:idle`,
/// `contacts:active:SEQ:NEXT`, `contacts:reactivated`, `contacts:sunset`).
pub fn state_key(state: &ContactState) -> String {
    match state {
        ContactState::Idle => "contacts:idle".into(),
        ContactState::Active { sequence, control: true, .. } => format!("contacts:control:{sequence}"),
        ContactState::Active { sequence, next_step, .. } => format!("contacts:active:{sequence}:{next_step}"),
        ContactState::Reactivated { .. } => "contacts:reactivated".into(),
        ContactState::Sunset { .. } => "contacts:sunset".into(),
    }
}

impl<'txn> Writer<'txn> {
    super::reader::shared_reads!();

    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Writer {
            contacts: txn.open_table(CONTACTS)?,
            schedule: txn.open_table(SCHEDULE)?,
            schedule_pending: Default::default(),
            suppressions: txn.open_table(SUPPRESSIONS)?,
            messages: txn.open_table(MESSAGES)?,
            message_ids: txn.open_table(MESSAGE_IDS)?,
            outbox: txn.open_table(OUTBOX)?,
            inflight: txn.open_table(INFLIGHT)?,
            events: txn.open_table(EVENTS)?,
            event_runs: txn.open_table(CONTACT_EVENT_RUNS)?,
            run: Default::default(),
            history: txn.open_table(HISTORY)?,
            reactivations: txn.open_table(REACTIVATIONS)?,
            counters: txn.open_table(COUNTERS)?,
            blobs: txn.open_table(BLOBS)?,
            soft_bounces: txn.open_table(SOFT_BOUNCES)?,
            report_marks: txn.open_table(REPORT_MARKS)?,
            forgotten: txn.open_table(FORGOTTEN)?,
            rollups: txn.open_table(ROLLUPS)?,
            rollup_pending: HashMap::new(),
            event_keys: HashMap::new(),
            pending: HashMap::new(),
        })
    }

    /// Writes the pending counter changes; called before every commit.
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        self.flush_schedule()?;
        self.run.write((&mut self.event_runs, &mut self.events))?;
        for (k, d) in std::mem::take(&mut self.pending) {
            if d != 0 {
                let v = self.counters.get(k.as_str())?.map_or(0, |v| v.value()) + d;
                self.counters.insert(k.as_str(), v)?;
            }
        }
        for (k, days) in std::mem::take(&mut self.rollup_pending) {
            for (day, d) in days {
                if d != 0.0 {
                    let v = super::rollup::add(self.rollups.get((day, k.as_str()))?.map_or(0.0, |v| v.value()), d);
                    self.rollups.insert((day, k.as_str()), v)?;
                }
            }
        }
        Ok(())
    }

    /// Adds `delta` to the figure `key` of the day holding `at` in the
    /// daily rollups ([`super::rollup`]).
    pub fn roll(&mut self, at: Millis, key: &str, delta: f64) {
        roll_into(&mut self.rollup_pending, at, key, delta);
    }

    fn counter(&self, key: &str) -> Result<i64, StoreError> {
        Ok(self.counters.get(key)?.map_or(0, |v| v.value()) + self.pending.get(key).copied().unwrap_or(0))
    }

    /// Opening the writer creates every table; stores written before the
    /// `Message-ID` index existed get it built once here.
    pub(super) fn ensure_tables(&mut self) -> Result<(), StoreError> {
        super::rollup::ensure_built(self)?;
        if self.blob(MESSAGE_ID_INDEX_BUILT)?.is_some() {
            return Ok(());
        }
        for row in self.messages.iter()? {
            let (k, v) = row?;
            let m: MessageRecord = decode("messages", &k.value(), v.value())?;
            if let Some(mid) = &m.message_id {
                self.message_ids.insert(message_id_key(mid).as_str(), m.id)?;
            }
        }
        self.put_blob(MESSAGE_ID_INDEX_BUILT, b"1")
    }

    /// Stores a contact; `old` must be what [`Self::contact`] returned in
    /// this transaction (it tells which index entries and counters to move).
    pub fn put_contact(&mut self, old: Option<&Contact>, new: &Contact) -> Result<(), StoreError> {
        // The schedule entry and the state counters change only when the
        // due time or the state does (a score refresh mostly moves neither).
        let old_due = old.and_then(|o| o.due_at.map(|t| (key_time(t), o.email.as_str())));
        let new_due = new.due_at.map(|t| (key_time(t), new.email.as_str()));
        if old_due != new_due {
            if let Some((t, email)) = old_due {
                self.schedule_pending.insert((t, email.to_string()), false);
            }
            if let Some((t, email)) = new_due {
                self.schedule_pending.insert((t, email.to_string()), true);
            }
        }
        match old {
            Some(o) if o.state == new.state => {}
            Some(o) => {
                self.incr(&state_key(&o.state), -1)?;
                self.incr(&state_key(&new.state), 1)?;
            }
            None => {
                self.incr("contacts:total", 1)?;
                self.incr(&state_key(&new.state), 1)?;
            }
        }
        self.contacts.insert(new.email.as_str(), encode(new).as_slice())?;
        Ok(())
    }

    /// Suppresses an address. An existing suppression is kept (the first
    /// reason stands); returns whether this one was new.
    pub fn suppress(&mut self, s: &Suppression) -> Result<bool, StoreError> {
        if self.suppressions.get(s.email.as_str())?.is_some() {
            return Ok(false);
        }
        self.suppressions.insert(s.email.as_str(), encode(s).as_slice())?;
        self.incr(&format!("suppressed:{}", s.reason), 1)?;
        super::rollup::on_suppression(self, s);
        Ok(true)
    }

    /// Lifts a suppression; returns what it was.
    pub fn unsuppress(&mut self, email: &str) -> Result<Option<Suppression>, StoreError> {
        let Some(old) =
            self.suppressions.remove(email)?.map(|v| decode::<Suppression>("suppressions", &email, v.value()))
        else {
            return Ok(None);
        };
        let old = old?;
        self.incr(&format!("suppressed:{}", old.reason), -1)?;
        Ok(Some(old))
    }

    /// Allocates the next id of a named sequence (`message`, `event`, `history`).
    pub fn next_id(&mut self, name: &str) -> Result<u64, StoreError> {
        let key = format!("id:{name}");
        let next = self.counter(&key)? + 1;
        self.incr(&key, 1)?;
        Ok(next as u64)
    }

    /// Stores a message; `old` as returned by [`Self::message`] in this
    /// transaction. Keeps the outbox, the in-flight set and the outcome
    /// counters in step.
    pub fn put_message(&mut self, old: Option<&MessageRecord>, new: &MessageRecord) -> Result<(), StoreError> {
        if let Some(o) = old {
            if let Some(t) = o.state.ready_at() {
                self.outbox.remove((key_time(t), o.id))?;
            }
            if matches!(o.state, MessageState::Sending { .. }) {
                self.inflight.remove(o.id)?;
            }
        }
        if let Some(t) = new.state.ready_at() {
            self.outbox.insert((key_time(t), new.id), ())?;
        }
        if matches!(new.state, MessageState::Sending { .. }) {
            self.inflight.insert(new.id, ())?;
        }
        let old_mid = old.and_then(|o| o.message_id.as_deref());
        if old_mid != new.message_id.as_deref() {
            if let Some(mid) = old_mid {
                self.message_ids.remove(message_id_key(mid).as_str())?;
            }
            if let Some(mid) = &new.message_id {
                self.message_ids.insert(message_id_key(mid).as_str(), new.id)?;
            }
        }
        let changed = old.is_none_or(|o| o.state.name() != new.state.name());
        if changed && !matches!(new.state, MessageState::Sending { .. }) {
            self.incr(&format!("messages:{}", new.state.name()), 1)?;
            super::rollup::on_message(self, new);
        }
        self.messages.insert(new.id, encode(new).as_slice())?;
        Ok(())
    }

    /// Writes the pending schedule changes, in key order.
    fn flush_schedule(&mut self) -> Result<(), StoreError> {
        for ((t, email), there) in std::mem::take(&mut self.schedule_pending) {
            if there {
                self.schedule.insert((t, email.as_str()), ())?;
            } else {
                self.schedule.remove((t, email.as_str()))?;
            }
        }
        Ok(())
    }

    /// Addresses whose scheduled time is at or before `now`, earliest
    /// first, with this transaction's changes.
    pub fn due_contacts(&mut self, now: Millis, limit: usize) -> Result<Vec<String>, StoreError> {
        self.flush_schedule()?;
        super::reader::due_contacts(&self.schedule, now, limit)
    }

    /// Records an event; returns its id.
    pub fn add_event(&mut self, e: &Event) -> Result<u64, StoreError> {
        let id = self.next_id("event")?;
        self.run.add((&mut self.event_runs, &mut self.events), e, id)?;
        let (count, roll) = self.event_keys.entry((e.kind.clone(), e.origin)).or_insert_with(|| {
            (format!("events:{}:{}", e.kind, e.origin.as_str()), super::rollup::event_key(&e.kind, e.origin))
        });
        count_into(&mut self.pending, count, 1);
        for (figure, v) in super::rollup::event_figures(e, roll) {
            roll_into(&mut self.rollup_pending, e.at, figure, v);
        }
        Ok(id)
    }

    /// Records a reactivation (and counts it per sequence and step).
    pub fn add_reactivation(&mut self, r: &Reactivation) -> Result<(), StoreError> {
        let id = self.next_id("reactivation")?;
        self.reactivations.insert(id, encode(r).as_slice())?;
        let scope = if r.control { "control" } else { "reactivated" };
        self.incr(&format!("kpi:{scope}:{}:{}", r.sequence, r.after_step), 1)?;
        super::rollup::on_reactivation(self, r);
        Ok(())
    }

    /// Appends a line to a contact's history.
    pub fn add_history(&mut self, email: &str, at: Millis, text: impl Into<String>) -> Result<(), StoreError> {
        let id = self.next_id("history")?;
        let entry = HistoryEntry { at, text: text.into() };
        self.history.insert((email, id), encode(&entry).as_slice())?;
        Ok(())
    }

    /// Adds `delta` to a counter.
    pub fn incr(&mut self, key: &str, delta: i64) -> Result<(), StoreError> {
        count_into(&mut self.pending, key, delta);
        Ok(())
    }

    /// Stores a small state blob.
    pub fn put_blob(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.blobs.insert(key, value)?;
        Ok(())
    }

    /// Stores the soft bounces of an address; an empty list removes them.
    pub fn put_soft_bounces(&mut self, email: &str, soft: &SoftBounces) -> Result<(), StoreError> {
        if self.blobs.get(legacy_soft_key(email).as_str())?.is_some() {
            self.blobs.remove(legacy_soft_key(email).as_str())?;
        }
        if soft.entries.is_empty() {
            self.soft_bounces.remove(email)?;
        } else {
            self.soft_bounces.insert(email, encode(soft).as_slice())?;
        }
        Ok(())
    }

    /// The actions reports about a message have taken.
    pub fn report_marks(&self, message: u64) -> Result<ReportMarks, StoreError> {
        Ok(ReportMarks(self.report_marks.get(message)?.map_or(0, |v| v.value())))
    }

    /// Notes that a report about `message` took the action `bit`.
    pub fn mark_report(&mut self, message: u64, bit: u8) -> Result<(), StoreError> {
        let old = self.report_marks(message)?;
        self.report_marks.insert(message, old.0 | bit)?;
        Ok(())
    }

    /// Erases what the store holds about `email`: the contact (its schedule
    /// entry and state count), its events, history, soft bounces and
    /// suppression; its messages and reactivations stay for the KPIs with
    /// the address replaced by `alias` (queued ones are cancelled, their
    /// `Message-ID` and last reply dropped). Then `hash` is remembered.
    pub fn erase_person(&mut self, email: &str, alias: &str, hash: &str, now: Millis) -> Result<Erased, StoreError> {
        let mut n = Erased::default();
        if let Some(c) = self.contact(email)? {
            if let Some(t) = c.due_at {
                self.schedule_pending.insert((key_time(t), email.to_string()), false);
            }
            self.incr(&state_key(&c.state), -1)?;
            self.incr("contacts:total", -1)?;
            self.contacts.remove(email)?;
            n.contact = true;
        }
        self.run.write((&mut self.event_runs, &mut self.events))?;
        n.events = super::event_runs::remove((&mut self.event_runs, &mut self.events), email)?;
        let history = ids_of(&self.history, email)?;
        for id in &history {
            self.history.remove((email, *id))?;
        }
        n.history = history.len();
        self.put_soft_bounces(email, &SoftBounces::default())?;
        n.suppression = self.unsuppress(email)?.is_some();
        n.messages = self.anonymise_messages(email, alias)?;
        n.reactivations = self.anonymise_reactivations(email, alias)?;
        self.forgotten.insert(hash, now)?;
        Ok(n)
    }

    fn anonymise_messages(&mut self, email: &str, alias: &str) -> Result<usize, StoreError> {
        let mut mine = Vec::new();
        for row in self.messages.iter()? {
            let (k, v) = row?;
            let m: MessageRecord = decode("messages", &k.value(), v.value())?;
            if m.email == email {
                mine.push(m);
            }
        }
        for old in &mine {
            let mut new = old.clone();
            new.email = alias.to_string();
            new.message_id = None;
            new.last_reply = None;
            if !new.state.is_final() {
                new.state = MessageState::Cancelled;
            }
            self.put_message(Some(old), &new)?;
        }
        Ok(mine.len())
    }

    fn anonymise_reactivations(&mut self, email: &str, alias: &str) -> Result<usize, StoreError> {
        let mut mine = Vec::new();
        for row in self.reactivations.iter()? {
            let (k, v) = row?;
            let r: Reactivation = decode("reactivations", &k.value(), v.value())?;
            if r.email == email {
                mine.push((k.value(), r));
            }
        }
        for (id, r) in &mine {
            let r = Reactivation { email: alias.to_string(), ..r.clone() };
            self.reactivations.insert(*id, encode(&r).as_slice())?;
        }
        Ok(mine.len())
    }

    /// Removes a small state blob.
    pub fn remove_blob(&mut self, key: &str) -> Result<(), StoreError> {
        self.blobs.remove(key)?;
        Ok(())
    }
}
