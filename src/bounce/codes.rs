//! Finds SMTP reply codes (`550`) and RFC 3463 enhanced status codes
//! (`5.1.1`) in free text, without mistaking IP addresses, dates or
//! version numbers for them.

/// All enhanced status codes in the text, in order.
pub(crate) fn enhanced_all(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    let b = text.as_bytes();
    let mut i = 0usize;
    std::iter::from_fn(move || {
        while i < b.len() {
            let start = i;
            i += 1;
            let Some(&c) = b.get(start) else { break };
            if !matches!(c, b'2' | b'4' | b'5') {
                continue;
            }
            if start > 0
                && b.get(start - 1).is_some_and(|p| p.is_ascii_alphanumeric() || *p == b'.' || *p == b'-')
                && !continues_reply(b, start)
            {
                continue;
            }
            if b.get(start + 1) != Some(&b'.') {
                continue;
            }
            let (n1, after1) = digits(b, start + 2, 3);
            if n1 == 0 || b.get(after1) != Some(&b'.') {
                continue;
            }
            let (n2, end) = digits(b, after1 + 1, 3);
            if n2 == 0 {
                continue;
            }
            // Reject IP addresses and versions: `5.1.1.1`, `5.1.1a`.
            if b.get(end).is_some_and(|n| n.is_ascii_alphanumeric())
                || (b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit))
            {
                i = end;
                continue;
            }
            i = end;
            return text.get(start..end).map(|s| (start, s.to_string()));
        }
        None
    })
}

/// A status right after a multi-line reply's code, `550-5.1.1` (RFC 5321
/// continuation lines, which Postfix and Exim keep when they quote a reply).
fn continues_reply(b: &[u8], start: usize) -> bool {
    let Some(code_start) = start.checked_sub(4) else { return false };
    b.get(start - 1) == Some(&b'-')
        && b.get(code_start..start - 1).is_some_and(|c| c.iter().all(u8::is_ascii_digit))
        && !(code_start > 0 && b.get(code_start - 1).is_some_and(|p| p.is_ascii_alphanumeric() || *p == b'-'))
}

fn digits(b: &[u8], from: usize, max: usize) -> (usize, usize) {
    let mut n = 0;
    while n < max && b.get(from + n).is_some_and(u8::is_ascii_digit) {
        n += 1;
    }
    if b.get(from + n).is_some_and(u8::is_ascii_digit) {
        return (0, from);
    }
    (n, from + n)
}

/// The first enhanced status code in the text.
pub(crate) fn first_enhanced(text: &str) -> Option<String> {
    enhanced_all(text).next().map(|(_, s)| s)
}

/// The first failure status (4.x.x or 5.x.x) in free text; a 2.x.x in a
/// transcript is an earlier command's success, not the outcome.
pub(crate) fn first_failure_status(text: &str) -> Option<String> {
    enhanced_all(text).map(|(_, s)| s).find(|s| !s.starts_with('2'))
}

/// The first plausible failure reply code (4xx, 5xx) in the text: three
/// digits standing alone, followed by a space, `-` or the end.
pub(crate) fn first_reply_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(2)).find_map(|start| reply_code_at(b, start))
}

/// The failure reply code starting at `start`, if three digits stand alone
/// there (not part of a number, an address, a path or an ID).
fn reply_code_at(b: &[u8], start: usize) -> Option<u16> {
    let (Some(&c0), Some(&c1), Some(&c2)) = (b.get(start), b.get(start + 1), b.get(start + 2)) else { return None };
    if !matches!(c0, b'4' | b'5') || !(b'0'..=b'5').contains(&c1) || !c2.is_ascii_digit() {
        return None;
    }
    if start > 0
        && b.get(start - 1)
            .is_some_and(|p| p.is_ascii_alphanumeric() || matches!(p, b'.' | b':' | b'-' | b'/' | b'#' | b'+' | b'='))
    {
        return None;
    }
    match b.get(start + 3) {
        None | Some(b' ') | Some(b'-') | Some(b'\t') | Some(b'\n') | Some(b'"') | Some(b')') | Some(b']') => {}
        Some(b'.') if !b.get(start + 4).is_some_and(u8::is_ascii_digit) => {}
        _ => return None,
    }
    Some(u16::from(c0 - b'0') * 100 + u16::from(c1 - b'0') * 10 + u16::from(c2 - b'0'))
}

/// Whether the text quotes a failure reply whole: a 4xx or 5xx code
/// followed by an enhanced status of the same class (`550 5.7.1 …`,
/// `452-4.2.2 …`), the mark of a server's refusal rather than prose.
pub(crate) fn quotes_failure_reply(text: &str) -> bool {
    let b = text.as_bytes();
    enhanced_all(text).any(|(at, status)| {
        let Some(from) = at.checked_sub(4) else { return false };
        matches!(b.get(from + 3), Some(b' ' | b'-'))
            && reply_code_at(b, from).is_some_and(|code| same_class(code, &status))
    })
}

/// Whether an enhanced status is of the reply code's class (`550` and `5.x.x`).
fn same_class(code: u16, status: &str) -> bool {
    status.starts_with(char::from(b'0' + (code / 100) as u8))
}

/// The enhanced status of a quoted reply that writes it after a `#`
/// (`550 #5.7.1 …`, as Exchange 2003 and Google Workspace do). MTAs that
/// look for `550 5.7.1` miss it and put a status of their own in the report
/// (Sendmail a 5.1.1 for any 550 to RCPT TO), so the quoted one is the server's.
pub(crate) fn hash_marked_status(text: &str) -> Option<String> {
    let b = text.as_bytes();
    enhanced_all(text).find_map(|(at, status)| {
        let from = at.checked_sub(5)?;
        (b.get(from + 3..at) == Some(b" #".as_slice())
            && reply_code_at(b, from).is_some_and(|code| same_class(code, &status)))
        .then_some(status)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reply_is_a_code_and_a_status_of_one_class() {
        assert!(quotes_failure_reply("the server told us:\n  550 5.7.1 <a@b.example>: refused"));
        assert!(quotes_failure_reply("452-4.2.2 The email account is over quota"));
        assert!(!quotes_failure_reply("250 2.0.0 Ok: queued"));
        assert!(!quotes_failure_reply("I'm away until 5.1.2025, back at 9.30"));
        assert!(!quotes_failure_reply("room 450 5.1.1 meets"));
        assert!(!quotes_failure_reply("version 10.550 5.1.1"));
    }

    #[test]
    fn finds_codes_and_skips_addresses() {
        assert_eq!(first_enhanced("host [192.5.1.1] said 550 5.1.1 user"), Some("5.1.1".into()));
        assert_eq!(first_enhanced("version 5.2.10.3"), None);
        assert_eq!(first_enhanced("#5.7.509 Access denied"), Some("5.7.509".into()));
        // A multi-line reply quoted whole: "550-5.1.1 The email account …".
        assert_eq!(first_enhanced("said: 550-5.1.1 The email account"), Some("5.1.1".into()));
        assert_eq!(first_enhanced("id x-5.1.1 and ab550-5.1.1"), None);
        assert_eq!(first_reply_code("host 192.0.2.1 said: 550-5.1.1 no"), Some(550));
        assert_eq!(first_reply_code("Sun, 12 Jan 2014 10:45:50 +0900"), None);
        assert_eq!(first_reply_code("<<< 452 4.2.2 full"), Some(452));
    }

    #[test]
    fn a_status_after_a_hash_is_the_replys_own() {
        assert_eq!(hash_marked_status("550 #5.7.1 Your access … rejected"), Some("5.7.1".into()));
        assert_eq!(hash_marked_status("said: 550 #5.1.0 Address rejected."), Some("5.1.0".into()));
        assert_eq!(hash_marked_status("550 5.7.1 no hash"), None);
        assert_eq!(hash_marked_status("550 #4.7.1 other class"), None);
        assert_eq!(hash_marked_status("ticket #5.7.1"), None);
    }
}
