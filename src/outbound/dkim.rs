//! DKIM signing set-up: turns the `[dkim]` PEM key into lettre's signer.
//!
//! lettre takes RSA keys only as PKCS#1 PEM and Ed25519 keys only as the
//! base64 of the raw 32-byte seed, while `openssl genpkey` writes PKCS#8.
//! This module reads both PEM forms for RSA (`BEGIN RSA PRIVATE KEY`,
//! `BEGIN PRIVATE KEY`) and PKCS#8 for Ed25519, with a minimal DER walk
//! (PrivateKeyInfo → algorithm OID → inner key), so no extra crypto crate
//! is needed.
//!
//! Signatures use relaxed/relaxed canonicalization and cover every header
//! a receiver or a list-unsubscribe agent relies on (RFC 8058 asks that
//! `List-Unsubscribe` and `List-Unsubscribe-Post` be signed). The
//! top-level `Content-Type` is not in the list: lettre keeps it with the
//! multipart body rather than in the header map it signs, so naming it
//! would produce signatures that fail (the body hash covers the parts).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig as Signer, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;

use crate::config::DkimConfig;

/// Headers covered by the signature.
pub const SIGNED_HEADERS: [&str; 11] = [
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "X-Winback-Token",
];

/// DER OID content of rsaEncryption (1.2.840.113549.1.1.1).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER OID content of Ed25519 (1.3.101.112).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Why the key cannot be used; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[dkim] private_key_file: {0}")]
pub struct DkimKeyError(pub String);

/// Builds the signer for `[dkim]`.
pub fn signer(cfg: &DkimConfig) -> Result<Signer, DkimKeyError> {
    let key = signing_key(&cfg.private_key_pem)?;
    let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
    let canon =
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    Ok(Signer::new(cfg.selector.clone(), cfg.domain.clone(), key, headers, canon))
}

/// Reads an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) PEM private key.
pub fn signing_key(pem: &str) -> Result<DkimSigningKey, DkimKeyError> {
    let bad = |what: &str| DkimKeyError(format!("{what}; use an unencrypted RSA or Ed25519 key in PEM form"));
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return DkimSigningKey::new(pem, DkimSigningAlgorithm::Rsa)
            .map_err(|e| bad(&format!("the RSA key does not parse ({e})")));
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(DkimKeyError(
            "the key is encrypted; decrypt it (openssl pkey -in KEY -out PLAIN) and protect the file by its mode"
                .into(),
        ));
    }
    let der = pem_block(pem, "PRIVATE KEY").ok_or_else(|| bad("no `BEGIN PRIVATE KEY` block found"))?;
    let (algorithm, key) = pkcs8(&der).ok_or_else(|| bad("the PKCS#8 structure does not parse"))?;
    if algorithm == OID_RSA {
        let pkcs1 = pem_encode("RSA PRIVATE KEY", key);
        DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
            .map_err(|e| bad(&format!("the RSA key does not parse ({e})")))
    } else if algorithm == OID_ED25519 {
        // RFC 8410: the private key is itself an OCTET STRING of the 32-byte seed.
        let seed = match der_item(key) {
            Some((0x04, seed, [])) if seed.len() == 32 => seed,
            _ => return Err(bad("the Ed25519 key is not a 32-byte seed")),
        };
        DkimSigningKey::new(&STANDARD.encode(seed), DkimSigningAlgorithm::Ed25519)
            .map_err(|e| bad(&format!("the Ed25519 key does not parse ({e})")))
    } else {
        Err(bad("the key is neither RSA nor Ed25519"))
    }
}

/// The DER bytes of the first `-----BEGIN {label}-----` block.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// PrivateKeyInfo → (algorithm OID content, private key octets).
fn pkcs8(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, info, _) = der_item(der)? else { return None };
    let (0x02, _version, rest) = der_item(info)? else { return None };
    let (0x30, alg, rest) = der_item(rest)? else { return None };
    let (0x06, oid, _params) = der_item(alg)? else { return None };
    let (0x04, key, _attributes) = der_item(rest)? else { return None };
    Some((oid, key))
}

/// One DER item: (tag, content, rest). Definite lengths up to 4 bytes.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PKCS1: &str = include_str!("../../tests/fixtures/dkim/rsa-pkcs1.pem");
    const RSA_PKCS8: &str = include_str!("../../tests/fixtures/dkim/rsa-pkcs8.pem");
    const ED25519: &str = include_str!("../../tests/fixtures/dkim/ed25519.pem");

    #[test]
    fn reads_rsa_in_both_forms_and_ed25519() {
        assert!(signing_key(RSA_PKCS1).is_ok());
        assert!(signing_key(RSA_PKCS8).is_ok());
        assert!(signing_key(ED25519).is_ok());
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        let e = signing_key("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assert!(e.unwrap_err().0.contains("encrypted"));
        let e = signing_key("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n");
        assert!(e.unwrap_err().0.contains("no `BEGIN PRIVATE KEY`"));
        let e = signing_key("-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n");
        assert!(e.unwrap_err().0.contains("does not parse"));
        let e = signing_key("-----BEGIN RSA PRIVATE KEY-----\nMAMCAQA=\n-----END RSA PRIVATE KEY-----\n");
        assert!(e.unwrap_err().0.contains("RSA key does not parse"));
        // A truncated PKCS#8 RSA key: every length is checked, nothing panics.
        let der = pem_block(RSA_PKCS8, "PRIVATE KEY").unwrap();
        for cut in [1, 5, 20, der.len() / 2, der.len() - 1] {
            let pem = pem_encode("PRIVATE KEY", &der[..cut]);
            assert!(signing_key(&pem).is_err(), "cut at {cut}");
        }
    }
}
