//! DKIM: derive the public key from the configured private key (RSA or
//! Ed25519 PEM), parse the published key record at
//! `SELECTOR._domainkey.DOMAIN`, and check that they match.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::report::{Check, Status};
use super::tags::Tags;
use crate::config::DkimConfig;
use crate::dns::resolver::Resolver;

/// The public half of the signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA (`k=rsa`).
    Rsa(RsaPublicKey),
    /// Ed25519 (`k=ed25519`, RFC 8463): the raw 32 bytes.
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// The `k=` value.
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "rsa",
            PublicKey::Ed25519(_) => "ed25519",
        }
    }

    /// The `p=` value: base64 of SubjectPublicKeyInfo (RSA) or the raw key (Ed25519).
    pub fn p_value(&self) -> String {
        match self {
            PublicKey::Rsa(k) => k.to_public_key_der().map(|d| B64.encode(d.as_bytes())).unwrap_or_default(),
            PublicKey::Ed25519(raw) => B64.encode(raw),
        }
    }

    /// The TXT record to publish for this key.
    pub fn record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.kind(), self.p_value())
    }
}

/// Derives the public key from a PEM private key: RSA as PKCS#1
/// (`BEGIN RSA PRIVATE KEY`) or PKCS#8, Ed25519 as PKCS#8 (`BEGIN PRIVATE KEY`).
pub fn public_key_from_pem(pem: &str) -> Result<PublicKey, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    if let Ok(k) = RsaPrivateKey::from_pkcs1_pem(pem) {
        return Ok(PublicKey::Rsa(k.to_public_key()));
    }
    if let Ok(k) = RsaPrivateKey::from_pkcs8_pem(pem) {
        return Ok(PublicKey::Rsa(k.to_public_key()));
    }
    match ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        Ok(k) => Ok(PublicKey::Ed25519(k.verifying_key().to_bytes())),
        Err(_) => Err("not an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key in PEM form".into()),
    }
}

/// A published DKIM key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=` (default `rsa`), lower case.
    pub kind: String,
    /// Decoded `p=`; empty means the key is revoked.
    pub public: Vec<u8>,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
}

/// Parses a DKIM key record (RFC 6376 §3.6.1).
pub fn parse_record(txt: &str) -> Result<KeyRecord, String> {
    let tags = Tags::parse(txt)?;
    if let Some(v) = tags.get("v")
        && (v != "DKIM1" || tags.first_name() != Some("v"))
    {
        return Err("v= must be DKIM1 and come first".into());
    }
    let p = tags.get("p").ok_or("no p= tag")?;
    let p: String = p.chars().filter(|c| !c.is_whitespace()).collect();
    let public = B64.decode(p.as_bytes()).map_err(|e| format!("p= is not base64: {e}"))?;
    let testing = tags.get("t").is_some_and(|t| t.split(':').any(|f| f.trim().eq_ignore_ascii_case("y")));
    Ok(KeyRecord { kind: tags.get("k").unwrap_or("rsa").to_ascii_lowercase(), public, testing })
}

/// Does the published record carry this key? RSA keys may be published
/// as SubjectPublicKeyInfo or bare PKCS#1 RSAPublicKey.
pub fn record_matches(rec: &KeyRecord, key: &PublicKey) -> bool {
    match key {
        PublicKey::Rsa(k) => {
            rec.kind == "rsa"
                && (RsaPublicKey::from_public_key_der(&rec.public).ok().as_ref() == Some(k)
                    || RsaPublicKey::from_pkcs1_der(&rec.public).ok().as_ref() == Some(k))
        }
        PublicKey::Ed25519(raw) => rec.kind == "ed25519" && rec.public.as_slice() == raw.as_slice(),
    }
}

/// The `dkim` check.
pub async fn check(resolver: &Resolver, dkim: Option<&DkimConfig>) -> Check {
    const NAME: &str = "dkim";
    let Some(dkim) = dkim else {
        return Check::new(NAME, Status::Warn, "no [dkim] configured: mail is unsigned and DMARC relies on SPF alone");
    };
    let key = match public_key_from_pem(&dkim.private_key_pem) {
        Ok(k) => k,
        Err(e) => return Check::new(NAME, Status::Fail, format!("[dkim] private_key_file: {e}")),
    };
    let name = format!("{}._domainkey.{}", dkim.selector, dkim.domain);
    let publish = format!("publish TXT at {name}: \"{}\"", key.record());
    let txts = match resolver.txt(&name).await {
        Err(e) => return Check::new(NAME, Status::Error, format!("cannot look up {name}: {e}")),
        Ok(a) => a.into_records(),
    };
    if txts.is_empty() {
        return Check::new(NAME, Status::Fail, format!("no DKIM key at {name}; {publish}"));
    }
    let records: Vec<Result<KeyRecord, String>> = txts.iter().map(|t| parse_record(t)).collect();
    if let Some(rec) = records.iter().flatten().find(|r| record_matches(r, &key)) {
        let (status, note) = if rec.testing {
            (Status::Warn, " but t=y (testing): receivers may ignore failures; remove t=y when done")
        } else {
            (Status::Pass, "")
        };
        return Check::new(NAME, status, format!("{name} publishes the {} key of [dkim]{note}", key.kind()));
    }
    let why = match records.iter().find_map(|r| r.as_ref().err()) {
        Some(e) if records.iter().all(|r| r.is_err()) => format!("the record at {name} is invalid: {e}"),
        _ if records.iter().flatten().any(|r| r.public.is_empty()) => {
            format!("the key at {name} is revoked (empty p=)")
        }
        _ if records.iter().flatten().all(|r| r.kind != key.kind()) => {
            format!("{name} publishes a k={} key but [dkim] has a {} key", records_kinds(&records), key.kind())
        }
        _ => format!("the key at {name} does not match the [dkim] private key (signatures will fail)"),
    };
    Check::new(NAME, Status::Fail, format!("{why}; {publish}"))
}

fn records_kinds(records: &[Result<KeyRecord, String>]) -> String {
    records.iter().flatten().map(|r| r.kind.as_str()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_syntax() {
        let r = parse_record("v=DKIM1; k=ed25519; t=s:y; p=AAEC AwQ=").unwrap();
        assert_eq!(r.kind, "ed25519");
        assert_eq!(r.public, vec![0, 1, 2, 3, 4]);
        assert!(r.testing);
        assert_eq!(parse_record("p=").unwrap().public, Vec::<u8>::new());
        assert_eq!(parse_record("p=AAAA").unwrap().kind, "rsa");
        assert!(parse_record("k=rsa; v=DKIM1; p=AAAA").is_err());
        assert!(parse_record("v=DKIM1; k=rsa").is_err());
        assert!(parse_record("v=DKIM1; p=!!!").is_err());
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert!(public_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
