//! Unforgeable opaque tokens, and the keys that sign them.
//!
//! A token names one of our messages (and, for clicks, one link in it) and
//! carries an HMAC-SHA256 tag made with a secret kept in the state
//! directory, so nobody outside can make one up or change one. They contain
//! no readable address.
//!
//! Layouts before encoding:
//! - key 0 (the original `secret` file): `purpose (1) | message id (8, BE)
//!   | extra (2, BE) | tag (10)`, 34 characters;
//! - keys 1 and up (after `winback keys rotate`): `purpose (1) | key id
//!   (2, BE) | message id (8, BE) | extra (2, BE) | tag (10)`, 37 characters.
//!
//! The tag covers everything before it; the purpose byte separates VERP,
//! open, click and unsubscribe tokens so one can never stand in for another.
//!
//! **One spelling.** Tokens are lower-case base32 without padding, and only
//! the exact encoding [`Keys::sign`] produces verifies: no upper case, no
//! extra or missing character, no set spare bits in the last character.
//! Lower case keeps tokens safe in a VERP local part, where some MTAs fold
//! case: the bounce side lower-cases the local part it reads
//! (`bounce::origin::tagged_token`) before verifying, which is the one
//! place a case-folded token is accepted.
//!
//! **Keys.** The last key signs; a key retired by a rotation keeps
//! verifying for `[tokens] key_overlap` ([`config`]), so links in mail sent
//! before the rotation keep working. The files are described in [`keyring`].

pub mod config;
pub mod keyring;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use self::config::TokensConfig;
use self::keyring::Key;
use crate::clock::{Clock, Millis};

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
    /// The reasons-for-leaving survey page.
    Survey = 5,
}

/// The decoded content of a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenData {
    /// The message id in the store.
    pub message: u64,
    /// Link index for clicks, 0 otherwise.
    pub extra: u16,
}

/// Errors loading, creating or rotating the keys.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A key file could not be read or written.
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
    /// A key file may be read by the group or others.
    #[error(
        "token secret {path} has mode {mode:03o}: the group or others may read it and forge tokens; run `chmod 600 {path}` (and consider `winback keys rotate`)"
    )]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The `keys` file cannot be understood.
    #[error("token keys {path} line {line}: {message}; restore the file from backup")]
    KeysFile {
        /// The file.
        path: String,
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Keys that live in memory only (tests) cannot be rotated.
    #[error("these keys have no state directory to write a new key to")]
    NotOnDisk,
    /// Every key id is used.
    #[error("all 65535 key ids are used")]
    Exhausted,
}

/// One key as operators see it (`winback keys list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key id (0: the original `secret` file).
    pub id: u16,
    /// When it was made (ms since the epoch; key 0: the secret file's mtime).
    pub created: Millis,
    /// When a newer key took over signing.
    pub retired: Option<Millis>,
    /// Until when its tokens verify; `None` while it signs.
    pub verifies_until: Option<Millis>,
    /// Whether it signs new tokens.
    pub signing: bool,
    /// Whether its tokens no longer verify.
    pub expired: bool,
}

const TAG_LEN: usize = 10;
const LEGACY_LEN: usize = 1 + 8 + 2 + TAG_LEN;
const KEYED_LEN: usize = 1 + 2 + 8 + 2 + TAG_LEN;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The signing keys. Clones share them: a rotation through one handle
/// (the admin socket) is seen by every part of the daemon.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    ring: RwLock<Vec<Key>>,
    overlap: Millis,
    clock: Clock,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Uses a fixed secret as key 0, in memory only (tests, benchmarks).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let key = Key { id: 0, created: 0, retired: None, secret };
        Self::new(vec![key], TokensConfig::default(), Clock::system(), None)
    }

    /// Reads the keys of `state_dir` (creating key 0 on first use) with the
    /// default `[tokens]` settings and the system clock.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, TokenError> {
        Self::open(state_dir, &TokensConfig::default(), Clock::system())
    }

    /// Reads the keys of `state_dir`, creating key 0 (mode 0600) on first
    /// use; `clock` decides when retired keys stop verifying.
    pub fn open(state_dir: &Path, cfg: &TokensConfig, clock: Clock) -> Result<Self, TokenError> {
        let keys = keyring::load(state_dir, clock.now())?;
        Ok(Self::new(keys, *cfg, clock, Some(state_dir.to_path_buf())))
    }

    fn new(keys: Vec<Key>, cfg: TokensConfig, clock: Clock, dir: Option<PathBuf>) -> Self {
        let overlap = crate::clock::ms(cfg.key_overlap);
        Keys { inner: Arc::new(Inner { ring: RwLock::new(keys), overlap, clock, dir }) }
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Vec<Key>> {
        self.inner.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new signing key; the one signing until now is retired and
    /// keeps verifying for the overlap. Written to disk before it is used.
    pub fn rotate(&self) -> Result<KeyInfo, TokenError> {
        let dir = self.inner.dir.as_deref().ok_or(TokenError::NotOnDisk)?;
        let mut ring = self.inner.ring.write().unwrap_or_else(|e| e.into_inner());
        let now = self.inner.clock.now();
        let mut next = ring.clone();
        let id = next.last().map_or(Some(1), |k| k.id.checked_add(1)).ok_or(TokenError::Exhausted)?;
        if let Some(k) = next.last_mut() {
            k.retired = Some(now);
        }
        next.push(Key { id, created: now, retired: None, secret: rand::random() });
        keyring::save(dir, &next)?;
        *ring = next;
        Ok(self.info(ring.last().expect("just pushed"), true, now))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        let now = self.inner.clock.now();
        let ring = self.ring();
        let last = ring.len().saturating_sub(1);
        ring.iter().enumerate().map(|(i, k)| self.info(k, i == last, now)).collect()
    }

    fn info(&self, k: &Key, signing: bool, now: Millis) -> KeyInfo {
        KeyInfo {
            id: k.id,
            created: k.created,
            retired: k.retired,
            verifies_until: k.retired.map(|r| r.saturating_add(self.inner.overlap)),
            signing,
            expired: !k.verifies_at(now, self.inner.overlap),
        }
    }

    /// Makes a token with the signing key.
    pub fn sign(&self, purpose: Purpose, message: u64, extra: u16) -> String {
        let ring = self.ring();
        let key = ring.last().expect("a key ring is never empty");
        let mut raw = Vec::with_capacity(KEYED_LEN);
        raw.push(purpose as u8);
        if key.id != 0 {
            raw.extend_from_slice(&key.id.to_be_bytes());
        }
        raw.extend_from_slice(&message.to_be_bytes());
        raw.extend_from_slice(&extra.to_be_bytes());
        let tag = tag(&key.secret, &raw);
        raw.extend_from_slice(&tag);
        base32(&raw)
    }

    /// Checks a token for a purpose; `None` for anything forged, truncated,
    /// altered, made for another purpose, signed by a key past its overlap,
    /// or not spelled exactly as [`Keys::sign`] spells it.
    pub fn verify(&self, purpose: Purpose, token: &str) -> Option<TokenData> {
        let raw = decode_canonical(token)?;
        let (key_id, body) = match raw.len() {
            LEGACY_LEN => (0, 1),
            _ => (u16::from_be_bytes([raw[1], raw[2]]), 3),
        };
        // Key 0 makes only the short layout: one spelling per token.
        if raw[0] != purpose as u8 || (raw.len() == KEYED_LEN && key_id == 0) {
            return None;
        }
        let now = self.inner.clock.now();
        let ring = self.ring();
        let key = ring.iter().find(|k| k.id == key_id && k.verifies_at(now, self.inner.overlap))?;
        let (signed, given) = raw.split_at(raw.len() - TAG_LEN);
        let expect = tag(&key.secret, signed);
        // Constant-time comparison: no early exit on the first differing byte.
        let diff = expect.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return None;
        }
        Some(TokenData {
            message: u64::from_be_bytes(raw[body..body + 8].try_into().ok()?),
            extra: u16::from_be_bytes(raw[body + 8..body + 10].try_into().ok()?),
        })
    }
}

fn tag(secret: &[u8; 32], body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
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

/// The bytes of a token of one of the two layouts, only when `s` is
/// exactly their encoding (so re-encoding gives `s` back).
fn decode_canonical(s: &str) -> Option<Vec<u8>> {
    let len = [LEGACY_LEN, KEYED_LEN].into_iter().find(|&n| encoded_len(n) == s.len())?;
    let mut out = Vec::with_capacity(len);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    (out.len() == len && base32(&out) == s).then_some(out)
}

#[cfg(test)]
mod tests;
