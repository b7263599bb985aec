//! Golden tests: every `tests/data/bounce/NAME.eml` is classified and
//! compared with `NAME.expected` (one line per recipient: recipient,
//! status, reason, hard, VERP token, token header, Message-ID, the rung
//! of the evidence ladder that decided; empty when the message is not a
//! report). Covers DSN edge cases: CR-only and CRLF
//! line endings, folding, comments, missing blank lines and fields,
//! mis-declared 8-bit charsets, attribution of the original message, a
//! local delivery agent that found no such user, blank lines before the
//! first header, a verdict stated once
//! above the recipients, a status comment that outweighs the reply's
//! wording, a relay's category wrapped around the remote reply, a
//! gateway's verdict that names no address, and the expiry reports of
//! Sendmail after a server's 421 (its transcript quotes the reply, then
//! "Deferred: Connection reset"; a service closing, a full disk), a 450
//! "Domain not found" (its Diagnostic-Code quotes it) and a 451 (under its
//! own Status 4.4.7), and of Exim after a 421 and a 451 ("…:
//! retry timeout exceeded" under `Status: 5.0.0`): the cause the server
//! stated is the reason, and the status the server's where it gave one.

use std::path::PathBuf;

fn render(raw: &[u8]) -> String {
    let Some(r) = winback::bounce::classify(raw) else { return String::new() };
    let o = &r.original;
    r.recipients
        .iter()
        .map(|x| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                x.recipient,
                x.status.as_deref().unwrap_or(""),
                x.reason,
                u8::from(x.hard),
                o.verp_token.as_deref().unwrap_or(""),
                o.token.as_deref().unwrap_or(""),
                o.message_id.as_deref().unwrap_or(""),
                x.decided_by,
            )
        })
        .collect()
}

#[test]
fn golden_messages_classify_as_expected() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bounce");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/bounce exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "golden messages missing from {}", dir.display());
    let mut failures = Vec::new();
    for eml in &names {
        let raw = std::fs::read(eml).expect("readable golden message");
        let want = std::fs::read_to_string(eml.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{}: missing .expected file: {e}", eml.display()));
        let got = render(&raw);
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", eml.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn smtp_replies_use_the_same_rules() {
    use winback::bounce::{Reason, classify_smtp_reply};
    /// Reply code, enhanced status, text, and the expected reason and hardness.
    type Case<'a> = (u16, Option<&'a str>, &'a str, (Reason, bool));
    let cases: &[Case] = &[
        (
            550,
            Some("5.1.1"),
            "5.1.1 <a@b.example>: Recipient address rejected: User unknown",
            (Reason::UserUnknown, true),
        ),
        (452, Some("4.2.2"), "4.2.2 Mailbox full", (Reason::MailboxFull, false)),
        (
            554,
            None,
            "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            (Reason::Blocked, false),
        ),
        (
            550,
            Some("5.7.26"),
            "Unauthenticated email is not accepted due to domain's DMARC policy",
            (Reason::AuthFailure, false),
        ),
        (421, Some("4.7.0"), "Too many connections, slow down", (Reason::RateLimited, false)),
        (554, None, "IP=192.0.2.254 - A problem occurred. (Ask your postmaster for help.)", (Reason::Blocked, false)),
        (550, Some("5.0.0"), "<a@b.example>: Recipient address rejected: On hold", (Reason::OnHold, false)),
        (451, Some("4.0.0"), "Could not load DRD for domain (b.example)", (Reason::SystemError, false)),
    ];
    for (code, status, text, want) in cases {
        assert_eq!(classify_smtp_reply(*code, *status, text), *want, "{code} {text}");
    }
}

#[test]
fn each_rung_of_the_ladder_decides_and_says_so() {
    use winback::bounce::{DecidedBy, Reason, SmtpCommand, classify_reply};
    let v = classify_reply(Some(SmtpCommand::Rcpt), 550, Some("5.1.1"), "5.1.1 Mailbox does not exist");
    assert_eq!((v.reason, v.hard), (Reason::UserUnknown, true));
    assert!(matches!(v.decided_by, DecidedBy::Rule(ref n) if n == "user-unknown"), "{v:?}");
    // No wording to go by: the enhanced status code decides.
    let v = classify_reply(None, 552, Some("5.2.2"), "x1");
    assert_eq!((v.reason, v.decided_by), (Reason::MailboxFull, DecidedBy::EnhancedStatus));
    // No status either: the reply code and the command.
    let v = classify_reply(Some(SmtpCommand::Rcpt), 550, None, "x1");
    assert_eq!((v.reason, v.hard, v.decided_by), (Reason::UserUnknown, true, DecidedBy::ReplyCode));
    let v = classify_reply(Some(SmtpCommand::Mail), 550, None, "x1");
    assert_eq!((v.reason, v.decided_by), (Reason::Rejected, DecidedBy::ReplyCode));
    let v = classify_reply(Some(SmtpCommand::Connect), 554, None, "x1");
    assert_eq!((v.reason, v.decided_by), (Reason::Blocked, DecidedBy::ReplyCode));
    // Nothing at all.
    let v = classify_reply(None, 550, None, "x1");
    assert_eq!((v.reason, v.decided_by), (Reason::OnHold, DecidedBy::None));
}

/// Inputs fuzzing found: each once made the classifier panic.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bounce/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tests/data/bounce/fuzz exists").flatten() {
        let raw = std::fs::read(e.path()).expect("readable");
        let _ = winback::bounce::classify(&raw);
        n += 1;
    }
    assert!(n >= 1, "no fuzz findings in {}", dir.display());
}

#[test]
fn garbage_never_panics() {
    let samples: [&[u8]; 6] = [
        b"",
        b"\r\r\r",
        b"From: MAILER-DAEMON\n\nFinal-Recipient: rfc822;\nStatus: 5.\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"\"\n\n--\n--",
        &[0xff, 0xfe, 0x00, b'@', b'\n', b'\n', 0xc3],
        b"Subject: undeliverable\n\n@@@ a@ @b. <> 5.5.5.5 550-5.1.1- 999",
    ];
    for s in samples {
        let _ = winback::bounce::classify(s);
    }
}
