//! RFC 3464 delivery-status fields: the per-message group and one group
//! per recipient, parsed from the raw text of a message/delivery-status
//! part (or from a text body that carries such fields).
//!
//! Real reports bend the syntax: fields folded over lines, comments in
//! parentheses, missing blank lines between groups, missing type prefixes
//! (`rfc822;`), fields in any case. A recipient group starts at a blank
//! line or at a recipient field when the current group already has one.

use std::borrow::Cow;

use super::scan;

/// One per-recipient group.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DsnRecipient {
    /// `Final-Recipient` address (or `Original-Recipient` when the final one is missing).
    pub final_recipient: String,
    /// `Original-Recipient` address.
    pub original_recipient: String,
    /// `Action`, lower-cased.
    pub action: String,
    /// `Status`, the bare code.
    pub status: String,
    /// The comment of `Status` (`5.2.1 (mailbox disabled)`): MTAs put their
    /// explanation there when they write no `Diagnostic-Code`.
    pub status_comment: String,
    /// `Diagnostic-Code` text without its type.
    pub diagnostic: String,
    /// The type of `Diagnostic-Code` (`smtp`, `x-unix` …), lower-cased.
    pub diagnostic_type: String,
    /// `Remote-MTA` without its type.
    pub remote_mta: String,
    /// `Last-Attempt-Date`.
    pub last_attempt: String,
}

/// The whole report.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dsn {
    /// `Reporting-MTA` without its type.
    pub reporting_mta: String,
    /// Recipient groups in order.
    pub recipients: Vec<DsnRecipient>,
    /// Groups with an action or status but no recipient field, before any
    /// group that names one (a gateway that hides the addresses from its
    /// report and lists them only in `X-Failed-Recipients`).
    pub unnamed: Vec<DsnRecipient>,
}

impl Dsn {
    /// Names the unnamed groups after `addresses` (`X-Failed-Recipients`),
    /// in order, when the report names no recipient itself and there are
    /// exactly as many groups as addresses: the only reading that fits both.
    pub(crate) fn name_groups(&mut self, addresses: &[String]) {
        if !self.recipients.is_empty() || self.unnamed.len() != addresses.len() {
            return;
        }
        for (mut group, address) in self.unnamed.drain(..).zip(addresses) {
            group.final_recipient = address.clone();
            self.recipients.push(group);
        }
    }
}

/// Whether a text looks like it carries delivery-status fields.
pub(crate) fn has_fields(text: &str) -> bool {
    scan::lines(text).any(|l| {
        let l = l.trim_start();
        starts_with_ci(l, "final-recipient:") || starts_with_ci(l, "original-recipient:")
    }) && scan::lines(text).any(|l| starts_with_ci(l.trim_start(), "status:") || starts_with_ci(l, "action:"))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The field names the parser reads, lower-case.
const NAMES: &[&str] = &[
    "reporting-mta",
    "final-recipient",
    "original-recipient",
    "x-actual-recipient",
    "action",
    "status",
    "diagnostic-code",
    "remote-mta",
    "last-attempt-date",
];

/// Parses delivery-status text into a [`Dsn`], appending to `into`.
pub(crate) fn parse_into(text: &str, into: &mut Dsn) {
    let mut current: Option<DsnRecipient> = None;
    for (name, value) in fields(text) {
        match name {
            "" => {
                // blank line: group boundary
                if let Some(r) = current.take() {
                    push(into, r);
                }
            }
            "reporting-mta" if into.reporting_mta.is_empty() => into.reporting_mta = strip_type(&value).1.to_string(),
            "final-recipient" | "original-recipient" | "x-actual-recipient" => {
                let (_, addr) = strip_type(&value);
                let addr = clean_address(addr);
                let r = current.get_or_insert_with(DsnRecipient::default);
                let slot =
                    if name == "original-recipient" { &mut r.original_recipient } else { &mut r.final_recipient };
                if !slot.is_empty() && name != "x-actual-recipient" {
                    // Second recipient field of the same kind: a new group without a blank line.
                    let done = current.take().unwrap_or_default();
                    push(into, done);
                    let mut fresh = DsnRecipient::default();
                    if name == "original-recipient" {
                        fresh.original_recipient = addr;
                    } else {
                        fresh.final_recipient = addr;
                    }
                    current = Some(fresh);
                } else if fuller(slot, &addr) {
                    // Sendmail: "Final-Recipient: LOCAL; kijitora" then
                    // "X-Actual-Recipient: rfc822; kijitora@b.example".
                    *slot = addr;
                }
            }
            "action" => set(&mut current, |r| &mut r.action, || value.to_ascii_lowercase()),
            "status" => {
                set(&mut current, |r| &mut r.status, || status_code(&strip_comments(&value)));
                set(&mut current, |r| &mut r.status_comment, || comment_text(&value));
            }
            "diagnostic-code" => {
                let (t, v) = strip_type(&value);
                set(&mut current, |r| &mut r.diagnostic_type, || t.to_ascii_lowercase());
                set(&mut current, |r| &mut r.diagnostic, || v.to_string());
            }
            "remote-mta" => set(&mut current, |r| &mut r.remote_mta, || strip_type(&value).1.to_string()),
            "last-attempt-date" => set(&mut current, |r| &mut r.last_attempt, || value.to_string()),
            _ => {}
        }
    }
    if let Some(r) = current.take() {
        push(into, r);
    }
}

/// Whether `candidate` should replace the recipient address `current`: it is
/// missing, or less of an address others can write to than the candidate: a
/// local name (Sendmail's `LOCAL; kijitora` before `X-Actual-Recipient:
/// rfc822; kijitora@b.example`), or a host without a dot (Sun/Oracle
/// Messaging Server's `Final-recipient: rfc822;userx@sims-ms-daemon`, its
/// internal delivery channel, beside `Original-recipient:
/// rfc822;userx@example.com`).
fn fuller(current: &str, candidate: &str) -> bool {
    reach(candidate) > reach(current)
}

/// How far an address reaches: 0 missing, 1 a local name, 2 a host without
/// a dot (an internal name), 3 a domain or an address literal.
fn reach(addr: &str) -> u8 {
    match addr.rsplit_once('@') {
        _ if addr.is_empty() => 0,
        None => 1,
        Some((_, host)) if host.contains('.') || host.starts_with('[') => 3,
        Some(_) => 2,
    }
}

fn push(into: &mut Dsn, mut r: DsnRecipient) {
    if fuller(&r.final_recipient, &r.original_recipient) {
        r.final_recipient = r.original_recipient.clone();
    }
    if r.final_recipient.is_empty() {
        // A group with no recipient adds detail to the previous one (some
        // MTAs put a blank line inside a group).
        if let Some(prev) = into.recipients.last_mut() {
            merge_missing(prev, r);
        } else if !r.action.is_empty() || !r.status.is_empty() {
            into.unnamed.push(r);
        }
        return;
    }
    if into.recipients.len() < super::MAX_RECIPIENTS {
        into.recipients.push(r);
    }
}

fn merge_missing(prev: &mut DsnRecipient, r: DsnRecipient) {
    for (dst, src) in [
        (&mut prev.action, r.action),
        (&mut prev.status, r.status),
        (&mut prev.diagnostic, r.diagnostic),
        (&mut prev.remote_mta, r.remote_mta),
        (&mut prev.last_attempt, r.last_attempt),
    ] {
        if dst.is_empty() {
            *dst = src;
        }
    }
}

/// Sets a field of the current group, starting a nameless group if needed;
/// the first value wins.
fn set(
    current: &mut Option<DsnRecipient>,
    field: impl Fn(&mut DsnRecipient) -> &mut String,
    value: impl FnOnce() -> String,
) {
    let r = current.get_or_insert_with(DsnRecipient::default);
    let slot = field(r);
    if slot.is_empty() {
        *slot = value();
    }
}

/// Yields `(lower-case name, unfolded value)` per field the parser reads
/// ([`NAMES`]; comments removed except in `Diagnostic-Code` and `Status`),
/// and `("", "")` for each blank line.
fn fields(text: &str) -> Vec<(&'static str, Cow<'_, str>)> {
    let mut out: Vec<(&'static str, Cow<'_, str>)> = Vec::new();
    let mut last_blank = true;
    // Whether the last field line was one of ours (its continuations are).
    let mut in_known = false;
    for line in scan::lines(text) {
        if line.trim().is_empty() {
            if !last_blank {
                out.push(("", Cow::Borrowed("")));
            }
            last_blank = true;
            in_known = false;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if in_known && let Some((_, value)) = out.last_mut() {
                // A value folded right after its colon starts on the next line.
                let v = value.to_mut();
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        last_blank = false;
        in_known = false;
        match line.split_once(':') {
            Some((name, value)) if is_field_name(name) => {
                let name = name.trim();
                if let Some(known) = NAMES.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                    out.push((known, Cow::Borrowed(value.trim())));
                    in_known = true;
                }
            }
            _ => {}
        }
    }
    for (name, value) in &mut out {
        if *name != "diagnostic-code" && *name != "status" && value.contains('(') {
            *value = Cow::Owned(strip_comments(value));
        }
    }
    out
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.len() < 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The text inside `( … )` comments, joined by spaces.
fn comment_text(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => {
                if depth == 0 && !out.is_empty() {
                    out.push(' ');
                }
                depth += 1;
            }
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// Removes `( … )` comments (nested), keeping text in quoted strings.
fn strip_comments(s: &str) -> String {
    if !s.contains('(') {
        return s.trim().to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// Splits `type; value` into its two halves (type empty when absent).
pub(crate) fn strip_type(value: &str) -> (&str, &str) {
    match value.split_once(';') {
        Some((t, v)) if !t.is_empty() && t.len() < 20 && !t.contains(' ') && !t.contains('@') => (t.trim(), v.trim()),
        _ => ("", value.trim()),
    }
}

/// Takes the address out of `<addr>`, quotes, trailing dots; lower-cases the domain.
pub(crate) fn clean_address(s: &str) -> String {
    let s = s.trim();
    let s = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s.get(a + 1..b).unwrap_or(s),
        _ => s,
    };
    let s = s.split_whitespace().next().unwrap_or("");
    let s = s.trim_matches(|c: char| matches!(c, '<' | '>' | '"' | '\'' | ',' | ';' | ':' | '.' | '[' | ']'));
    // A source route (RFC 5321 4.1.2, "@relay.example:user@host") names the
    // relays on the way; the mailbox is what follows the colon.
    let s = match s.strip_prefix('@').and_then(|r| r.split_once(':')) {
        Some((_, mailbox)) => mailbox,
        None => s,
    };
    s.to_ascii_lowercase()
}

/// Takes the first `d.d.d` status code out of a Status field value.
pub(crate) fn status_code(value: &str) -> String {
    crate::bounce::codes::first_enhanced(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Dsn {
        let mut d = Dsn::default();
        parse_into(text, &mut d);
        d
    }

    #[test]
    fn status_comments_are_kept_apart() {
        let d = parsed(
            "Final-Recipient: rfc822; a@x.test\nAction: delayed\nStatus: 4.0.0 (x.test: host (name) lookup failure)\n",
        );
        assert_eq!(d.recipients[0].status, "4.0.0");
        assert_eq!(d.recipients[0].status_comment, "x.test: host name lookup failure");
        assert_eq!(comment_text("no comment"), "");
        assert_eq!(comment_text("a (b) c (d"), "b d");
    }

    #[test]
    fn parses_groups_with_folding_comments_and_no_blank_lines() {
        let text = "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; <A@Example.ORG> (x)\nAction: failed\nStatus: 5.1.1 (bad mailbox)\nDiagnostic-Code: smtp; 550 5.1.1\n  user unknown\nFinal-Recipient: rfc822;b@example.org\nAction: delayed\nStatus: 4.2.2\n";
        let d = parsed(text);
        assert_eq!(d.reporting_mta, "mx.example.org");
        assert_eq!(d.recipients.len(), 2);
        assert_eq!(d.recipients[0].final_recipient, "a@example.org");
        assert_eq!(d.recipients[0].status, "5.1.1");
        assert_eq!(d.recipients[0].diagnostic, "550 5.1.1 user unknown");
        assert_eq!(d.recipients[0].diagnostic_type, "smtp");
        assert_eq!(d.recipients[1].action, "delayed");
    }

    #[test]
    fn a_value_folded_right_after_its_colon_is_read() {
        // Python's email package folds long fields this way when it writes
        // a report out again.
        let d = parsed(
            "Final-Recipient: \n rfc822;long-local-part@example.net\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp;\n 550 unknown user\n",
        );
        assert_eq!(d.recipients[0].final_recipient, "long-local-part@example.net");
        assert_eq!(
            (d.recipients[0].diagnostic_type.as_str(), d.recipients[0].diagnostic.as_str()),
            ("smtp", "550 unknown user")
        );
    }

    #[test]
    fn original_recipient_stands_in_for_missing_final() {
        let d = parsed("Original-Recipient: rfc822;c@example.net\nAction: failed\n");
        assert_eq!(d.recipients[0].final_recipient, "c@example.net");
    }

    #[test]
    fn an_internal_or_source_routed_final_recipient_gives_way_to_the_original() {
        let d = parsed(
            "Action: failed\nOriginal-recipient: rfc822;userx@example.com\nFinal-recipient: rfc822;userx@sims-ms-daemon\n\n\
             Final-Recipient: rfc822;@smtp.example.net:kijitora@server\nOriginal-Recipient: rfc822;kijitora@example.net\n\n\
             Final-Recipient: rfc822;alias@mx.example.org\nOriginal-Recipient: rfc822;list@example.org\n",
        );
        let finals: Vec<&str> = d.recipients.iter().map(|r| r.final_recipient.as_str()).collect();
        // An expanded alias on a real host stays: it is where the mail failed.
        assert_eq!(finals, ["userx@example.com", "kijitora@example.net", "alias@mx.example.org"]);
        assert_eq!(clean_address("<@a.example,@b.example:u@c.example>"), "u@c.example");
        assert_eq!(clean_address("@a.example"), "@a.example");
    }

    #[test]
    fn unnamed_groups_take_the_failed_recipients_in_order_only_when_they_match_one_to_one() {
        let groups =
            "Reporting-MTA: dns; gw.example.org\n\nAction: failed\nStatus: 5.1.2\n\nAction: failed\nStatus: 5.1.1\n";
        let two = ["a@example.org".to_string(), "b@example.net".to_string()];
        let mut d = parsed(groups);
        assert_eq!(d.unnamed.len(), 2);
        d.name_groups(&two);
        let got: Vec<(&str, &str)> =
            d.recipients.iter().map(|r| (r.final_recipient.as_str(), r.status.as_str())).collect();
        assert_eq!(got, [("a@example.org", "5.1.2"), ("b@example.net", "5.1.1")]);

        let mut d = parsed(groups);
        d.name_groups(&two[..1]);
        assert!(d.recipients.is_empty(), "two groups, one address: no pairing");
    }

    #[test]
    fn a_full_address_outranks_a_local_final_recipient() {
        let d = parsed(
            "Final-Recipient: LOCAL; kijitora\nX-Actual-Recipient: rfc822; kijitora@example.net\nAction: failed\n\nFinal-Recipient: X-Unix; neko\nOriginal-Recipient: rfc822; neko@example.org\nAction: failed\n\nFinal-Recipient: LOCAL; tama\nAction: failed\n",
        );
        let got: Vec<&str> = d.recipients.iter().map(|r| r.final_recipient.as_str()).collect();
        assert_eq!(got, ["kijitora@example.net", "neko@example.org", "tama"]);
    }
}
