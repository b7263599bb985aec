//! Delay notices without a report part: the message is still queued, so
//! its recipients are `delayed` (not failed), and a cause the notice quotes
//! decides their reason, as it does for a DSN's `Action: delayed`. Exim
//! before its DSN support, Gmail and Microsoft's text notices, and relays
//! that pass only a report's text on write them so. Final failure notices
//! of the same families stay `failed`, even when the last reply they quote
//! was temporary (4xx). The MTAs of the bounce lab are checked on
//! their own warnings, with and without the report part, in
//! `tests/bounce_lab.rs`.

use winback::bounce::{Action, Reason, classify};

/// A notice from a mail system to our sender, with `subject` and `body`.
fn notice(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: bounces@shop.example\nSubject: {subject}\nDate: Thu, 03 Dec 2026 10:00:00 +0000\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{body}"
    )
    .into_bytes()
}

/// Exim's warning (its `warn_message_file` default) about the addresses
/// in `$addresses` (each with its delay reason, if any).
macro_rules! exim_warning {
    ($addresses:expr) => {
        concat!(
            "This message was created automatically by mail delivery software.\n",
            "A message that you sent has not yet been delivered to one or more of its\n",
            "recipients after more than 24 hours on the queue on mx.shop.example.\n\n",
            "The message identifier is:     1tXyZa-000123-AB\n",
            "The subject of the message is: We miss you\n\n",
            "The address to which the message has not yet been delivered is:\n\n",
            $addresses,
            "\nNo action is required on your part. Delivery attempts will continue for\n",
            "some time, and this warning may be repeated at intervals if the message\n",
            "remains undelivered. Eventually the mail delivery software will give up,\n",
            "and when that happens, the message will be returned to you.\n",
        )
    };
}

/// Gmail's delay notice for customer@far.example, then `$response`.
macro_rules! gmail_delay {
    ($response:expr) => {
        concat!(
            "** Delivery incomplete **\n\n",
            "There was a temporary problem delivering your message to customer@far.example. ",
            "Gmail will retry for 46 more hours. You'll be notified if the delivery fails permanently.\n",
            $response,
        )
    };
}

/// (name, From, Subject, body, reason, action) of each notice.
type Case = (&'static str, &'static str, &'static str, &'static str, Reason, Action);

const CASES: &[Case] = &[
    (
        "Exim warning, no cause quoted",
        "Mail Delivery System <Mailer-Daemon@mx.shop.example>",
        "Warning: message 1tXyZa-000123-AB delayed 24 hours",
        exim_warning!("  customer@far.example\n"),
        Reason::Expired,
        Action::Delayed,
    ),
    (
        "Exim warning quoting a full mailbox",
        "Mail Delivery System <Mailer-Daemon@mx.shop.example>",
        "Warning: message 1tXyZa-000123-AB delayed 24 hours",
        exim_warning!(
            "  customer@far.example\n    Delay reason: SMTP error from remote mail server after \
             RCPT TO:<customer@far.example>:\n    452 4.2.2 Mailbox full\n"
        ),
        Reason::MailboxFull,
        Action::Delayed,
    ),
    (
        "Microsoft 365 delay notice",
        "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@shop.example>",
        "Delivery delayed:We miss you",
        "Delivery is delayed to these recipients or groups:\n\ncustomer@far.example (customer@far.example)\n\n\
         Subject: We miss you\n\n\
         This message hasn't been delivered yet. Delivery will continue to be attempted.\n\n\
         The server will keep trying to deliver this message for the next 1 days, 19 hours and 53 minutes. \
         You'll be notified if the message can't be delivered by that time.\n",
        Reason::Expired,
        Action::Delayed,
    ),
    (
        "Gmail delay notice, no reply quoted",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Delay)",
        gmail_delay!(""),
        Reason::Expired,
        Action::Delayed,
    ),
    (
        "Gmail delay notice quoting a rate limit",
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Delay)",
        gmail_delay!(
            "\nThe response was:\n\n421 4.7.0 Too many messages from your IP address, rate limited; try again later\n"
        ),
        Reason::RateLimited,
        Action::Delayed,
    ),
    (
        "Exim failure after temporary errors",
        "Mail Delivery System <Mailer-Daemon@mx.shop.example>",
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\n\
         A message that you sent could not be delivered to one or more of its\n\
         recipients. This is a permanent error. The following address(es) failed:\n\n\
         \x20 customer@far.example\n\
         \x20   retry timeout exceeded\n",
        Reason::Expired,
        Action::Failed,
    ),
    (
        "qmail failure quoting a temporary reply",
        "MAILER-DAEMON@mx.shop.example",
        "failure notice",
        "Hi. This is the qmail-send program at mx.shop.example.\n\
         I'm afraid I wasn't able to deliver your message to the following addresses.\n\
         This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
         <customer@far.example>:\n\
         192.0.2.7 does not like recipient.\n\
         Remote host said: 452 4.2.2 Mailbox full\n\
         I'm not going to try again; this message has been in the queue too long.\n",
        Reason::MailboxFull,
        Action::Failed,
    ),
    (
        "OpenSMTPD expiry in its delay template, report part dropped",
        "Mailer Daemon <MAILER-DAEMON@mx.shop.example>",
        "Delivery status notification: delayed",
        "    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n\
         \x20   A message is delayed for more than 0 seconds for the following\n    list of recipients:\n\n\
         customer@far.example: Envelope expired\n\n\
         \x20   Please note that this is only a temporary failure report.\n\
         \x20   The message is kept in the queue for up to 7 days.\n",
        Reason::Expired,
        Action::Failed,
    ),
];

#[test]
fn delay_notices_in_words_are_delayed_and_failures_failed() {
    let mut wrong = Vec::new();
    for &(name, from, subject, body, reason, action) in CASES {
        let report = classify(&notice(from, subject, body));
        let got: Vec<_> =
            report.iter().flat_map(|r| &r.recipients).map(|x| (x.recipient.as_str(), x.reason, x.action)).collect();
        if got != [("customer@far.example", reason, action)] {
            wrong.push(format!("{name}: want customer@far.example {reason}/{}, got {got:?}", action.as_str()));
        }
    }
    assert!(wrong.is_empty(), "{} of {} notices misread:\n{}", wrong.len(), CASES.len(), wrong.join("\n"));
}
