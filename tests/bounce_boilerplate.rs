//! The advice and boilerplate a family of notices always carries ("If your
//! email program automatically suggests an address…", a filtering host's
//! name) decide nothing: the reason comes from the failure itself, and a
//! notice with nothing but boilerplate stays `onhold`.

use winback::bounce::classify;

/// A free-text notice with `text` above the failed address.
fn notice(text: &str) -> Vec<(String, String)> {
    let raw = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: sender@example.com\n\
         Subject: Undeliverable: hello\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
         {text}\n\n   gone@example.net\n\n\
         ------ This is a copy of the message, including all the headers. ------\n\
         From: sender@example.com\nTo: gone@example.net\nSubject: hello\n\nhi\n"
    );
    classify(raw.as_bytes())
        .map(|r| r.recipients.into_iter().map(|x| (x.reason.as_str().to_string(), x.decided_by)).collect())
        .unwrap_or_default()
}

/// Office 365's advice to the sender, as its notices print it.
const MICROSOFT_ADVICE: &str = "Try to fix the problem by doing one or more of the following: \
    1. Send the message again, but before you do, delete and retype the address. If your email \
    program automatically suggests an address to use, don't select it. 2. Clear the recipient \
    AutoComplete cache in your email program by following the steps in this article. \
    3. Contact the recipient by some other means (by phone, for example) to confirm you're using \
    the right address. Ask them if they've set up an email forwarding rule that could be \
    forwarding your message to an incorrect address.";

#[test]
fn advice_to_the_sender_decides_nothing() {
    // "email program" is not a local delivery program (mailererror).
    assert_eq!(notice(MICROSOFT_ADVICE), vec![("onhold".to_string(), "none".to_string())]);
    let with_reply = format!(
        "{MICROSOFT_ADVICE}\nmx.example.net gave this error: <gone@example.net>... User Unknown\n\
         Remote Server returned '550 5.1.1 <gone@example.net>... User Unknown'"
    );
    assert_eq!(notice(&with_reply).first().map(|(r, _)| r.as_str()), Some("userunknown"));
}

#[test]
fn a_host_name_is_not_a_word_of_the_failure() {
    // "barracudanetworks" holds the letters of DANE, the TLS check.
    let text = "The following message could not be delivered.\n\
        host d123.ess.barracudanetworks.com[192.0.2.7] said: 550 permanent failure";
    let got = notice(text);
    assert!(!got.iter().any(|(r, _)| r == "securityerror"), "{got:?}");
    // Exchange Online's outbound DANE refusal, where the word stands alone.
    let dane = "Remote server returned '550 5.7.323 tlsa-invalid: The domain failed DANE validation'";
    assert_eq!(notice(dane).first().map(|(r, _)| r.as_str()), Some("securityerror"));
}
