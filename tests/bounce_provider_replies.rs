//! Every reply documented by providers, MTAs and the RFC 3463 registry
//! (`../shared/bounce-references/provider-replies.tsv`) classifies as its
//! documentation says: fed as an SMTP reply to [`classify_reply`] and
//! wrapped in a minimal DSN to [`classify`], laid out as Postfix writes one
//! for a recipient refused at `RCPT TO` (a status of `5.0.0` or `4.0.0`
//! where the documentation gives no enhanced code; the IANA registry's
//! rows, which describe codes rather than replies, name no command).
//!
//! What each row means in winback's reasons is the table
//! `tests/data/bounce/provider-replies-expected.tsv`, read from the row's
//! `provider_meaning` column: an unknown mailbox is `userunknown`, a full
//! one `mailboxfull`, a refusal of our IP `blocked`, of our sender address
//! or of our right to post `rejected`, failed SPF/DKIM/DMARC `authfailure`,
//! TLS demanded or SMTP AUTH `securityerror`, TLS that could not be set up
//! with the receiver `failedstarttls`, a throttle `ratelimited`, complaints
//! about our traffic `badreputation`, and so on (docs/bounce-reasons.md).
//! Where one documented text carries two meanings (the same words from two
//! providers), every meaning given for that text is accepted. Hard/soft
//! follows from the reason and the class of the code.

use std::collections::HashMap;
use std::path::PathBuf;

use winback::bounce::{Reason, classify, classify_reply};

struct Row {
    provider: String,
    code: Option<u16>,
    status: Option<String>,
    text: String,
    meaning: String,
}

fn shared_tsv() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bounce-references/provider-replies.tsv");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; the shared references are expected beside the crate", path.display())
    })
}

/// `<IP address>` and friends replaced by plausible values.
fn fill(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        out.push_str(&rest[..open]);
        let name = rest[open + 1..open + close].to_ascii_lowercase();
        out.push_str(if name.contains("ipv6") {
            "2001:db8::1"
        } else if name.contains("ip") || name.contains("client address") {
            "192.0.2.1"
        } else if name.contains("address") || name.contains("userid") || name.contains('@') || name.contains("path") {
            "<user@example.com>"
        } else if name.contains("domain") || name.contains("host") {
            "example.com"
        } else {
            "x1"
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace(" / ", " ")
}

/// `X.1.1` → `5.1.1` (or `2.1.1` for a success); `4.7.500-699` → `4.7.500`.
fn concrete_status(documented: &str, class: char) -> Option<String> {
    if documented.is_empty() {
        return None;
    }
    let s = documented.split('-').next().unwrap_or(documented);
    Some(match s.strip_prefix("X.") {
        Some(rest) => format!("{class}.{rest}"),
        None => s.to_string(),
    })
}

fn rows() -> Vec<Row> {
    shared_tsv()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| c.get(i).copied().unwrap_or("").to_string();
            Row { provider: get(0), code: get(1).parse().ok(), status: Some(get(2)), text: get(3), meaning: get(4) }
        })
        .collect()
}

/// (provider, enhanced code, reply text) → accepted reasons, or `None` to skip.
fn expectations() -> HashMap<(String, String, String), Option<Vec<Reason>>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bounce/provider-replies-expected.tsv");
    let text = std::fs::read_to_string(&path).expect("the expectation table exists");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 4, "bad expectation line: {l}");
            let want = if c[3] == "skip" {
                None
            } else {
                Some(
                    c[3].split('|')
                        .map(|r| Reason::parse(r).unwrap_or_else(|| panic!("unknown reason {r} in: {l}")))
                        .collect(),
                )
            };
            ((c[0].to_string(), c[1].to_string(), c[2].to_string()), want)
        })
        .collect()
}

/// A Postfix-style DSN; `at_rcpt` adds its "(in reply to RCPT TO command)".
fn dsn(code: u16, status: &str, text: &str, at_rcpt: bool) -> Vec<u8> {
    let command = if at_rcpt { " (in reply to RCPT TO command)" } else { "" };
    let action = if status.starts_with('2') { "delivered" } else { "failed" };
    format!(
        "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail Returned to Sender\n\
         MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n\
         <user@example.net>: host mx.example.net[192.0.2.9] said: {code} {text}{command}\n\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
         Final-Recipient: rfc822; user@example.net\nAction: {action}\nStatus: {status}\n\
         Diagnostic-Code: smtp; {code} {status} {text}\n\n--b--\n"
    )
    .into_bytes()
}

#[test]
fn every_documented_reply_classifies_as_documented() {
    let table = expectations();
    let rows = rows();
    assert!(rows.len() >= 290, "the reference lists {} rows", rows.len());
    // Every meaning given for the same text is an acceptable reading of it.
    let mut by_text: HashMap<String, Vec<Reason>> = HashMap::new();
    for r in &rows {
        let key = (r.provider.clone(), r.status.clone().unwrap_or_default(), r.text.clone());
        if let Some(Some(want)) = table.get(&key) {
            by_text.entry(r.text.to_ascii_lowercase()).or_default().extend(want);
        }
    }
    let (mut checked, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for r in &rows {
        let key = (r.provider.clone(), r.status.clone().unwrap_or_default(), r.text.clone());
        let want = match table.get(&key) {
            None => panic!("no expectation for {key:?}: add it to provider-replies-expected.tsv"),
            Some(None) => {
                skipped += 1;
                continue;
            }
            Some(Some(w)) => w,
        };
        let accepted = by_text.get(&r.text.to_ascii_lowercase()).unwrap_or(want);
        let success = want.contains(&Reason::Delivered);
        let temporary = r.code.is_some_and(|c| c < 500)
            || r.status.as_deref().is_some_and(|s| s.starts_with('4'))
            || r.meaning.contains("4xx");
        let class = if success {
            '2'
        } else if temporary {
            '4'
        } else {
            '5'
        };
        let status = concrete_status(r.status.as_deref().unwrap_or(""), class);
        let code = r.code.unwrap_or(match class {
            '2' => 250,
            '4' => 450,
            _ => 550,
        });
        let text = fill(&r.text);
        let permanent = status.as_deref().map_or(code >= 500, |s| s.starts_with('5'));
        let v = classify_reply(None, code, status.as_deref(), &text);
        let hard_ok = |reason: Reason, hard: bool| hard == reason.is_hard(permanent);
        if !accepted.contains(&v.reason) || !hard_ok(v.reason, v.hard) {
            failures.push(format!(
                "reply {code} {} {text:?} ({}): want {want:?}, got {} hard={} by {}",
                status.as_deref().unwrap_or(""),
                r.provider,
                v.reason,
                v.hard,
                v.decided_by.as_str()
            ));
        }
        if !success {
            // A reply without an enhanced code gets the bare class in the DSN.
            let st = status.clone().unwrap_or_else(|| format!("{class}.0.0"));
            let st = st.as_str();
            // The registry's rows describe codes, not replies to a command.
            let at_rcpt = !r.provider.starts_with("IANA");
            let report = classify(&dsn(code, st, &text, at_rcpt)).expect("a DSN is a report");
            let got = report.recipients.first().expect("one recipient");
            if !accepted.contains(&got.reason) || !hard_ok(got.reason, got.hard) {
                failures.push(format!(
                    "dsn {code} {st} {text:?} ({}): want {want:?}, got {} hard={} by {}",
                    r.provider, got.reason, got.hard, got.decided_by
                ));
            }
        }
        checked += 1;
    }
    println!("provider replies: {checked} checked, {skipped} skipped, {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} documented replies misread:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
