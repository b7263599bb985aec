//! The compact binary form of an [`Event`]: how the `events` table stores
//! them, and how a bulk import spills them to disk while it sorts.
//!
//! An order history is most of what a store holds, so an event costs a
//! few bytes more than its strings, not a JSON object: a tag byte, the
//! address, the kind as one byte (or its name), the time, the origin, a
//! flags byte and whichever of value, reference and message it has.
//! Events written as JSON before this form existed still read: JSON starts
//! with `{`, never with the tag.
//!
//! The table keeps a contact's events recorded one after another (a run,
//! see [`super::event_runs`]) in one row, a *chunk*, under the id of the
//! first: a chunk tag, the address once, the number of events, then each
//! event without tag and address. An order history of ten orders per
//! customer is then one row per customer, not ten. Rows of one event
//! (binary or JSON) still read.

use crate::domain::{Event, EventKind, Origin};

/// First byte of the binary form (JSON starts with `{`).
const TAG: u8 = 0xE1;
/// First byte of a chunk: several events of one address.
const CHUNK: u8 = 0xE2;
/// Kind byte of an application event: its name follows.
const APP: u8 = 0xFF;
const HAS_VALUE: u8 = 1;
const HAS_REF: u8 = 2;
const HAS_MESSAGE: u8 = 4;

/// Why bytes are not an event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventCodecError {
    /// The bytes end before the event does.
    #[error("event record ends early (byte {0})")]
    Short(usize),
    /// A byte that no event has there.
    #[error("event record: unknown {what} byte {byte:#04x}")]
    Unknown {
        /// Which field.
        what: &'static str,
        /// The byte.
        byte: u8,
    },
    /// A string that is not UTF-8.
    #[error("event record: a string is not UTF-8")]
    Utf8,
    /// Bytes after the last event of a chunk.
    #[error("event record: bytes after the last event (byte {0})")]
    Trailing(usize),
    /// A chunk that holds no event.
    #[error("event record: empty chunk")]
    Empty,
    /// The JSON form did not decode.
    #[error("event record: {0}")]
    Json(String),
}

/// Appends the binary form of `e` to `out`.
pub fn encode_into(e: &Event, out: &mut Vec<u8>) {
    out.push(TAG);
    put_str(out, &e.email);
    encode_body(e, out);
}

/// A chunk (see the module doc) of the `count` events of `email` whose
/// [`encode_body`] forms are `bodies`.
pub fn chunk(email: &str, count: usize, bodies: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + email.len() + bodies.len());
    out.push(CHUNK);
    put_str(&mut out, email);
    put_len(&mut out, count);
    out.extend_from_slice(bodies);
    out
}

/// Appends an event without tag and address: as a part of a chunk.
pub fn encode_body(e: &Event, out: &mut Vec<u8>) {
    match EventKind::BUILT_IN.iter().position(|k| *k == e.kind) {
        // BUILT_IN has 12 entries: the position fits a byte.
        Some(i) => out.push(i as u8),
        None => {
            out.push(APP);
            put_str(out, e.kind.as_str());
        }
    }
    out.extend_from_slice(&e.at.to_le_bytes());
    out.push(match e.origin {
        Origin::Human => 0,
        Origin::Machine => 1,
        Origin::Unknown => 2,
    });
    let flags = [(e.value.is_some(), HAS_VALUE), (e.reference.is_some(), HAS_REF), (e.message.is_some(), HAS_MESSAGE)]
        .into_iter()
        .filter(|(has, _)| *has)
        .fold(0, |f, (_, bit)| f | bit);
    out.push(flags);
    if let Some(v) = e.value {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(r) = &e.reference {
        put_str(out, r);
    }
    if let Some(m) = e.message {
        out.extend_from_slice(&m.to_le_bytes());
    }
}

/// The binary form of `e`.
pub fn encode(e: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + e.email.len());
    encode_into(e, &mut out);
    out
}

/// An event from its binary form or from the JSON of older stores.
pub fn decode(bytes: &[u8]) -> Result<Event, EventCodecError> {
    match bytes.first() {
        Some(&TAG) => Cursor { bytes, at: 1 }.event(),
        _ => serde_json::from_slice(bytes).map_err(|e| EventCodecError::Json(e.to_string())),
    }
}

/// The events of a row of the `events` table stored under id `first`,
/// with their ids: a chunk, or one event (binary or JSON).
pub fn decode_row(first: u64, bytes: &[u8]) -> Result<Vec<(u64, Event)>, EventCodecError> {
    if bytes.first() != Some(&CHUNK) {
        return Ok(vec![(first, decode(bytes)?)]);
    }
    let mut c = Cursor { bytes, at: 1 };
    let email = c.string()?;
    let count = c.len()?;
    if count == 0 {
        return Err(EventCodecError::Empty);
    }
    let mut out = Vec::with_capacity(count.min(bytes.len()));
    for id in (first..).take(count) {
        out.push((id, c.body(email.clone())?));
    }
    if c.at != bytes.len() {
        return Err(EventCodecError::Trailing(c.at));
    }
    Ok(out)
}

/// Reads the fields in the order [`encode_into`] writes them.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn event(mut self) -> Result<Event, EventCodecError> {
        let email = self.string()?;
        self.body(email)
    }

    fn body(&mut self, email: String) -> Result<Event, EventCodecError> {
        let kind = match self.byte()? {
            APP => EventKind::App(self.string()?),
            i => EventKind::BUILT_IN
                .get(usize::from(i))
                .cloned()
                .ok_or(EventCodecError::Unknown { what: "kind", byte: i })?,
        };
        let at = i64::from_le_bytes(self.array()?);
        let origin = match self.byte()? {
            0 => Origin::Human,
            1 => Origin::Machine,
            2 => Origin::Unknown,
            b => return Err(EventCodecError::Unknown { what: "origin", byte: b }),
        };
        let flags = self.byte()?;
        if flags & !(HAS_VALUE | HAS_REF | HAS_MESSAGE) != 0 {
            return Err(EventCodecError::Unknown { what: "flags", byte: flags });
        }
        let value = (flags & HAS_VALUE != 0).then(|| self.array().map(f64::from_le_bytes)).transpose()?;
        let reference = (flags & HAS_REF != 0).then(|| self.string()).transpose()?;
        let message = (flags & HAS_MESSAGE != 0).then(|| self.array().map(u64::from_le_bytes)).transpose()?;
        Ok(Event { email, kind, at, origin, value, reference, message })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], EventCodecError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(EventCodecError::Short(self.at))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, EventCodecError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EventCodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len(&mut self) -> Result<usize, EventCodecError> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(EventCodecError::Unknown { what: "length", byte: 0xff })
    }

    fn string(&mut self) -> Result<String, EventCodecError> {
        let n = self.len()?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| EventCodecError::Utf8)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// A length as 7-bit groups, low first.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Event {
        Event {
            email: "anna@example.org".into(),
            kind: EventKind::Purchase,
            at: -5,
            origin: Origin::Machine,
            value: Some(12.5),
            reference: Some("ä".repeat(200)),
            message: Some(u64::MAX),
        }
    }

    #[test]
    fn every_field_and_kind_round_trips() {
        let mut kinds = EventKind::BUILT_IN.to_vec();
        kinds.push(EventKind::App("webinar_joined".into()));
        for kind in kinds {
            let e = Event { kind, ..full() };
            assert_eq!(decode(&encode(&e)).unwrap(), e);
        }
        let bare = Event::new("b@example.org", EventKind::Open, 1_700_000_000_000);
        assert_eq!(decode(&encode(&bare)).unwrap(), bare);
        // 1 tag + 1 length + 13 address + kind + 8 time + origin + flags.
        assert_eq!(encode(&bare).len(), 26);
    }

    #[test]
    fn chunks_round_trip_and_damage_is_an_error() {
        let events = [
            full(),
            Event::new("anna@example.org", EventKind::Open, 3),
            Event::new("anna@example.org", EventKind::App("webinar_joined".into()), 4),
        ];
        let mut bodies = Vec::new();
        for e in &events {
            encode_body(e, &mut bodies);
        }
        let row = chunk("anna@example.org", events.len(), &bodies);
        let back = decode_row(40, &row).unwrap();
        assert_eq!(back.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [40, 41, 42]);
        assert_eq!(back.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), events);
        for cut in 0..row.len() {
            assert!(decode_row(1, &row[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = row.clone();
        longer.push(0);
        assert_eq!(decode_row(1, &longer), Err(EventCodecError::Trailing(row.len())));
        assert_eq!(decode_row(1, &chunk("a@b.org", 0, &[])), Err(EventCodecError::Empty));
        // A row of one event, as stores before chunks have them.
        assert_eq!(decode_row(9, &encode(&events[1])).unwrap(), vec![(9, events[1].clone())]);
    }

    #[test]
    fn json_of_older_stores_still_reads() {
        let e = full();
        assert_eq!(decode(&serde_json::to_vec(&e).unwrap()).unwrap(), e);
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let bytes = encode(&full());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_kind = encode(&Event::new("b@x.org", EventKind::Open, 0));
        bad_kind[9] = 0x40;
        assert_eq!(decode(&bad_kind), Err(EventCodecError::Unknown { what: "kind", byte: 0x40 }));
        let mut bad_utf8 = encode(&Event::new("b@x.org", EventKind::Open, 0));
        bad_utf8[2] = 0xff;
        assert_eq!(decode(&bad_utf8), Err(EventCodecError::Utf8));
    }
}
