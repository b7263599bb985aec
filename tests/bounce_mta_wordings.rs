//! The standard wordings of MTA families and providers
//! (`tests/data/bounce/mta-wordings.tsv`) classify as what they mean.
//!
//! Each row is one failure statement as an MTA or provider writes it
//! (synthetic: made-up addresses and hosts around the family's own words),
//! with the reason and hard/soft it means. A row is fed in one or both
//! shapes of report:
//! - `dsn`: a minimal multipart/report whose `Diagnostic-Code` is the text,
//!   with the row's `Status` (or the bare class of the text's reply code,
//!   `5.0.0` / `4.0.0`) and `Action`;
//! - `text`: a free-text bounce naming the recipient on a line of its own,
//!   the statement on the lines below it, then the quoted original (whose
//!   own `To:` must never become a recipient);
//! - `notice`: the text is the whole notice as the MTA lays it out, the
//!   recipient where it puts it, then the quoted original (as `text`).
//!
//! Every phrase rule added for an MTA family's wording has a row here.

use winback::bounce::{Reason, classify};

struct Row {
    line: usize,
    family: String,
    shape: String,
    status: Option<String>,
    action: String,
    text: String,
    reason: Reason,
    hard: bool,
}

fn rows() -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bounce/mta-wordings.tsv");
    let table = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    table
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let c: Vec<&str> = l.split('\t').collect();
            let [family, shape, status, action, text, reason, hard] = c[..] else {
                panic!("mta-wordings.tsv line {}: want 7 tab-separated columns, got {}: {l}", i + 1, c.len())
            };
            assert!(matches!(shape, "dsn" | "text" | "both" | "notice"), "line {}: shape `{shape}`", i + 1);
            Row {
                line: i + 1,
                family: family.to_string(),
                shape: shape.to_string(),
                status: (status != "-").then(|| status.to_string()),
                action: action.to_string(),
                text: text.replace("\\n", "\n"),
                reason: Reason::parse(reason).unwrap_or_else(|| panic!("line {}: unknown reason {reason}", i + 1)),
                hard: match hard {
                    "1" => true,
                    "0" => false,
                    _ => panic!("line {}: hard must be 0 or 1, got {hard}", i + 1),
                },
            }
        })
        .collect()
}

const RECIPIENT: &str = "kijitora@example.net";

/// The names a report is about: the failed recipient and the hosts named
/// in the text.
struct Names {
    recipient: &'static str,
    /// Replaces `mx.example.net`, `mx.example.org` and `mx.b.example`.
    host: Option<&'static str>,
}

/// The rows' own names.
const PLAIN: Names = Names { recipient: RECIPIENT, host: None };

/// Names made of the rules' words: a rule must read the statement, not
/// the names in it.
const LOADED: Names =
    Names { recipient: "spam.relay-blocked@virus.example.net", host: Some("spamfilter.relay-denied.example.net") };

impl Names {
    /// The row's text about these names.
    fn text(&self, row: &Row) -> String {
        let mut text = row.text.replace(RECIPIENT, self.recipient);
        if let Some(host) = self.host {
            for mx in ["mx.example.net", "mx.example.org", "mx.b.example"] {
                text = text.replace(mx, host);
            }
        }
        text
    }
}

/// A shape of report: its name and how a row becomes a message.
type Shape = (&'static str, fn(&Row, &Names) -> Vec<u8>);

fn dsn(row: &Row, names: &Names) -> Vec<u8> {
    let class = if row.text.trim_start().starts_with('4') { "4.0.0" } else { "5.0.0" };
    let status = row.status.as_deref().unwrap_or(class);
    // A folded Diagnostic-Code, as MTAs write long ones.
    let diagnostic = names.text(row).replace('\n', "\n    ");
    let recipient = names.recipient;
    format!(
        "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Delivery Status Notification (Failure)\n\
         MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nThis is an automatically generated Delivery Status Notification.\n\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
         Final-Recipient: rfc822; {recipient}\nAction: {}\nStatus: {status}\nDiagnostic-Code: smtp; {diagnostic}\n\n\
         --b\nContent-Type: message/rfc822\n\nFrom: sender@example.com\nTo: someone-else@example.org\nSubject: hello\n\nhi\n\n--b--\n",
        row.action
    )
    .into_bytes()
}

fn free_text(row: &Row, names: &Names) -> Vec<u8> {
    let lines: String = names.text(row).lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: sender@example.com\n\
         Subject: Undeliverable mail\n\n\
         A message that you sent could not be delivered to one or more of its recipients.\n\n\
         {}\n{lines}\n\
         ------ This is a copy of the message, including all the headers. ------\n\
         Return-path: <sender@example.com>\nFrom: sender@example.com\nTo: someone-else@example.org\nSubject: hello\n\nhi\n",
        names.recipient
    )
    .into_bytes()
}

/// The row's text as the whole notice, with the quoted original after it.
fn notice(row: &Row, names: &Names) -> Vec<u8> {
    let subject = if row.action == "delayed" { "Warning: message delayed" } else { "Undeliverable mail" };
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: sender@example.com\nSubject: {subject}\n\n\
         {}\n\n------ Original message follows ------\n\n\
         From: sender@example.com\nTo: someone-else@example.org\nSubject: hello\n\nhi\n",
        names.text(row)
    )
    .into_bytes()
}

#[test]
fn every_family_wording_classifies_as_it_means() {
    check_all(&PLAIN);
}

#[test]
fn names_made_of_the_rules_words_change_nothing() {
    check_all(&LOADED);
}

/// Classifies every row about `names`, in its shapes, and fails listing
/// every misread.
fn check_all(names: &Names) {
    let rows = rows();
    assert!(rows.len() >= 100, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in &rows {
        let shapes: &[Shape] = match row.shape.as_str() {
            "dsn" => &[("dsn", dsn)],
            "text" => &[("text", free_text)],
            "notice" => &[("notice", notice)],
            _ => &[("dsn", dsn), ("text", free_text)],
        };
        for (name, make) in shapes {
            checked += 1;
            let Some(report) = classify(&make(row, names)) else {
                failures.push(format!("line {} {} [{name}]: not read as a report", row.line, row.family));
                continue;
            };
            let got: Vec<_> = report.recipients.iter().map(|r| (r.recipient.as_str(), r.reason, r.hard)).collect();
            let first = report.recipients.first();
            let ok = got.len() == 1
                && first
                    .is_some_and(|r| r.recipient == names.recipient && r.reason == row.reason && r.hard == row.hard);
            if !ok {
                failures.push(format!(
                    "line {} {} [{name}] {:?}: want {}/{}, got {got:?} by {}",
                    row.line,
                    row.family,
                    names.text(row),
                    row.reason,
                    u8::from(row.hard),
                    first.map_or("-", |r| r.decided_by.as_str())
                ));
            }
        }
    }
    println!("mta wordings: {checked} reports checked, {} failures", failures.len());
    assert!(failures.is_empty(), "{} of {checked} misread:\n{}", failures.len(), failures.join("\n"));
}
