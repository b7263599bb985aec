//! JSON encoding of records (events have their own compact form, see
//! [`super::event_codec`]), with decode errors that say where.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own plain structs to a Vec cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: &dyn std::fmt::Display,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_string(),
        detail: e.to_string(),
    })
}

/// The events of the `events` table's row `first`, with their ids (see
/// [`super::event_codec::decode_row`]).
pub fn decode_events(first: u64, bytes: &[u8]) -> Result<Vec<(u64, crate::domain::Event)>, StoreError> {
    super::event_codec::decode_row(first, bytes).map_err(|e| StoreError::Corrupt {
        table: "events",
        key: first.to_string(),
        detail: e.to_string(),
    })
}
