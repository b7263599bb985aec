//! Messages built to make classification slow: reports naming tens of
//! thousands of recipients against one long failure text, recipients listed
//! above a single reason, X-Failed-Recipients with no failure lines,
//! complaint reports with a recipient field per line, a diagnostic that is
//! one long word of host names and addresses. Each shape is
//! classified in process at n and 4n recipients; the time should grow about
//! fourfold (linear), never sixteenfold. Prints the times and the ratio;
//! asserts nothing.
//!
//! Run with `cargo bench --bench bounce_hostile`.

use std::time::Instant;

const HEAD: &str = "From: MAILER-DAEMON@example.org\nTo: a@example.com\nSubject: Undelivered Mail Returned to Sender\n";

fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user{i}@example.net")).collect()
}

/// A DSN for n recipients with `status`, after a text part `text`.
fn dsn(n: usize, status: &str, text: &str) -> String {
    let fields: String = addresses(n)
        .iter()
        .map(|a| format!("Final-Recipient: rfc822; {a}\nAction: failed\nStatus: {status}\n\n"))
        .collect();
    report(&fields, text)
}

/// A report part of `fields` after a text part `text`.
fn report(fields: &str, text: &str) -> String {
    format!(
        "{HEAD}MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\n{text}--b\nContent-Type: message/delivery-status\n\n\
         Reporting-MTA: dns; x\n\n{fields}--b--\n"
    )
}

/// A DSN whose recipients have no line of their own in a long text part.
fn dsn_long_text(n: usize) -> String {
    dsn(n, "5.0.0", &"The mail system could not deliver your message, sorry about that.\n".repeat(n / 2))
}

/// A delay DSN whose recipients each quote a reply of their own (no two
/// decisions alike), below a long text: each reads the report's text for
/// words of a final notice.
fn dsn_delayed_own_replies(n: usize) -> String {
    let fields: String = addresses(n)
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "Final-Recipient: rfc822; {a}\nAction: delayed\nStatus: 4.4.1\n\
                 Diagnostic-Code: smtp; 451 4.4.1 try again later (attempt {i})\n\n"
            )
        })
        .collect();
    report(&fields, &"Delivery to these recipients has been delayed, we keep trying.\n".repeat(n / 2))
}

/// A DSN whose recipients also each have a line in the text part.
fn dsn_with_lines(n: usize) -> String {
    let lines: String = addresses(n).iter().map(|a| format!("{a}: 550 5.1.1 unknown\n")).collect();
    dsn(n, "5.1.1", &lines)
}

/// Free text: recipients one to a line, one reason below the last.
fn listed_above_one_reason(n: usize) -> String {
    let list: String = addresses(n).iter().map(|a| format!("{a}\n")).collect();
    format!("{HEAD}\n{list}Reason: 550 5.1.1 user unknown\n")
}

/// Free text: a recipient and its failure on every other line.
fn free_text_pairs(n: usize) -> String {
    let body: String = addresses(n).iter().map(|a| format!("{a}\n550 5.1.1 User unknown\n")).collect();
    format!("{HEAD}\n{body}")
}

/// X-Failed-Recipients naming everyone, a long text naming no one.
fn failed_header_long_text(n: usize) -> String {
    let header = addresses(n).join(",\n ");
    let text = "Delivery to the following recipients failed permanently.\n".repeat(n / 2);
    format!("{HEAD}X-Failed-Recipients: {header}\n\n{text}")
}

/// A complaint report with one Original-Rcpt-To per recipient.
fn complaint_many_fields(n: usize) -> String {
    let fields: String = addresses(n).iter().map(|a| format!("Original-Rcpt-To: {a}\n")).collect();
    format!(
        "From: abuse@example.org\nTo: a@example.com\nSubject: complaint\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n\
         --b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n{fields}\n--b--\n"
    )
}

/// A DSN whose one diagnostic is a single long word of dotted names and
/// addresses (n of each) for the rules' name masking to read.
fn dsn_dotted_word(n: usize) -> String {
    let word: String = (0..n).map(|i| format!("host{i}.example.net,user{i}@b.example;")).collect();
    format!(
        "{HEAD}MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n\
         Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 {word}\n\n--b--\n"
    )
}

/// A named way to build a hostile message for n recipients.
type Shape = (&'static str, fn(usize) -> String);

fn seconds(raw: &str) -> (f64, usize) {
    let start = Instant::now();
    let found = winback::bounce::classify(raw.as_bytes()).map_or(0, |r| r.recipients.len());
    (start.elapsed().as_secs_f64(), found)
}

fn main() {
    let n = std::env::var("BOUNCE_HOSTILE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(5000usize);
    let shapes: [Shape; 8] = [
        ("DSN, recipients without lines, long text", dsn_long_text),
        ("DSN, delayed, a reply each, long text", dsn_delayed_own_replies),
        ("DSN, a text line per recipient", dsn_with_lines),
        ("free text, listed above one reason", listed_above_one_reason),
        ("free text, address and failure pairs", free_text_pairs),
        ("X-Failed-Recipients, long text", failed_header_long_text),
        ("complaint, a field per recipient", complaint_many_fields),
        ("DSN, one word of n dotted names", dsn_dotted_word),
    ];
    println!("bounce_hostile: n = {n} and {} recipients", 4 * n);
    for (name, make) in shapes {
        let (small, big) = (make(n), make(4 * n));
        let (t1, r1) = seconds(&small);
        let (t4, r4) = seconds(&big);
        println!(
            "{name:<44} {:>8.1} ms ({r1} recipients, {} KiB)  {:>8.1} ms ({r4}, {} KiB)  ratio {:.1}",
            t1 * 1e3,
            small.len() / 1024,
            t4 * 1e3,
            big.len() / 1024,
            t4 / t1.max(1e-9)
        );
    }
}
