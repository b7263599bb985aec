//! Unforgeable opaque tokens.
//!
//! A token names one of our messages (and, for clicks, one link in it) and
//! carries an HMAC-SHA256 tag made with a secret kept in the state
//! directory, so nobody outside can make one up or change one. Tokens are
//! lower-case base32 (no padding): safe in a VERP local part, where some
//! MTAs fold case, and in URLs. They contain no readable address.
//!
//! Layout before encoding: `purpose (1) | message id (8, BE) | extra (2, BE)
//! | tag (10)`; the purpose byte separates VERP, open, click and
//! unsubscribe tokens so one can never stand in for another.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a token is for. Part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// Return path and the `X-Winback-Token` header: bounce/complaint attribution.
    Message = 1,
    /// Open pixel.
    Open = 2,
    /// Click redirect (extra = link index).
    Click = 3,
    /// Unsubscribe (URL and mailto).
    Unsubscribe = 4,
}

/// The decoded content of a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenData {
    /// The message id in the store.
    pub message: u64,
    /// Link index for clicks, 0 otherwise.
    pub extra: u16,
}

/// Errors loading or creating the secret.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The secret file could not be read or written.
    #[error("token secret {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The secret file exists but is too short to be ours.
    #[error(
        "token secret {0} is damaged (shorter than 32 bytes); restore it from backup, or delete it to invalidate every token sent so far"
    )]
    Damaged(String),
}

const TAG_LEN: usize = 10;
const RAW_LEN: usize = 1 + 8 + 2 + TAG_LEN;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The HMAC key.
#[derive(Clone)]
pub struct Keys {
    secret: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Uses a fixed secret (tests, benchmarks).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Keys { secret }
    }

    /// Reads `state_dir/secret`, creating it (mode 0600) on first use.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, TokenError> {
        let path = state_dir.join("secret");
        let io = |source| TokenError::Io { path: path.display().to_string(), source };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let secret: [u8; 32] = bytes
                    .get(..32)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| TokenError::Damaged(path.display().to_string()))?;
                Ok(Keys { secret })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::fsmode::create_dir_all(state_dir).map_err(io)?;
                let secret: [u8; 32] = rand::random();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&path).map_err(io)?;
                f.write_all(&secret).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(Keys { secret })
            }
            Err(e) => Err(io(e)),
        }
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    /// Makes a token.
    pub fn sign(&self, purpose: Purpose, message: u64, extra: u16) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[0] = purpose as u8;
        raw[1..9].copy_from_slice(&message.to_be_bytes());
        raw[9..11].copy_from_slice(&extra.to_be_bytes());
        let tag = self.tag(&raw[..11]);
        raw[11..].copy_from_slice(&tag);
        base32(&raw)
    }

    /// Checks a token for a purpose; `None` for anything forged, truncated,
    /// altered or made for another purpose. Case-insensitive.
    pub fn verify(&self, purpose: Purpose, token: &str) -> Option<TokenData> {
        let raw = unbase32(token)?;
        if raw.len() != RAW_LEN || raw[0] != purpose as u8 {
            return None;
        }
        let expect = self.tag(&raw[..11]);
        // Constant-time comparison: no early exit on the first differing byte.
        let diff = expect.iter().zip(&raw[11..]).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return None;
        }
        Some(TokenData {
            message: u64::from_be_bytes(raw[1..9].try_into().ok()?),
            extra: u16::from_be_bytes(raw[9..11].try_into().ok()?),
        })
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    if s.len() > 64 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_secret([7; 32])
    }

    #[test]
    fn round_trip_and_case_folding() {
        let k = keys();
        let t = k.sign(Purpose::Click, 123_456_789, 4);
        assert_eq!(t.len(), 34);
        assert!(t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_eq!(k.verify(Purpose::Click, &t), Some(TokenData { message: 123_456_789, extra: 4 }));
        assert_eq!(
            k.verify(Purpose::Click, &t.to_ascii_uppercase()),
            Some(TokenData { message: 123_456_789, extra: 4 })
        );
    }

    #[test]
    fn forged_truncated_and_cross_purpose_tokens_fail() {
        let k = keys();
        let t = k.sign(Purpose::Message, 42, 0);
        assert_eq!(k.verify(Purpose::Open, &t), None, "purpose is bound");
        assert_eq!(k.verify(Purpose::Message, &t[..t.len() - 1]), None, "truncated");
        let mut forged = t.clone().into_bytes();
        forged[5] = if forged[5] == b'a' { b'b' } else { b'a' };
        assert_eq!(k.verify(Purpose::Message, std::str::from_utf8(&forged).unwrap()), None, "altered");
        assert_eq!(Keys::from_secret([8; 32]).verify(Purpose::Message, &t), None, "other secret");
        assert_eq!(k.verify(Purpose::Message, "not a token!"), None);
        assert_eq!(k.verify(Purpose::Message, ""), None);
    }

    #[test]
    fn secret_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load_or_create(dir.path()).unwrap();
        let b = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!(a.sign(Purpose::Open, 1, 0), b.sign(Purpose::Open, 1, 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("secret"), b"short").unwrap();
        assert!(matches!(Keys::load_or_create(dir.path()), Err(TokenError::Damaged(_))));
    }
}
