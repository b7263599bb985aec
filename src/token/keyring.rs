//! The signing keys on disk, in the state directory:
//!
//! - `secret`: 32 random bytes, key 0. Every install has it; tokens made
//!   before key rotation existed were signed with it and keep verifying.
//! - `keys`: written by the first `winback keys rotate`, one key a line:
//!   `id created retired secret`, times in milliseconds since the epoch,
//!   `-` for "not retired", and `-` as key 0's secret (it stays in
//!   `secret`). The last key is the one that signs.
//!
//! Both files are private (mode 0600): a secret file that the group or
//! others may read is refused, with the `chmod` that fixes it. The `keys`
//! file is replaced atomically (written aside, synced, renamed).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::TokenError;
use crate::clock::Millis;

/// The file holding key 0.
pub const SECRET_FILE: &str = "secret";
/// The file listing every key once keys have been rotated.
pub const KEYS_FILE: &str = "keys";

/// One signing key.
#[derive(Clone)]
pub(super) struct Key {
    pub id: u16,
    pub created: Millis,
    /// When a newer key took over signing.
    pub retired: Option<Millis>,
    pub secret: [u8; 32],
}

impl Key {
    /// Whether tokens made with this key still verify at `now`.
    pub fn verifies_at(&self, now: Millis, overlap: Millis) -> bool {
        self.retired.is_none_or(|r| now < r.saturating_add(overlap))
    }
}

/// Reads the keys of `dir`, creating key 0 on first use. Sorted by id;
/// the last one signs.
pub(super) fn load(dir: &Path, now: Millis) -> Result<Vec<Key>, TokenError> {
    let secret_path = dir.join(SECRET_FILE);
    let (secret, created) = match read_private(&secret_path)? {
        Some((bytes, mtime)) => {
            let secret: [u8; 32] = bytes
                .get(..32)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| TokenError::Damaged(secret_path.display().to_string()))?;
            (secret, mtime)
        }
        // Key 0 is made on first use only: with a `keys` file it existed.
        None if dir.join(KEYS_FILE).exists() => {
            return Err(TokenError::Io {
                path: secret_path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "missing while the `keys` file exists; restore it from backup",
                ),
            });
        }
        None => (create_secret(dir, &secret_path)?, now),
    };
    let keys_path = dir.join(KEYS_FILE);
    match read_private(&keys_path)? {
        None => Ok(vec![Key { id: 0, created, retired: None, secret }]),
        Some((bytes, _)) => parse(&keys_path, &String::from_utf8_lossy(&bytes), secret),
    }
}

/// Writes the `keys` file (aside, synced, renamed into place, mode 0600).
pub(super) fn save(dir: &Path, keys: &[Key]) -> Result<(), TokenError> {
    let path = dir.join(KEYS_FILE);
    let mut text = String::from(
        "# winback token signing keys; keep private (chmod 600). One key a line:\n# id created-ms retired-ms|- secret-hex|- (key 0's secret is in the file `secret`)\n",
    );
    for k in keys {
        let retired = k.retired.map_or_else(|| "-".to_string(), |r| r.to_string());
        let secret = if k.id == 0 { "-".to_string() } else { hex(&k.secret) };
        let _ = writeln!(text, "{} {} {retired} {secret}", k.id, k.created);
    }
    let aside = dir.join(format!("{KEYS_FILE}.new"));
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| TokenError::Io { path, source }
    };
    let _ = std::fs::remove_file(&aside);
    let mut f = private_file(&aside).map_err(io(&aside))?;
    f.write_all(text.as_bytes()).map_err(io(&aside))?;
    f.sync_all().map_err(io(&aside))?;
    std::fs::rename(&aside, &path).map_err(io(&path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Opens a new file for writing, mode 0600 whatever the umask.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    crate::fsmode::options().write(true).create_new(true).open(path)
}

fn create_secret(dir: &Path, path: &Path) -> Result<[u8; 32], TokenError> {
    let io = |source| TokenError::Io { path: path.display().to_string(), source };
    crate::fsmode::create_dir_all(dir).map_err(io)?;
    let secret: [u8; 32] = rand::random();
    let mut f = private_file(path).map_err(io)?;
    f.write_all(&secret).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(secret)
}

/// The content and modification time of a private file; `None` when it
/// does not exist; an error when the group or others may read it.
fn read_private(path: &Path) -> Result<Option<(Vec<u8>, Millis)>, TokenError> {
    let io = |source| TokenError::Io { path: path.display().to_string(), source };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenError::Exposed { path: path.display().to_string(), mode });
        }
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as Millis);
    Ok(Some((std::fs::read(path).map_err(io)?, mtime)))
}

fn parse(path: &Path, text: &str, secret0: [u8; 32]) -> Result<Vec<Key>, TokenError> {
    let mut keys: Vec<Key> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |message: &str| TokenError::KeysFile {
            path: path.display().to_string(),
            line: i + 1,
            message: message.to_string(),
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let [id, created, retired, secret] = f[..] else {
            return Err(bad("expected four fields: id created retired secret"));
        };
        let id: u16 = id.parse().map_err(|_| bad("the id is not a number from 0 to 65535"))?;
        let created: Millis = created.parse().map_err(|_| bad("the creation time is not a number"))?;
        let retired = match retired {
            "-" => None,
            r => Some(r.parse().map_err(|_| bad("the retirement time is neither `-` nor a number"))?),
        };
        let secret = match (id, secret) {
            (0, "-") => secret0,
            (0, _) => return Err(bad("key 0's secret is the file `secret`; write `-`")),
            (_, s) => unhex(s).ok_or_else(|| bad("the secret is not 64 hex digits"))?,
        };
        if keys.last().is_some_and(|k| k.id >= id) {
            return Err(bad("ids must increase from line to line"));
        }
        keys.push(Key { id, created, retired, secret });
    }
    match keys.last() {
        None => Err(TokenError::KeysFile { path: path.display().to_string(), line: 0, message: "no keys".into() }),
        Some(k) if k.retired.is_some() => Err(TokenError::KeysFile {
            path: path.display().to_string(),
            line: 0,
            message: "the last key signs and cannot be retired; write `-` as its retirement time".into(),
        }),
        Some(_) => Ok(keys),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
