//! Complaints and auto-replies.
//!
//! A complaint is an RFC 5965 feedback report (multipart/report;
//! report-type=feedback-report), or a provider's notice that says the same
//! without that structure (a forwarded message with a complaint subject, a
//! mail client's one-click unsubscribe). The complaining address is the
//! original recipient: `Original-Rcpt-To`/`Removal-Recipient` of the report,
//! else the quoted message's recipient header.
//!
//! An auto-reply (RFC 3834: vacation, out of office) is recognised by its
//! headers and subject; its sender is the recipient of our message.

use super::freetext::addresses;
use super::ladder::DecidedBy;
use super::parts::Parts;
use super::rules::Rules;
use super::scan;
use super::{Action, Format, Original, Reason, Recipient, Report};

/// A complaint report, when the message is one.
pub(crate) fn report(parts: &Parts) -> Option<Report> {
    let is_arf = parts.report_type == "feedback-report" || !parts.feedback.is_empty();
    let notice = !is_arf && is_complaint_notice(parts);
    if !is_arf && !notice {
        return None;
    }
    let mut rcpts: Vec<String> = Vec::new();
    let mut diagnostic = String::new();
    for f in &parts.feedback {
        for line in scan::lines(f) {
            let Some((name, value)) = line.split_once(':') else { continue };
            let name = name.trim().to_ascii_lowercase();
            match name.as_str() {
                "original-rcpt-to" | "removal-recipient" => push_all(&mut rcpts, value),
                "feedback-type" if diagnostic.is_empty() => diagnostic = value.trim().to_ascii_lowercase(),
                _ => {}
            }
        }
    }
    if rcpts.is_empty() {
        rcpts = quoted_recipients(&parts.quoted.headers);
    }
    if rcpts.is_empty() {
        for t in &parts.texts {
            rcpts = quoted_recipients(t);
            if !rcpts.is_empty() {
                break;
            }
        }
    }
    if rcpts.is_empty() && notice {
        push_all(&mut rcpts, &parts.from);
    }
    let mut rcpts = unique(rcpts);
    if rcpts.is_empty() {
        if !is_arf {
            return None;
        }
        // A feedback report whose provider redacted every address (AOL,
        // "Redacted-Address: redacted"): still a complaint, about an
        // unnamed recipient that the original's identifiers (Message-ID,
        // VERP token) name for the daemon.
        rcpts.push(String::new());
    }
    if diagnostic.is_empty() {
        diagnostic = if notice { "unsubscribe or complaint notice".into() } else { "abuse".into() };
    }
    Some(Report {
        format: Format::Feedback,
        recipients: rcpts
            .into_iter()
            .map(|r| simple(r, Reason::Feedback, Action::Complained, diagnostic.clone()))
            .collect(),
        original: Original::default(),
        reporting_mta: None,
    })
}

/// A complaint without report structure.
fn is_complaint_notice(parts: &Parts) -> bool {
    parts.header("x-apple-unsubscribe").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || (parts.subject.starts_with("complaint about message from") && !parts.quoted.headers.is_empty())
}

/// The recipient headers of a quoted message (`X-HmXmrOriginalRecipient`,
/// `Original-Rcpt-To`, then `To`).
fn quoted_recipients(headers: &str) -> Vec<String> {
    let mut best: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for line in scan::lines(headers) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim().to_ascii_lowercase();
        let slot = match name.as_str() {
            "x-hmxmroriginalrecipient" | "original-rcpt-to" | "x-original-to" => 0,
            "to" => 1,
            _ => continue,
        };
        if best[slot].is_empty() {
            push_all(&mut best[slot], value);
        }
    }
    let [a, b] = best;
    unique(if a.is_empty() { b } else { a })
}

/// Appends the addresses in a header value; [`unique`] removes repeats.
fn push_all(into: &mut Vec<String>, value: &str) {
    into.extend(addresses(&value.to_ascii_lowercase()));
}

/// The addresses in first-mention order, each once (a report may name
/// thousands, so no pairwise comparison).
fn unique(all: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(all.len());
    all.into_iter().filter(|a| seen.insert(a.clone())).take(super::MAX_RECIPIENTS).collect()
}

fn simple(recipient: String, reason: Reason, action: Action, diagnostic: String) -> Recipient {
    Recipient {
        recipient,
        original_recipient: None,
        status: None,
        reply_code: None,
        reason,
        hard: false,
        decided_by: DecidedBy::Format.as_str().to_string(),
        action,
        diagnostic,
        remote_mta: None,
        last_attempt: None,
    }
}

/// An auto-reply report, when the message is one.
/// Whether a header marks the message as sent automatically
/// (`Auto-Submitted: auto-replied`, `X-Autoreply` …).
pub(crate) fn is_automatic(parts: &Parts, rules: &Rules) -> bool {
    parts.headers.iter().any(|(n, v)| rules.detect.autoreply_header.is_match(&format!("{n}: {v}")))
}

pub(crate) fn auto_reply(parts: &Parts, rules: &Rules) -> Option<Report> {
    if !is_automatic(parts, rules) && !rules.detect.autoreply_subject.is_match(&parts.subject) {
        return None;
    }
    let mut from = Vec::new();
    push_all(&mut from, &parts.from);
    let who = from.into_iter().next()?;
    Some(Report {
        format: Format::AutoReply,
        recipients: vec![simple(who, Reason::Vacation, Action::AutoReplied, parts.subject.clone())],
        original: Original::default(),
        reporting_mta: None,
    })
}
