//! The text the phrase rules read: a failure statement lower-cased, its
//! whitespace collapsed, typographic quotes read as ASCII ones, the lines
//! of a multi-line SMTP reply folded into one sentence however an MTA
//! quotes them (each line's `550-5.7.1` prefix, a transcript's `<<<`,
//! OpenSMTPD's glued lines, Haraka's kept statuses), and, for the rules,
//! mail addresses and host names hidden ([`super::names`]). Where a reply's
//! lines are is [`super::multiline`]'s.

use super::ladder;
use super::multiline::{continuation, is_reply_code, reply_code_prefix};

/// Lower-cases and collapses whitespace, reads typographic quotes as ASCII
/// ones, drops the repeated `550-5.7.1`
/// prefixes of multi-line SMTP replies so phrases that span lines read as
/// one, and hides mail addresses and host names ([`super::names`]).
pub(crate) fn normalize_text(s: &str) -> String {
    let out = fold_text(s);
    match super::names::mask(&out) {
        std::borrow::Cow::Borrowed(_) => out,
        std::borrow::Cow::Owned(masked) => masked,
    }
}

/// [`normalize_text`] without hiding names: lower-cased, whitespace
/// collapsed, typographic quotes as ASCII ones.
pub(crate) fn fold_text(s: &str) -> String {
    if s.is_ascii() {
        // The common case: byte-wise splitting, one lower-casing pass.
        let mut out = join_words(AsciiWords { s, pos: 0 }, s.len());
        out.make_ascii_lowercase();
        out
    } else {
        // Typographic quotes read as ASCII ones ("doesn’t" as "doesn't").
        join_words(s.split_whitespace(), s.len())
            .to_lowercase()
            .replace(['\u{2018}', '\u{2019}', '\u{02bc}'], "'")
            .replace(['\u{201c}', '\u{201d}'], "\"")
    }
}

/// The words of an ASCII text, split at ASCII whitespace.
struct AsciiWords<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for AsciiWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let ws = |i: usize| matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'));
        while ws(self.pos) {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < b.len() && !ws(self.pos) {
            self.pos += 1;
        }
        if start == self.pos { None } else { self.s.get(start..self.pos) }
    }
}

/// Joins words with single spaces, dropping repeated multi-line reply prefixes.
fn join_words<'a>(words: impl Iterator<Item = &'a str>, capacity: usize) -> String {
    let mut words = words.peekable();
    let mut out = String::with_capacity(capacity);
    let mut marker: Option<(&str, &str)> = None;
    // The status after a reply's code ("421 4.7.28 …"), which Haraka keeps
    // at the head of each later line of a multi-line reply when it joins
    // them with spaces: "an unusual rate of 4.7.28 unsolicited mail".
    let mut lone_status: Option<&str> = None;
    let mut prev = "";
    while let Some(w) = words.next() {
        let after_code = is_reply_code(std::mem::replace(&mut prev, w));
        if lone_status == Some(w) && !after_code {
            continue;
        }
        if lone_status.is_none() && after_code && ladder::is_enhanced_status(w) {
            lone_status = Some(w);
        }
        // A transcript's mark before a repeated prefix (Courier's and
        // Sendmail's "<<< 421-4.7.28 …" on each line of the reply).
        if w == "<<<" && marker.is_some_and(|(c, _)| words.peek().is_some_and(|n| n.starts_with(c))) {
            continue;
        }
        // OpenSMTPD joins a reply's lines without a space and keeps each
        // line's status: "an unusual rate of4.7.28 unsolicited mail".
        let glued = marker
            .filter(|(_, st)| !st.is_empty())
            .and_then(|(_, st)| w.strip_suffix(st))
            .filter(|head| !head.is_empty() && !head.ends_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-'));
        let mut word = w;
        if let Some(head) = glued {
            word = head;
        } else if let Some((code, status)) = continuation(w) {
            if marker.is_some_and(|(c, _)| c == code) {
                continue;
            }
            marker = Some((code, status));
        } else if let Some((code, text)) = reply_code_prefix(w) {
            // A reply without enhanced codes: "554-gmx.net … Service not /
            // 554-available": the text of a later line goes on the statement.
            if marker.is_some_and(|(c, st)| c == code && st.is_empty()) {
                word = text;
            } else if !text.is_empty() {
                // The reply's first line: its code apart from its text, as
                // in a one-line reply ("554-IP=192.0.2.1 - A problem …").
                push_word(&mut out, code);
                word = text;
            }
            marker = Some((code, ""));
        } else if let Some((code, status)) = marker
            && w == code
            && words.peek().is_some_and(|n| *n == status || status.is_empty())
        {
            if !status.is_empty() {
                words.next();
            }
            continue;
        }
        push_word(&mut out, word);
    }
    out
}

/// Appends a word, after a space unless it is the first.
fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_reply_reads_as_one_sentence_however_an_mta_quotes_it() {
        let joined = "421-4.7.28 our system has detected an unusual rate of unsolicited mail";
        // Postfix and Exim: each line's prefix.
        assert_eq!(
            fold_text("421-4.7.28 Our system has detected an unusual rate of\n421-4.7.28 unsolicited mail"),
            joined
        );
        // Courier's and Sendmail's transcripts: "<<< " before each line.
        assert_eq!(
            fold_text("<<< 421-4.7.28 Our system has detected an unusual rate of\n<<< 421-4.7.28 unsolicited mail"),
            format!("<<< {joined}")
        );
        // OpenSMTPD: the lines glued, each line's status kept.
        assert_eq!(fold_text("421-4.7.28 Our system has detected an unusual rate of4.7.28 unsolicited mail"), joined);
        // A status glued to a word without a reply of that status before it stays.
        assert_eq!(fold_text("error4.7.28 here"), "error4.7.28 here");
        // A reply without enhanced codes: each line's text follows "554-" at
        // once, and a phrase may run on over a line's end.
        assert_eq!(
            fold_text(
                "554-gmx.net Service not\n554-available / IP address is block\n554-listed. / visit\n554 https://x"
            ),
            "554 gmx.net service not available / ip address is block listed. / visit https://x"
        );
        assert_eq!(
            fold_text(
                "<<< 550-SC-001 Unfortunately, messages from\n<<< 550-192.0.2.1 weren't sent.\n<<< 550 Hotmail does not"
            ),
            "<<< 550 sc-001 unfortunately, messages from 192.0.2.1 weren't sent. hotmail does not"
        );
        // An address after a code and a hyphen is no enhanced status: it
        // begins the text, as after a one-line reply's code.
        assert_eq!(fold_text("550-192.0.2.1 blocked"), "550 192.0.2.1 blocked");
        assert_eq!(fold_text("554-IP=192.0.2.1 - A problem"), "554 ip=192.0.2.1 - a problem");
        // Haraka: the lines joined with spaces, each later line's status kept
        // without its code; the status after the reply's own code stays.
        assert_eq!(
            fold_text("Upstream error: 421 4.7.28 Our system has detected an unusual rate of 4.7.28 unsolicited mail"),
            "upstream error: 421 4.7.28 our system has detected an unusual rate of unsolicited mail"
        );
        // A status not after a reply code, or another status, stays.
        assert_eq!(fold_text("see 4.7.28 and 4.7.28 here"), "see 4.7.28 and 4.7.28 here");
        assert_eq!(fold_text("421 4.7.28 rate of 4.7.0 mail"), "421 4.7.28 rate of 4.7.0 mail");
    }
}
