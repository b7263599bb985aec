//! Address syntax and normalization (interim: lower-cases and checks for
//! one `@`; the full RFC 5321/5322 check replaces it).

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

/// Trims and lower-cases an address after a minimal syntax check.
pub fn normalize(raw: &str) -> Result<String, AddressError> {
    let t = raw.trim();
    match t.split_once('@') {
        Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@') => Ok(t.to_ascii_lowercase()),
        _ => Err(AddressError("not an address: expected local@domain".into())),
    }
}
