//! Multi-line SMTP replies as reports quote them: the continuation prefixes
//! (`550-5.7.1 …`, `554-…`) that tell a reply's lines apart, a diagnostic
//! that holds only a reply's first line, and the whole reply put back from
//! the transcript that quotes it. Folding the lines into one sentence is
//! `fold`'s; this module says where a reply's lines are.

use std::collections::HashMap;

/// `550-5.7.1` → `("550", "5.7.1")`; `550-` → `("550", "")`. Not an
/// address or a number after the hyphen (`550-192.0.2.1`): the status is
/// an enhanced code, class, subject and detail.
pub(crate) fn continuation(w: &str) -> Option<(&str, &str)> {
    let (code, rest) = reply_code_prefix(w)?;
    (rest.is_empty() || super::ladder::is_enhanced_status(rest)).then_some((code, rest))
}

/// `554-available` → `("554", "available")`: a continuation line of a
/// reply without enhanced codes, whose text follows the hyphen at once
/// (RFC 5321 `Reply-code "-" [ textstring ]`).
pub(crate) fn reply_code_prefix(w: &str) -> Option<(&str, &str)> {
    let (code, rest) = w.split_at_checked(3)?;
    let rest = rest.strip_prefix('-')?;
    is_reply_code(code).then_some((code, rest))
}

/// Whether a word is a reply code of a success or failure: `250`, `421`, `550`.
pub(crate) fn is_reply_code(w: &str) -> bool {
    w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()) && matches!(w.as_bytes().first(), Some(b'2' | b'4' | b'5'))
}

/// Whether a diagnostic leaves the statement to the report's text, so that
/// the text is read even where a status code speaks: a reply cut after its
/// first line, or an exit status alone.
pub(crate) fn incomplete(diagnostic: &str) -> bool {
    cut_short(diagnostic) || bare_number(diagnostic)
}

/// Whether a diagnostic holds only the first line of a multi-line reply:
/// Sendmail's `Diagnostic-Code: SMTP; 550-5.7.1 [192.0.2.1] Our system has
/// detected that this message is` or `550-SC-001 (…) Unfortunately,
/// messages from` (the rest is in its transcript). The reply's last line,
/// led by its code and a space, is missing.
pub(crate) fn cut_short(diagnostic: &str) -> bool {
    let mut words = diagnostic.split_whitespace();
    let Some((code, _)) = words.next().and_then(reply_code_prefix) else { return false };
    !words.any(|w| w == code)
}

/// The multi-line replies a transcript in `text` quotes whole, by their
/// first line (its words joined by single spaces): Sendmail's
/// `<<< 550-5.7.1 …` lines (or the same lines without the marks) down to
/// the last one, `<<< 550 5.7.1 …`. A reply whose last line is missing is
/// left out, so that a diagnostic is never replaced by a guess. Built once
/// per text (`Reading::whole_reply`), however many recipients share it.
pub(crate) fn quoted_replies(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut open: Option<(&str, Vec<&str>)> = None;
    for line in text.lines() {
        let line = line.trim_start().strip_prefix("<<<").unwrap_or(line).trim();
        if let Some((code, mut lines)) = open.take() {
            match line.strip_prefix(code).and_then(|r| r.chars().next()) {
                Some('-') => {
                    lines.push(line);
                    open = Some((code, lines));
                    continue;
                }
                Some(' ') => {
                    lines.push(line);
                    out.entry(words(lines[0])).or_insert_with(|| lines.join("\n"));
                    continue;
                }
                _ => {}
            }
        }
        if let Some((code, _)) = line.split_whitespace().next().and_then(reply_code_prefix) {
            open = Some((code, vec![line]));
        }
    }
    out
}

/// The whole reply of a diagnostic that holds only its first line
/// ([`cut_short`]), from the replies quoted in the report's text
/// (`quoted_replies`, built only when a diagnostic is cut short).
pub(crate) fn whole_reply<'a>(quoted: impl FnOnce() -> &'a HashMap<String, String>, first: &str) -> Option<String> {
    if !cut_short(first) {
        return None;
    }
    quoted().get(&words(first)).cloned()
}

/// A line's words joined by single spaces.
fn words(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a diagnostic is a number alone: Sendmail's "X-Unix; 75" is the
/// exit status of a local program (75 EX_TEMPFAIL), whose words are in the
/// transcript ("Quota exceeded (mailbox for user is full)"), not in it.
fn bare_number(diagnostic: &str) -> bool {
    let d = diagnostic.trim();
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_prefixes() {
        assert_eq!(continuation("550-5.7.1"), Some(("550", "5.7.1")));
        assert_eq!(continuation("550-"), Some(("550", "")));
        assert_eq!(continuation("550-192.0.2.1"), None);
        assert_eq!(continuation("550-available"), None);
        assert_eq!(reply_code_prefix("554-available"), Some(("554", "available")));
        assert_eq!(reply_code_prefix("abc-def"), None);
        assert_eq!(reply_code_prefix("650-x"), None);
        assert!(is_reply_code("421") && !is_reply_code("4211") && !is_reply_code("650") && !is_reply_code("4a1"));
    }

    #[test]
    fn a_diagnostic_with_only_the_first_line_of_a_reply_is_cut_short() {
        assert!(cut_short("550-5.7.1 [192.0.2.1] Our system has detected that this message is"));
        assert!(cut_short("550-SC-001 (BAY004-MC1F23) Unfortunately, messages from"));
        assert!(!cut_short("550-5.7.1 Our system has detected\n550 5.7.1 likely unsolicited mail"));
        assert!(!cut_short("550 5.7.1 likely unsolicited mail"));
        assert!(!cut_short(""));
    }

    #[test]
    fn the_whole_reply_comes_back_from_the_transcript() {
        let from = |text: &str, first: &str| {
            let replies = quoted_replies(text);
            whole_reply(|| &replies, first)
        };
        let transcript = "... while talking to mx.b.example.:\n>>> RCPT To:<a@b.example>\n\
                          <<< 550-Mailbox not found or access denied: <a@b.example> is a\n\
                          <<< 550 deactivated mailbox\n554 5.0.0 Service unavailable\n";
        let first = "550-Mailbox not found or access   denied: <a@b.example> is a";
        assert_eq!(
            from(transcript, first).as_deref(),
            Some("550-Mailbox not found or access denied: <a@b.example> is a\n550 deactivated mailbox")
        );
        // Not quoted whole (the last line missing), or not quoted at all.
        let cut = "<<< 550-Mailbox not found or access denied: <a@b.example> is a\n>>> QUIT\n";
        assert_eq!(from(cut, first), None);
        assert_eq!(from("nothing here", first), None);
        // A complete diagnostic is kept as it is.
        assert_eq!(from(transcript, "550 5.1.1 user unknown"), None);
    }

    #[test]
    fn an_exit_status_alone_is_no_statement() {
        assert!(bare_number("75"));
        assert!(bare_number(" 77 "));
        assert!(!bare_number(""));
        assert!(!bare_number("550 5.1.1 user unknown"));
        assert!(!bare_number("unknown mail system error 1"));
    }
}
