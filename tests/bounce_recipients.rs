//! Recipients come only from report fields (`Final-Recipient`,
//! `Original-Recipient`) and failure statements, never from the headers
//! (`To:`, `Cc:`) of the quoted original message.

use winback::bounce::classify;

fn recipients(raw: &str) -> Vec<String> {
    classify(raw.as_bytes()).map(|r| r.recipients.into_iter().map(|x| x.recipient).collect()).unwrap_or_default()
}

#[test]
fn a_dsn_names_only_its_final_recipients() {
    let raw = "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail Returned to Sender\n\
        MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
        --b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n\
        --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
        Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n\
        Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown\n\n\
        --b\nContent-Type: message/rfc822\n\nFrom: news@example.com\nTo: gone@example.net, friend@example.org\n\
        Cc: other@example.org\nSubject: hello\n\nbody\n--b--\n";
    assert_eq!(recipients(raw), vec!["gone@example.net".to_string()]);
}

#[test]
fn a_report_without_recipient_fields_does_not_borrow_the_quoted_to() {
    // A delivery-status part with no recipient group: nobody is named, so
    // the quoted original's To and Cc must not stand in.
    let raw = "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Delivery Status Notification (Failure)\n\
        MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
        --b\nContent-Type: text/plain\n\nDelivery failed.\n\n\
        --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
        --b\nContent-Type: message/rfc822\n\nFrom: news@example.com\nTo: quoted@example.net\nCc: copied@example.org\n\
        Subject: hello\n\nbody\n--b--\n";
    let got = recipients(raw);
    assert!(!got.iter().any(|r| r == "quoted@example.net" || r == "copied@example.org"), "{got:?}");
}

#[test]
fn a_free_text_bounce_names_the_failed_address_not_the_quoted_headers() {
    let raw = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: bounces@example.com\n\
        Subject: Mail delivery failed: returning message to sender\n\n\
        This message was created automatically by mail delivery software.\n\n\
        A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. \
        The following address(es) failed:\n\n  gone@example.net\n    host mx.example.net [192.0.2.9]\n    \
        SMTP error from remote mail server after RCPT TO:<gone@example.net>:\n    550 Unknown user\n\n\
        ------ This is a copy of the message, including all the headers. ------\n\n\
        From: news@example.com\nTo: gone@example.net, friend@example.org\nCc: other@example.org\nSubject: hello\n\nbody\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("gone@example.net", "userunknown", true)]);
}

#[test]
fn a_free_text_bounce_without_a_failed_address_yields_no_quoted_recipient() {
    let raw = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: bounces@example.com\n\
        Subject: Mail delivery failed\n\nThe message could not be delivered.\n\n\
        ------ This is a copy of the message, including all the headers. ------\n\n\
        From: news@example.com\nTo: quoted@example.net\nCc: copied@example.org\nSubject: hello\n\nbody\n";
    let got = recipients(raw);
    assert!(!got.iter().any(|r| r == "quoted@example.net" || r == "copied@example.org"), "{got:?}");
}

#[test]
fn a_free_text_bounce_naming_nobody_reports_an_unnamed_recipient() {
    // The failure text says what happened but names no address: one entry
    // with no address, never the quoted original's To.
    let raw = "From: MMSC NDR Administrator <sysadmin@mms.example.net>\nTo: sender@example.com\nSubject: Undeliverable Message\n\n\
        Message could not be delivered to mobile.\nError: No valid recipients for this MM\n\n\
        Original Message:\nFrom: news@example.com\nTo: quoted@example.net\nSubject: hello\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("", "userunknown", true)]);
}

#[test]
fn quoted_headers_without_a_known_separator_name_no_recipient() {
    // A gateway's free-text report that quotes the original's headers under
    // a line no rule knows as a separator: the header block's To and Cc are
    // the original's addressees, not failures.
    let raw = "From: Mail Delivery Subsystem <postmaster@gw.example.org>\nTo: bounces@example.com\n\
        Subject: Undeliverable mail\n\n\
        Delivery to the following recipient failed permanently:\n\n    gone@example.net\n\n\
        Technical details of permanent failure:\n550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command)\n\n\
        Headers of the returned item:\n\n\
        Date: Mon, 1 Jun 2026 10:00:00 +0000\nFrom: news@example.com\nTo: friend@example.org\nCc: other@example.org\nSubject: hello\n\nbody\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("gone@example.net", "userunknown", true)]);
}

#[test]
fn a_notice_that_repeats_the_original_header_lines_still_names_the_failed_recipient() {
    // Exchange 2003: the notice repeats the original's To, Subject and Sent
    // lines above the failure statement, which names the recipient again.
    let raw = "From: postmaster@mx.example.org\nTo: bounces@example.com\nSubject: Undeliverable: hello\n\n\
        Your message\n\nTo: kijitora@example.net\nSubject: hello\nSent: Mon, 1 Jun 2026 10:00:00 +0000\n\n\
        did not reach the following recipient(s):\n\n\
        kijitora@example.net on Mon, 1 Jun 2026 10:00:05 +0000\n\
        \x20   The e-mail account does not exist at the organization this message was sent to.\n\
        \x20   <mx.example.org #5.1.1>\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("kijitora@example.net", "userunknown", true)]);
}

#[test]
fn an_address_whose_words_look_like_a_contact_line_is_still_a_recipient() {
    // qmail lists each failed address on a line of its own; `contact@…` is
    // an address like any other there, and the help-desk line above it is not.
    let raw = "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: failure notice\n\n\
        Hi. This is the qmail-send program at mx.example.org.\n\
        I'm afraid I wasn't able to deliver your message to the following addresses.\n\
        This is a permanent error; I've given up. Sorry it didn't work out.\n\
        For further assistance, please contact <help@example.org>\n\n\
        <gone@example.net>:\n192.0.2.25 does not like recipient.\n\
        Remote host said: 550 5.1.1 <gone@example.net>... User unknown\nGiving up on 192.0.2.25.\n\n\
        <contact@nowhere.example.com>:\n\
        Sorry, I couldn't find any host named nowhere.example.com. (#5.1.2)\n\n\
        --- Below this line is a copy of the message.\n\n\
        From: news@example.com\nTo: gone@example.net,\n contact@nowhere.example.com\nSubject: hello\n\nbody\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(
        got,
        vec![("gone@example.net", "userunknown", true), ("contact@nowhere.example.com", "hostunknown", true)]
    );
}

#[test]
fn a_role_address_is_a_recipient_on_its_own_line_and_a_contact_inside_a_sentence() {
    let raw = "From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail\n\n\
        This message was not delivered to the following recipient(s):\n\n    support@example.org\n\n\
        No further information is available. Questions go to the help desk, <support@gw.example.org>.\n\n\
        --- Original message headers ---\nFrom: news@example.com\nTo: support@example.org\nSubject: hello\n\nbody\n";
    assert_eq!(recipients(raw), vec!["support@example.org".to_string()]);
    // The list's introduction without a colon, its sentence running on.
    let raw = "From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail\n\n\
        Delivery failed for the following recipients\nsupport@example.org: 550 5.1.1 user unknown\n";
    assert_eq!(recipients(raw), vec!["support@example.org".to_string()]);
}

#[test]
fn an_address_offered_for_help_is_a_contact_not_a_recipient() {
    // Notices invite the reader to write to someone; the address they name
    // was never sent to. The failed address is still found. The same verbs
    // inside a failure statement, and Exim's "generated by" naming the
    // recipient behind a pipe, keep their address; so does a statement
    // wrapped before its address.
    let failure = "Your message to gone@example.net could not be delivered: host mx.example.net[192.0.2.9]\n\
        said: 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown (in reply to\n\
        RCPT TO command)";
    let helps = [
        "If you need help, write to helpdesk@provider.example.",
        "For more information, e-mail postmaster@provider.example",
        "Questions? Mail us at info@provider.example",
        "Please forward this message to your administrator at admin@provider.example.",
        "Reply to this message or send it to mailadmin@provider.example for help.",
        "Our help desk (servicedesk@provider.example) can explain this error.",
        "To report a problem, email noc@provider.example with the full message.",
        "Blocked by a DNSBL. Open its page, or send an e-mail message from another address to delist@dnsbl.example with your name.",
        // The same invitations wrapped before the address.
        "For further assistance, please contact\n<postmaster@provider.example>",
        "Blocked by a DNSBL. Open its page, or send an e-mail\nmessage from another address to delist@dnsbl.example with your name.",
        "If you need help, please write to\n  support@provider.example",
    ]
    .map(|help| format!("{help}\n\n{failure}"));
    let failures = [
        "  pipe to |/usr/local/bin/filter\n    generated by gone@example.net\n    local delivery failed",
        "Could not send a message to gone@example.net: 550 5.1.1 user unknown",
        "Error: mail to <gone@example.net> failed: 550 5.1.1 user unknown",
        "Delivery failed. Unable to forward your message to gone@example.net: 550 5.1.1 user unknown",
        "Your message could not be delivered to\n<gone@example.net>: 550 5.1.1 user unknown",
    ]
    .map(String::from);
    for body in helps.iter().chain(&failures) {
        let raw = format!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.provider.example>\nTo: bounces@example.com\n\
             Subject: Mail delivery failed\n\nThe following address(es) failed:\n\n{body}\n"
        );
        assert_eq!(recipients(&raw), vec!["gone@example.net".to_string()], "{body}");
    }
}

/// `(recipient, reason)` of a mailer daemon's free-text notice whose
/// failure text is `text`.
fn notice_read(text: &str) -> Vec<(String, &'static str)> {
    let raw = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.provider.example>\nTo: bounces@example.com\n\
         Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.provider.example.\n\n{text}\n"
    );
    let got = classify(raw.as_bytes()).expect("a bounce").recipients;
    got.iter().map(|r| (r.recipient.clone(), r.reason.as_str())).collect()
}

#[test]
fn the_address_a_recipient_moved_to_is_not_a_failed_recipient() {
    // RFC 5321's 551 names the forward path; Postfix and Courier quote it
    // in their text, the way they quote any reply.
    for text in [
        "<gone@example.net>: host mx.example.net[192.0.2.9] said: 551 5.1.6 User not local;\n    please try <new@example.org> (in reply to RCPT TO command)",
        "<gone@example.net>:\n     mx.example.net [192.0.2.9]:\n >>> RCPT TO:<gone@example.net>\n <<< 551 5.1.6 User not local; please try <new@example.org>",
    ] {
        assert_eq!(notice_read(text), vec![("gone@example.net".to_string(), "hasmoved")], "{text}");
    }
}

#[test]
fn the_alias_a_failed_address_was_expanded_from_is_not_a_failed_recipient() {
    // Sendmail names the alias on a line of its own under the address that
    // failed, Exim "(generated from …)" under its indented entry; Postfix in
    // parentheses after the address.
    for text in [
        "The following address(es) failed:\n\n  real@example.net\n    (generated from alias@example.org)\n    host mx.example.net [192.0.2.9]\n    SMTP error from remote mail server after RCPT TO:<real@example.net>:\n    550 5.1.1 <real@example.net>: Recipient address rejected: User unknown\n",
        "The following address(es) failed:\n\n  real@example.net\n    (ultimately generated from alias@example.org)\n    SMTP error from remote mail server after RCPT TO:<real@example.net>:\n    550 5.1.1 User unknown\n",
        "   ----- The following addresses had permanent fatal errors -----\nreal@example.net\n    (reason: 550 5.1.1 User unknown)\n    (expanded from: <Alias@example.org>)\n",
        "<real@example.net> (expanded from <alias@example.org>): host mx.example.net[192.0.2.9] said: 550 5.1.1\n    User unknown (in reply to RCPT TO command)\n",
    ] {
        assert_eq!(notice_read(text), vec![("real@example.net".to_string(), "userunknown")], "{text}");
    }
    // An alias expanded to a program or a file is the only address there
    // is: the recipient.
    for text in [
        "   ----- The following addresses had permanent fatal errors -----\n\"|exit 67\"\n    (reason: User unknown)\n    (expanded from: <alias@example.org>)\n",
        "The following address(es) failed:\n\n  /var/mail/alias\n    (generated from alias@example.org)\n    mailbox is full\n",
        // Exim hiding the address an alias expanded to.
        "The following address(es) failed:\n\n  an undisclosed address\n    (generated from alias@example.org)\n",
    ] {
        let read: Vec<String> = notice_read(text).into_iter().map(|(r, _)| r).collect();
        assert_eq!(read, vec!["alias@example.org".to_string()], "{text}");
    }
}

#[test]
fn the_sender_a_refusal_names_is_not_a_failed_recipient() {
    // Exim quoting the receiving server's refusal of our sender: the
    // envelope sender it was given, the address it could not verify, the
    // sender Postfix refused or SPF did not allow. The recipient failed
    // because of the sender; the reason is the refusal's.
    let copy = "\n------ This is a copy of the message, including all the headers. ------\n\n\
        Return-Path: <bounces+x1@shop.example>\nFrom: Shop <news@shop.example>\nTo: a@b.example\nSubject: hello\n\nhi\n";
    for (reply, reason) in [
        (
            "SMTP error from remote mail server after RCPT TO:<a@b.example>:\n    550-Verification failed for <news@shop.example>\n    550-Unrouteable address\n    550 Sender verify failed",
            "rejected",
        ),
        (
            "SMTP error from remote mail server after MAIL FROM:<news@shop.example> SIZE=1234:\n    450 4.1.8 <news@shop.example>: Sender address rejected: Domain not found",
            "rejected",
        ),
        (
            "SMTP error from remote mail server after end of data:\n    550 5.7.1 SPF: 192.0.2.1 is not allowed to send mail from news@shop.example",
            "authfailure",
        ),
        // policyd-spf (Python): the sender in the explanation's URL.
        (
            "SMTP error from remote mail server after RCPT TO:<a@b.example>:\n    550 5.7.23 <a@b.example>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=news@shop.example;ip=192.0.2.1;r=mx.b.example",
            "authfailure",
        ),
    ] {
        for quoted in ["", copy] {
            let text = format!(
                "A message that you sent could not be delivered to one or more of its\nrecipients. \
                 This is a permanent error. The following address(es) failed:\n\n  a@b.example\n    \
                 host mx.b.example [192.0.2.9]\n    {reply}\n{quoted}"
            );
            let read = notice_read(&text);
            let named: Vec<&str> = read.iter().map(|(r, _)| r.as_str()).collect();
            assert_eq!(named, vec!["a@b.example"], "{text}");
            assert_eq!(read[0].1, reason, "{text}");
        }
    }
    // A notice's own sentence naming the sender before the recipient.
    for text in [
        "Your message from news@shop.example to a@b.example could not be delivered.\nReason: 550 5.1.1 User unknown",
        "The message you sent (from news@shop.example) to a@b.example was rejected:\n550 5.1.1 User unknown",
    ] {
        assert_eq!(notice_read(text), vec![("a@b.example".to_string(), "userunknown")], "{text}");
    }
    // A reply naming another address (a forward's target) under a
    // recipient still waiting for its reason is that reason; a list of
    // replies, each naming its own address, is a list of recipients.
    let text = "Sorry, unable to deliver your message to usery@example.com for\nthe following reason:\n\n 552 Quota violation for userx@example.org\n";
    assert_eq!(notice_read(text), vec![("usery@example.com".to_string(), "mailboxfull")]);
    let text = "The following errors occurred:\n550 5.1.1 <a@b.example>: Recipient address rejected: User unknown\n\
        552 5.2.2 <c@b.example>: Mailbox full\n";
    let want = vec![("a@b.example".to_string(), "userunknown"), ("c@b.example".to_string(), "mailboxfull")];
    assert_eq!(notice_read(text), want);
    // A message to oneself: the sender is the only address, and the recipient.
    let text = "The following address(es) failed:\n\n  news@shop.example\n    Mailbox is full\n\n\
        ------ This is a copy of the message, including all the headers. ------\n\nFrom: news@shop.example\n\
        To: news@shop.example\n\nhi\n";
    assert_eq!(notice_read(text), vec![("news@shop.example".to_string(), "mailboxfull")]);
}

#[test]
fn recipients_listed_above_one_reason_share_it() {
    let raw = "From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undeliverable: Q3 invoices\n\n\
        Your message did not reach some or all of the intended recipients.\n\n\
        The following recipient(s) could not be reached:\n   finance@example.net\n   ap-team@example.net\n\
           Reason: 550 5.7.1 Message rejected due to local policy: attachment type (.js) is not permitted\n\n\
        ----- Original message headers -----\nFrom: news@example.com\nTo: billing@example.org\n\
        Cc: finance@example.net, ap-team@example.net\nSubject: Q3 invoices\n\nbody\n";
    let report = classify(raw.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str())).collect();
    assert_eq!(got, vec![("finance@example.net", "policyviolation"), ("ap-team@example.net", "policyviolation")]);
}

#[test]
fn thousands_of_recipients_each_come_once_with_their_reason() {
    // Listed above one reason (each takes the reason, not its neighbours'
    // lines), and as DSN fields against a long text that names none of them.
    let n = 3000;
    let list: String = (0..n).map(|i| format!("   user{i}@example.net\n")).collect();
    let raw = format!(
        "From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undeliverable: hello\n\n\
         The following recipient(s) could not be reached:\n{list}   Reason: 550 5.1.1 User unknown\n"
    );
    let report = classify(raw.as_bytes()).expect("a bounce");
    assert_eq!(report.recipients.len(), n);
    for (i, r) in report.recipients.iter().enumerate() {
        assert_eq!((r.recipient.as_str(), r.reason.as_str()), (format!("user{i}@example.net").as_str(), "userunknown"));
        assert!(r.diagnostic.len() < 200, "recipient {i} carries its neighbours: {} bytes", r.diagnostic.len());
    }
    let text = "The mail system could not deliver your message.\n".repeat(n);
    let fields: String = (0..n)
        .map(|i| format!("Final-Recipient: rfc822; user{i}@example.net\nAction: failed\nStatus: 5.2.2\n\n"))
        .collect();
    let raw = format!(
        "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
         {text}--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n{fields}--b--\n"
    );
    let report = classify(raw.as_bytes()).expect("a DSN");
    let got: Vec<(String, &str)> = report.recipients.iter().map(|r| (r.recipient.clone(), r.reason.as_str())).collect();
    let want: Vec<(String, &str)> = (0..n).map(|i| (format!("user{i}@example.net"), "mailboxfull")).collect();
    assert_eq!(got, want);
}

#[test]
fn a_report_is_read_for_at_most_max_recipients() {
    use winback::bounce::MAX_RECIPIENTS;
    let n = MAX_RECIPIENTS + 7;
    let addr = |i: usize| format!("u{i}@example.net");
    // Listed one to a line, as DSN fields, and in X-Failed-Recipients: the
    // first MAX_RECIPIENTS, in order, and the report says it was capped.
    let list: String = (0..n).map(|i| addr(i) + "\n").collect();
    let fields: String =
        (0..n).map(|i| format!("Final-Recipient: rfc822; {}\nAction: failed\nStatus: 5.1.1\n\n", addr(i))).collect();
    let header: String = (0..n).map(addr).collect::<Vec<_>>().join(",\n ");
    for raw in [
        format!("From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undeliverable\n\n{list}"),
        format!(
            "From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nSubject: Undelivered Mail\nMIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
             --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n{fields}--b--\n"
        ),
        format!("From: MAILER-DAEMON@mx.example.org\nTo: bounces@example.com\nX-Failed-Recipients: {header}\n\nNo.\n"),
    ] {
        let report = classify(raw.as_bytes()).expect("a bounce");
        assert!(report.capped());
        assert_eq!(report.recipients.len(), MAX_RECIPIENTS);
        assert!(report.recipients.iter().enumerate().all(|(i, r)| r.recipient == addr(i)));
    }
    let few =
        format!("From: MAILER-DAEMON@gw.example.org\nTo: bounces@example.com\nSubject: Undeliverable\n\n{}", addr(1));
    assert!(!classify(few.as_bytes()).expect("a bounce").capped());
}

#[test]
fn recipient_groups_without_addresses_take_x_failed_recipients_in_order() {
    // A gateway that keeps addresses out of its report: two groups, two
    // addresses in X-Failed-Recipients; the quoted Cc stays out.
    let report = |failed: &str| {
        format!(
            "From: Mail Gateway <no-reply@gw.example.net>\nTo: bounces@example.com\nX-Failed-Recipients: {failed}\n\
            Subject: Non-delivery report\nMIME-Version: 1.0\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
            --b\nContent-Type: text/plain\n\nFor privacy reasons the affected addresses are not listed.\n\n\
            --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; gw.example.net\n\n\
            Action: failed\nStatus: 5.1.2\nDiagnostic-Code: X-Gateway; Host or domain name not found\n\n\
            Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 Recipient not found\n\n\
            --b\nContent-Type: text/rfc822-headers\n\nFrom: news@example.com\nTo: a@nodomain.example.org\n\
            Cc: b@example.net, copied@example.org\nSubject: hello\n\n--b--\n"
        )
    };
    let paired = classify(report("a@nodomain.example.org, b@example.net").as_bytes()).expect("a bounce");
    let got: Vec<_> = paired.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("a@nodomain.example.org", "hostunknown", true), ("b@example.net", "userunknown", true)]);

    // Three addresses for two groups: which group is whose is unknown, so
    // every address is reported without a reason taken from a group.
    let unpaired =
        classify(report("a@nodomain.example.org, b@example.net, c@example.net").as_bytes()).expect("a bounce");
    let got: Vec<_> = unpaired.recipients.iter().map(|x| (x.recipient.as_str(), x.hard)).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|(_, hard)| !hard), "{got:?}");
}

#[test]
fn an_automatic_notice_quoting_a_refusal_is_a_bounce_and_an_away_message_stays_one() {
    let notice = |body: &str| {
        format!(
            "From: \"Example Hosting\" <notifications@hosting.example.net>\nTo: events@example.com\n\
            Subject: About your message to Tom Baker\nAuto-Submitted: auto-replied\n\n{body}"
        )
    };
    let refused = notice(
        "We tried to pass on your email to Tom Baker <tom.baker@example.org>, but the\n\
        receiving mail server would not take it. What it told us:\n\n\
        \x20 550 5.1.1 <tom.baker@example.org>: Recipient address rejected: User unknown\n\n\
        We will not try to send this email again.\n",
    );
    let report = classify(refused.as_bytes()).expect("a bounce");
    let got: Vec<_> = report.recipients.iter().map(|x| (x.recipient.as_str(), x.reason.as_str(), x.hard)).collect();
    assert_eq!(got, vec![("tom.baker@example.org", "userunknown", true)]);

    let away = notice("I am out of the office until 5.1.2027 and will answer when I am back.\n");
    let report = classify(away.as_bytes()).expect("an automatic reply");
    let got: Vec<_> = report.recipients.iter().map(|x| x.reason.as_str()).collect();
    assert_eq!(got, vec!["vacation"]);
}
