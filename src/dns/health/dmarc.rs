//! DMARC (RFC 7489): find the policy for the `From:` domain (at
//! `_dmarc.FROM`, else at the organisational domain), parse it, and check
//! that the From domain aligns with the DKIM `d=` and the SPF
//! (return-path) domain.
//!
//! Without the Public Suffix List the organisational domain is
//! approximated: the last two labels, or three under a ccTLD whose second
//! level is a common registry level (`co.uk`, `com.au`, …).

use serde::Serialize;

use super::report::{Check, Status};
use super::tags::Tags;
use crate::dns::resolver::Resolver;

/// `p=` / `sp=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Monitor only.
    None,
    /// Spam folder.
    Quarantine,
    /// Reject.
    Reject,
}

/// `adkim=` / `aspf=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// Same organisational domain.
    Relaxed,
    /// Exactly the same domain.
    Strict,
}

/// A parsed DMARC record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcRecord {
    /// Policy for the domain.
    pub p: Policy,
    /// Policy for subdomains, when given.
    pub sp: Option<Policy>,
    /// DKIM alignment mode.
    pub adkim: Alignment,
    /// SPF alignment mode.
    pub aspf: Alignment,
    /// Aggregate report addresses.
    pub rua: Vec<String>,
    /// Percentage of mail the policy applies to.
    pub pct: u8,
}

impl Policy {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

fn policy(v: &str, tag: &str) -> Result<Policy, String> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Ok(Policy::None),
        "quarantine" => Ok(Policy::Quarantine),
        "reject" => Ok(Policy::Reject),
        _ => Err(format!("{tag}={v} is not none, quarantine or reject")),
    }
}

fn alignment(v: Option<&str>, tag: &str) -> Result<Alignment, String> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("r") => Ok(Alignment::Relaxed),
        Some("s") => Ok(Alignment::Strict),
        Some(other) => Err(format!("{tag}={other} is not r or s")),
    }
}

/// True for a TXT record that claims to be DMARC.
pub fn is_dmarc(txt: &str) -> bool {
    txt.trim_start().strip_prefix("v=DMARC1").is_some_and(|rest| {
        let rest = rest.trim_start();
        rest.is_empty() || rest.starts_with(';')
    })
}

/// Parses a DMARC record (RFC 7489 §6.3).
pub fn parse(txt: &str) -> Result<DmarcRecord, String> {
    let tags = Tags::parse(txt)?;
    if tags.first_name() != Some("v") || tags.get("v") != Some("DMARC1") {
        return Err("must start with v=DMARC1".into());
    }
    let p = policy(tags.get("p").ok_or("no p= tag (the policy)")?, "p")?;
    let sp = tags.get("sp").map(|v| policy(v, "sp")).transpose()?;
    let pct = match tags.get("pct") {
        None => 100,
        Some(v) => v.parse::<u8>().ok().filter(|n| *n <= 100).ok_or_else(|| format!("pct={v} is not 0-100"))?,
    };
    let rua = tags.get("rua").map_or_else(Vec::new, |v| v.split(',').map(|s| s.trim().to_string()).collect());
    Ok(DmarcRecord {
        p,
        sp,
        adkim: alignment(tags.get("adkim"), "adkim")?,
        aspf: alignment(tags.get("aspf"), "aspf")?,
        rua,
        pct,
    })
}

/// Second-level labels that registries sell under in many ccTLDs.
const REGISTRY_SECOND_LEVELS: &[&str] = &[
    "ac", "co", "com", "edu", "gob", "go", "gov", "gv", "ltd", "mil", "ne", "net", "nic", "nom", "or", "org", "plc",
    "sch",
];

/// The (approximate) organisational domain of `domain`.
pub fn org_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let n = labels.len();
    let keep = match labels.as_slice() {
        [.., second, tld] if n >= 3 && tld.len() == 2 && REGISTRY_SECOND_LEVELS.contains(second) => 3,
        _ => 2,
    };
    labels[n.saturating_sub(keep)..].join(".")
}

/// Are two domains aligned under `mode`?
pub fn aligned(from: &str, other: &str, mode: Alignment) -> bool {
    let (a, b) = (from.trim_end_matches('.').to_ascii_lowercase(), other.trim_end_matches('.').to_ascii_lowercase());
    match mode {
        Alignment::Strict => a == b,
        Alignment::Relaxed => org_domain(&a) == org_domain(&b),
    }
}

/// Where a policy was found and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The name queried (`_dmarc.…`).
    pub at: String,
    /// The record.
    pub record: DmarcRecord,
    /// Found at the organisational domain rather than the From domain.
    pub inherited: bool,
}

/// Discovery outcome: found, absent (with the names asked), broken, or not askable now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// A usable record.
    Found(Discovered),
    /// No record at any of these names.
    Missing(Vec<String>),
    /// A record exists but is unusable.
    Invalid(String),
    /// DNS failure.
    TempError(String),
}

/// RFC 7489 §6.6.3 policy discovery.
pub async fn discover(resolver: &Resolver, from_domain: &str) -> Discovery {
    let org = org_domain(from_domain);
    let mut asked = Vec::new();
    let mut candidates = vec![from_domain.to_ascii_lowercase()];
    if org != candidates[0] {
        candidates.push(org);
    }
    for (i, domain) in candidates.iter().enumerate() {
        let at = format!("_dmarc.{domain}");
        let txts = match resolver.txt(&at).await {
            Err(e) => return Discovery::TempError(e.to_string()),
            Ok(a) => a.into_records(),
        };
        let dmarc: Vec<&String> = txts.iter().filter(|t| is_dmarc(t)).collect();
        match dmarc.as_slice() {
            [] => asked.push(at),
            [one] => {
                return match parse(one) {
                    Ok(record) => Discovery::Found(Discovered { at, record, inherited: i > 0 }),
                    Err(e) => Discovery::Invalid(format!("{at}: {e}")),
                };
            }
            many => {
                return Discovery::Invalid(format!("{at} has {} DMARC records; receivers ignore all", many.len()));
            }
        }
    }
    Discovery::Missing(asked)
}

/// The `dmarc` and `dmarc-alignment` checks.
pub async fn checks(resolver: &Resolver, from: &str, spf_domain: &str, dkim_domain: Option<&str>) -> Vec<Check> {
    let found = discover(resolver, from).await;
    let policy_check = match &found {
        Discovery::TempError(e) => Check::new("dmarc", Status::Error, format!("cannot look up DMARC of {from}: {e}")),
        Discovery::Invalid(e) => Check::new("dmarc", Status::Fail, format!("invalid DMARC record: {e}")),
        Discovery::Missing(asked) => Check::new(
            "dmarc",
            Status::Fail,
            format!(
                "no DMARC record at {}; publish TXT at _dmarc.{from} like \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{from}\"",
                asked.join(" or ")
            ),
        ),
        Discovery::Found(d) => policy_verdict(from, d),
    };
    let (adkim, aspf) = match &found {
        Discovery::Found(d) => (d.record.adkim, d.record.aspf),
        _ => (Alignment::Relaxed, Alignment::Relaxed),
    };
    vec![policy_check, alignment_check(from, spf_domain, aspf, dkim_domain, adkim)]
}

fn policy_verdict(from: &str, d: &Discovered) -> Check {
    let r = &d.record;
    let effective = if d.inherited { r.sp.unwrap_or(r.p) } else { r.p };
    let mut notes = Vec::new();
    if r.rua.is_empty() {
        notes.push("no rua=: you get no aggregate reports".to_string());
    }
    if r.pct < 100 {
        notes.push(format!("pct={} applies the policy to part of the mail only", r.pct));
    }
    let status = if effective == Policy::None || !notes.is_empty() { Status::Warn } else { Status::Pass };
    if effective == Policy::None {
        notes.insert(0, "policy none only monitors; move to quarantine or reject once reports are clean".into());
    }
    let policy = effective.as_str();
    let via = if d.inherited { " (organisational domain)" } else { "" };
    let mut detail = format!("{} applies p={policy} to {from}{via}", d.at);
    if !notes.is_empty() {
        detail.push_str(&format!("; {}", notes.join("; ")));
    }
    Check::new("dmarc", status, detail)
}

fn alignment_check(from: &str, spf: &str, aspf: Alignment, dkim: Option<&str>, adkim: Alignment) -> Check {
    let mode = |m: Alignment| if m == Alignment::Strict { "strict" } else { "relaxed" };
    let spf_ok = aligned(from, spf, aspf);
    let spf_text =
        format!("SPF domain {spf} {} with {from} ({})", if spf_ok { "aligns" } else { "does not align" }, mode(aspf));
    let (dkim_ok, dkim_text) = match dkim {
        Some(d) => {
            let ok = aligned(from, d, adkim);
            (ok, format!("DKIM d={d} {} ({})", if ok { "aligns" } else { "does not align" }, mode(adkim)))
        }
        None => (false, "no DKIM signature".to_string()),
    };
    let detail = format!("{spf_text}; {dkim_text}");
    match (spf_ok, dkim_ok) {
        (true, true) => Check::new("dmarc-alignment", Status::Pass, detail),
        (false, false) => Check::new(
            "dmarc-alignment",
            Status::Fail,
            format!("{detail}: DMARC fails for every message; use a bounce domain and DKIM d= under {from}"),
        ),
        _ => Check::new(
            "dmarc-alignment",
            Status::Warn,
            format!("{detail}: DMARC passes through one mechanism only, with no fallback"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_domains() {
        assert_eq!(org_domain("mail.shop.example.com"), "example.com");
        assert_eq!(org_domain("bounces.shop.co.uk"), "shop.co.uk");
        assert_eq!(org_domain("example.com"), "example.com");
        assert_eq!(org_domain("example.test."), "example.test");
        assert_eq!(org_domain("localhost"), "localhost");
    }

    #[test]
    fn alignment_modes() {
        assert!(aligned("shop.example", "bounces.shop.example", Alignment::Relaxed));
        assert!(!aligned("shop.example", "bounces.shop.example", Alignment::Strict));
        assert!(aligned("Shop.Example", "shop.example.", Alignment::Strict));
        assert!(!aligned("shop.example", "other.example.net", Alignment::Relaxed));
    }

    #[test]
    fn records() {
        let r =
            parse("v=DMARC1; p=reject; sp=none; adkim=s; rua=mailto:a@x.example, mailto:b@x.example; pct=50").unwrap();
        assert_eq!(
            (r.p, r.sp, r.adkim, r.aspf, r.pct),
            (Policy::Reject, Some(Policy::None), Alignment::Strict, Alignment::Relaxed, 50)
        );
        assert_eq!(r.rua.len(), 2);
        assert!(parse("p=reject; v=DMARC1").is_err());
        assert!(parse("v=DMARC1; rua=mailto:a@x").is_err());
        assert!(parse("v=DMARC1; p=block").is_err());
        assert!(parse("v=DMARC1; p=none; adkim=x").is_err());
        assert!(is_dmarc("v=DMARC1; p=none") && is_dmarc("v=DMARC1") && !is_dmarc("v=DMARC10; p=none"));
    }
}
