//! Tests of the signed tokens: round trips, forgery, expiry and key
//! rotation.

use super::*;

fn keys() -> Keys {
    Keys::from_secret([7; 32])
}

const DAY: Millis = 86_400_000;
const T0: Millis = 1_750_000_000_000;

fn open_at(dir: &Path, overlap_days: u64, now: Millis) -> Keys {
    let cfg = TokensConfig { key_overlap: std::time::Duration::from_secs(overlap_days * 86_400) };
    Keys::open(dir, &cfg, Clock::starting_at(now)).unwrap()
}

/// Every other spelling of `t` that a lenient decoder would read as the
/// same bytes or a prefix of them.
fn respellings(t: &str) -> Vec<String> {
    let last = t.as_bytes()[t.len() - 1];
    let pos = ALPHABET.iter().position(|&a| a == last).unwrap();
    let mut out: Vec<String> = (0..32)
        .filter(|&v| v != pos && v >> 2 == pos >> 2)
        .map(|v| format!("{}{}", &t[..t.len() - 1], ALPHABET[v] as char))
        .collect();
    out.extend(["a", "q", "7"].map(|c| format!("{t}{c}")));
    out.push(t[..t.len() - 1].to_string());
    out.push(t.to_ascii_uppercase());
    out.push(format!("{}{}", t[..1].to_ascii_uppercase(), &t[1..]));
    out.push(format!(" {t}"));
    out
}

#[test]
fn round_trip_lower_case_only() {
    let k = keys();
    let t = k.sign(Purpose::Click, 123_456_789, 4);
    assert_eq!(t.len(), 34);
    assert!(t.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    assert_eq!(k.verify(Purpose::Click, &t), Some(TokenData { message: 123_456_789, extra: 4 }));
    assert_eq!(k.verify(Purpose::Click, &t.to_ascii_uppercase()), None, "upper case is another spelling");
}

#[test]
fn only_the_canonical_spelling_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let k = open_at(dir.path(), 365, T0);
    let legacy = k.sign(Purpose::Unsubscribe, 42, 0);
    k.rotate().unwrap();
    let keyed = k.sign(Purpose::Unsubscribe, 42, 0);
    assert_eq!((legacy.len(), keyed.len()), (34, 37));
    for t in [legacy, keyed] {
        assert!(k.verify(Purpose::Unsubscribe, &t).is_some());
        let others = respellings(&t);
        assert!(others.len() >= 8, "{others:?}");
        for other in others {
            assert_eq!(k.verify(Purpose::Unsubscribe, &other), None, "{other} (from {t})");
        }
    }
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
    assert_eq!(k.verify(Purpose::Message, &"é".repeat(17)), None);
}

#[test]
fn a_retired_key_verifies_for_the_overlap_and_not_after() {
    let dir = tempfile::tempdir().unwrap();
    let k = open_at(dir.path(), 30, T0);
    let old = k.sign(Purpose::Unsubscribe, 7, 0);
    let info = k.rotate().unwrap();
    assert_eq!((info.id, info.signing), (1, true));
    // The clock runs on from T0: the retirement is a moment after it.
    let retired = k.list()[0].retired.expect("key 0 retired");
    assert!((T0..T0 + 60_000).contains(&retired));
    let new = k.sign(Purpose::Unsubscribe, 7, 0);
    assert_ne!(old, new);
    for t in [&old, &new] {
        assert_eq!(k.verify(Purpose::Unsubscribe, t).map(|d| d.message), Some(7));
    }
    // The same state directory read later, by a daemon with another clock.
    let later = open_at(dir.path(), 30, retired + 30 * DAY - 60_000);
    assert!(later.verify(Purpose::Unsubscribe, &old).is_some(), "last minute of the overlap");
    let after = open_at(dir.path(), 30, retired + 30 * DAY);
    assert_eq!(after.verify(Purpose::Unsubscribe, &old), None, "overlap over");
    assert!(after.verify(Purpose::Unsubscribe, &new).is_some());
    let list = after.list();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].id, list[0].retired, list[0].verifies_until, list[0].expired),
        (0, Some(retired), Some(retired + 30 * DAY), true)
    );
    assert!(list[1].signing && !list[1].expired && list[1].retired.is_none());
    // Zero overlap revokes the retired key at once.
    assert_eq!(open_at(dir.path(), 0, retired).verify(Purpose::Unsubscribe, &old), None);
}

#[test]
fn a_key_id_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let k = open_at(dir.path(), 365, T0);
    k.rotate().unwrap();
    let t1 = k.sign(Purpose::Open, 9, 0);
    k.rotate().unwrap();
    let t2 = k.sign(Purpose::Open, 9, 0);
    assert!(k.verify(Purpose::Open, &t1).is_some() && k.verify(Purpose::Open, &t2).is_some());
    // A token claiming key 0 in the long layout is refused even with a good tag.
    let mut raw = vec![Purpose::Open as u8, 0, 0];
    raw.extend_from_slice(&9u64.to_be_bytes());
    raw.extend_from_slice(&0u16.to_be_bytes());
    let secret = k.ring()[0].secret;
    raw.extend_from_slice(&tag(&secret, &raw.clone()));
    assert_eq!(k.verify(Purpose::Open, &base32(&raw)), None);
    assert_eq!(k.list().iter().map(|i| i.id).collect::<Vec<_>>(), [0, 1, 2]);
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
        a.rotate().unwrap();
        let mode = std::fs::metadata(dir.path().join("keys")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(dir.path().join("secret"), b"short").unwrap();
    assert!(matches!(Keys::load_or_create(dir.path()), Err(TokenError::Damaged(_))));
}

#[cfg(unix)]
#[test]
fn readable_secret_files_are_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let k = Keys::load_or_create(dir.path()).unwrap();
    k.rotate().unwrap();
    for name in ["secret", "keys"] {
        let p = dir.path().join(name);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Keys::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(e, TokenError::Exposed { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains(&format!("chmod 600 {}", p.display())), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(Keys::load_or_create(dir.path()).is_err(), "group-readable");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Keys::load_or_create(dir.path()).is_ok());
    }
}

#[test]
fn a_damaged_keys_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    Keys::load_or_create(dir.path()).unwrap().rotate().unwrap();
    let p = dir.path().join("keys");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace(" - ", " x ")).unwrap();
    match Keys::load_or_create(dir.path()) {
        Err(TokenError::KeysFile { line: 4, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(Keys::from_secret([1; 32]).rotate(), Err(TokenError::NotOnDisk)));
    std::fs::remove_file(dir.path().join("secret")).unwrap();
    let e = Keys::load_or_create(dir.path()).unwrap_err();
    assert!(e.to_string().contains("restore it from backup"), "not silently replaced: {e}");
}
