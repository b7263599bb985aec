//! Free-text bounces: the part of the human-readable text that speaks of
//! the failure (before the quoted original), the recipient addresses in it,
//! and the lines that belong to each recipient.
//!
//! MTAs that write free text (Exim, qmail, Sendmail's transcript, Exchange,
//! Gmail, Yahoo, Courier, Domino, …) share one shape: an address, then the
//! lines that explain what happened to it, until the next address. The
//! text before the first address is the preamble; it often carries the
//! only explanation when the failure applies to every recipient. One
//! exception: a Sendmail transcript block ("... while talking to …:", the
//! dialogue under it) goes with the recipient named after it, even from
//! the preamble. Not every address names a recipient: contacts offered for
//! help, message identifiers, the message's own sender (in the server's
//! refusal or the notice's words), the alias a failed address was expanded
//! from, addresses inside links, and the headers of the quoted original
//! are passed over.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::rules::Rules;
use super::scan;

/// The text of one recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Lower-cased address.
    pub recipient: String,
    /// The lines about it, joined with `\n`.
    pub text: String,
}

/// A free-text bounce taken apart (borrowing the text).
#[derive(Debug, Clone, Default)]
pub(crate) struct FreeText<'a> {
    /// Text before the first recipient.
    pub preamble: String,
    /// One segment per recipient, in order of first mention.
    pub segments: Vec<Segment>,
    /// The whole failure text (up to the quoted original).
    pub whole: &'a str,
    /// The quoted original, from the line that introduces it.
    pub quoted: &'a str,
    /// Index of each recipient's segment.
    index: HashMap<String, usize>,
}

impl FreeText<'_> {
    /// The segment of `recipient`, if the text names it.
    pub fn segment(&self, recipient: &str) -> Option<&Segment> {
        self.index.get(recipient).and_then(|&i| self.segments.get(i))
    }

    /// Moves the text of segment `from` (None: the preamble) after byte
    /// `at` to the start of segment `to`.
    fn move_tail(&mut self, from: Option<usize>, at: usize, to: usize) {
        let source = match from.and_then(|i| self.segments.get_mut(i)) {
            Some(seg) => &mut seg.text,
            None => &mut self.preamble,
        };
        let Some(tail) = source.get(at..).map(str::to_string) else { return };
        source.truncate(at);
        if let Some(seg) = self.segments.get_mut(to) {
            seg.text.insert_str(0, &tail);
        }
    }
}

/// Whether `line` opens Sendmail's transcript of one SMTP session ("...
/// while talking to mx.b.example.:"): the dialogue under it (">>> MAIL
/// From:<…>", "<<< 421 4.7.0 … rate limited") is about the recipient named
/// next ("<a@b.example>... Deferred: Connection reset by mx.b.example."),
/// even when it comes before any address, as in Sendmail's delay warning.
fn starts_transcript(line: &str) -> bool {
    let t = line.trim_start();
    t.get(..20).is_some_and(|p| p.eq_ignore_ascii_case("... while talking to"))
}

/// Sendmail's own summary of a refused recipient, "550 5.1.1
/// <a@b.example>... User unknown": it writes that for any permanent refusal
/// of RCPT, so after the server's own reply in its transcript ("<<< 550
/// Administrative prohibition") it is no evidence of the cause.
fn is_sendmail_summary(line: &str) -> bool {
    let mut words = line.trim_start().splitn(3, ' ');
    let (Some(code), Some(status), Some(rest)) = (words.next(), words.next(), words.next()) else { return false };
    super::codes::first_reply_code(code).is_some()
        && super::codes::first_enhanced(status).as_deref() == Some(status)
        && rest.starts_with('<')
        && rest.contains(">... ")
}

/// Header-like line starts whose addresses are never recipients.
const NOT_RECIPIENT_LINES: &[&str] = &[
    "from:",
    // Sendmail-style "The original message was received at … / from
    // a@b.example": the sender of the original.
    "from ",
    "reply-to:",
    "sender:",
    "return-path:",
    "message-id:",
    "references:",
    "in-reply-to:",
    "received:",
    "by ",
    "with ",
    "id ",
    "(envelope-from",
    "envelope-from",
    ">>> mail from",
    "mail from:",
    "x-",
    "errors-to:",
    "list-",
    "dkim-signature:",
    "authentication-results:",
];

/// The field names under which a notice quotes the original's subject
/// (Exchange's "Your message / To: / Subject: / Sent: / did not reach …",
/// in the languages Exchange and Outlook write it). The subject is the
/// sender's own words ("Your coupon has expired"), never a statement of
/// the failure: such a line is left out of the preamble and the segments.
const QUOTED_SUBJECT: &[&str] = &[
    "subject:",
    "betreff:",
    "objet:",
    "objet :",
    "asunto:",
    "oggetto:",
    "assunto:",
    "onderwerp:",
    "ämne:",
    "emne:",
    "aihe:",
    "temat:",
    "předmět:",
    "tárgy:",
    "konu:",
    "тема:",
    "θέμα:",
    "件名:",
    "件名：",
    "主题:",
    "主旨:",
    "제목:",
];

/// Whether `line` quotes the original's subject: its field name, up to the
/// first colon within a dozen characters, is one of [`QUOTED_SUBJECT`]
/// (lower-cased only for lines that have such a colon).
fn is_quoted_subject(line: &str) -> bool {
    let lead = line.trim_start();
    let colon = lead.char_indices().take(12).find(|(_, c)| matches!(c, ':' | '：'));
    colon.is_some_and(|(i, c)| {
        let name = lead.get(..i + c.len_utf8()).unwrap_or_default().to_lowercase();
        QUOTED_SUBJECT.contains(&name.as_str())
    })
}

/// Splits the failure text from the quoted original at the first line that
/// matches an `original_start` pattern (patterns match within one line).
pub(crate) fn cut_original<'a>(text: &'a str, rules: &Rules) -> (&'a str, &'a str) {
    let detect = &rules.detect;
    let at = |i: usize| (text.get(..i).unwrap_or(text), text.get(i..).unwrap_or(""));
    let Some(first) = &detect.original_first else {
        return detect.original_start.find(text).map_or((text, ""), |m| at(m.start()));
    };
    // The regex runs only on lines whose first byte (after `>` quoting and
    // indentation) can start a match: a handful per text.
    let mut start = 0;
    while let Some(rest) = text.get(start..).filter(|r| !r.is_empty()) {
        let end = memchr::memchr(b'\n', rest.as_bytes()).map_or(text.len(), |i| start + i + 1);
        let line = text.get(start..end).unwrap_or("");
        let lead = line.bytes().find(|b| !matches!(b, b'>' | b' ' | b'\t'));
        let candidate = lead.is_some_and(|b| b >= 0x80 || first.get(usize::from(b)).copied().unwrap_or(true));
        if candidate && detect.original_start.is_match(line) {
            return at(start);
        }
        start = end;
    }
    (text, "")
}

/// Takes a free-text failure text apart. `known` are the recipients named
/// elsewhere (X-Failed-Recipients, DSN fields): when given, only they start
/// segments. `exclude` are addresses that are never recipients (the sender).
pub(crate) fn analyse<'a>(text: &'a str, known: &[String], exclude: &[String], rules: &Rules) -> FreeText<'a> {
    // The quoted original is never evidence: its headers name other people.
    let (head, quoted) = cut_original(text, rules);
    let mut out = FreeText { whole: head, quoted, ..FreeText::default() };
    let mut current: Option<usize> = None;
    let known_set: HashSet<&str> = known.iter().map(String::as_str).collect();
    let lines: Vec<&str> = scan::lines(head).map(unquote).collect();
    // Whether the previous line was a quoted addressee header (or its folded continuation).
    let mut in_addressees = false;
    // Where an SMTP transcript block began ("... while talking to mx.b.example.:")
    // that no address line has followed yet: its segment (None: the
    // preamble) and the length of that text before the block.
    let mut transcript: Option<(Option<usize>, usize)> = None;
    // Whether that block quoted the server's reply ("<<< 550 …").
    let mut server_replied = false;
    // Whether the last entry of a list of failed addresses ([`is_entry`])
    // named a recipient.
    let mut entry_named = false;
    // Whether the current recipient's text has a server's reply yet.
    let mut replied = false;
    for (i, &line) in lines.iter().enumerate() {
        // A folded continuation is indented, not blank, and not the next
        // header: Exchange indents the whole block and the text after it.
        let continued =
            in_addressees && line.starts_with([' ', '\t']) && !line.trim().is_empty() && quoted_header(line).is_none();
        let addressees = is_quoted_addressee(&lines, i) || continued;
        in_addressees = addressees;
        let found = if addressees || memchr::memchr(b'@', line.as_bytes()).is_none() {
            None
        } else if entry_named && names_alias(line) {
            // The alias a failed address was expanded from did not fail:
            // its expansion did.
            None
        } else {
            let before = i.checked_sub(1).and_then(|p| lines.get(p)).copied().filter(|p| runs_on(p));
            recipient_on_line(line, before, known, &known_set, exclude, rules)
        };
        // A reply naming another address under a recipient that has none
        // yet is that recipient's reason ("Sorry, unable to deliver your
        // message to a@b.example for the following reason: / 552 Quota
        // violation for c@b.example": a forward's target).
        let found = found.filter(|a| {
            !known.is_empty() || current.is_none() || replied || out.index.contains_key(a) || !starts_with_reply(line)
        });
        if found.is_none() && is_quoted_subject(line) {
            continue;
        }
        if found.as_ref().is_some_and(|a| out.segments.len() >= super::MAX_RECIPIENTS && !out.index.contains_key(a)) {
            // As many recipients as a report is read for: the rest is not read.
            break;
        }
        let names_one = found.is_some();
        if is_entry(line) {
            entry_named = names_one;
        }
        if let Some(addr) = found {
            let next = out.segments.len();
            let idx = *out.index.entry(addr).or_insert_with_key(|a| {
                out.segments.push(Segment { recipient: a.clone(), text: String::new() });
                next
            });
            if let Some((owner, at)) = transcript.take().filter(|(owner, _)| *owner != Some(idx)) {
                out.move_tail(owner, at, idx);
            }
            current = Some(idx);
            replied = false;
        }
        replied |= starts_with_reply(line);
        let target = match current.and_then(|i| out.segments.get_mut(i)) {
            Some(seg) => &mut seg.text,
            None => &mut out.preamble,
        };
        if !names_one && starts_transcript(line) {
            transcript = Some((current, target.len()));
            server_replied = false;
        }
        server_replied |= line.trim_start().starts_with("<<<");
        if names_one && server_replied && is_sendmail_summary(line) {
            server_replied = false;
            continue;
        }
        target.push_str(line.trim());
        target.push('\n');
    }
    share_listed_reason(&mut out.segments);
    out
}

/// Whether `line` begins with a server's reply code ("552 …", "550-5.1.1 …").
fn starts_with_reply(line: &str) -> bool {
    let t = line.trim_start().as_bytes();
    t.len() > 3
        && matches!(t.first(), Some(b'2'..=b'5'))
        && t.get(1..3).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && matches!(t.get(3), Some(b' ' | b'-'))
}

/// Whether `line` names the alias the entry above it was expanded from:
/// Sendmail writes it on a line of its own under the failed entry ("a@b.example
/// / (reason: 550 …) / (expanded from: <alias@c.example>)"), Exim as "(generated
/// from alias@c.example)" or "(ultimately generated from …)", Postfix in
/// parentheses after the address. When the entry is a program or a file
/// ("|exit 67", "/var/mail/a"), the alias is the only address there is,
/// and the recipient.
fn names_alias(line: &str) -> bool {
    let t = line.trim_start();
    ALIAS_INTROS.iter().any(|p| t.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)))
}

/// How MTAs introduce the alias a failed address was expanded from.
const ALIAS_INTROS: [&str; 3] = ["(expanded from", "(generated from", "(ultimately generated from"];

/// Whether `line` is an entry of a list of failed addresses, not a detail
/// under one: Sendmail writes entries at the margin, Exim indents them by
/// two spaces and their details by four.
fn is_entry(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && line.len() - t.len() <= 2 && !t.starts_with('(')
}

/// The failed recipient a line names, if any. `before` is the previous line
/// when the sentence runs on from it into this one ("… please contact\n
/// <postmaster@b.example>"): the line's words are read with it.
fn recipient_on_line(
    line: &str,
    before: Option<&str>,
    known: &[String],
    known_set: &HashSet<&str>,
    exclude: &[String],
    rules: &Rules,
) -> Option<String> {
    let own = line.trim().to_ascii_lowercase();
    if NOT_RECIPIENT_LINES.iter().any(|p| own.starts_with(p)) {
        return None;
    }
    let lower: Cow<'_, str> = match before {
        Some(b) => Cow::Owned(format!("{} {own}", b.trim().to_ascii_lowercase())),
        None => Cow::Borrowed(&own),
    };
    // A line led by an address is a statement about it ("a@b.example: 550
    // … please contact the administrator of …"): only the words of a
    // sentence running on into it can make it a contact; any other line is
    // judged by all its words ("For assistance, write to …").
    let leads = addresses(&own).first().is_some_and(|a| own.trim_start_matches(['<', '"']).starts_with(a.as_str()));
    let judged = if leads { before.map(str::to_ascii_lowercase).map(Cow::Owned) } else { Some(Cow::Borrowed(&*lower)) };
    if judged.is_some_and(|j| rules.detect.not_recipient_line.is_match(&words_only(&j))) {
        return None;
    }
    addresses(&own).into_iter().find(|a| {
        if !known.is_empty() {
            return known_set.contains(a.as_str());
        }
        // A role address (support@, abuse@) inside a sentence is a
        // contact; at the start of its line it is a failed one ("… failed
        // for the following recipients" wrapped above it lists it), unless
        // the words before it invite the reader to write.
        let leads = own.trim_start_matches(['<', '"']).starts_with(a.as_str());
        !exclude.iter().any(|x| x == a)
            && (leads || !rules.detect.not_recipient.is_match(a))
            && !introduced_as_contact(&lower, a, rules)
            && !names_a_message_id(&lower, a)
            && !names_the_sender(&lower, a)
    })
}

/// Whether a line's sentence runs on into the next line: it has words and
/// ends in one (or a comma), and names no address of its own (a list of
/// addresses, one a line, is not a sentence).
fn runs_on(line: &str) -> bool {
    let t = line.trim_end();
    t.chars().last().is_some_and(|c| c.is_alphanumeric() || c == ',')
        && memchr::memchr(b'@', t.as_bytes()).is_none()
        && t.split_whitespace().count() >= 2
}

/// Whether the words just before `addr` on its line introduce a contact
/// ("If you need help, write to …", "our help desk (…)").
fn introduced_as_contact(line: &str, addr: &str, rules: &Rules) -> bool {
    words_before(line, addr, 80).is_some_and(|before| rules.detect.contact_before.is_match(before))
}

/// At most `len` bytes of `line` just before `addr`.
fn words_before<'l>(line: &'l str, addr: &str, len: usize) -> Option<&'l str> {
    let at = line.find(addr)?;
    line.get(line.ceil_char_boundary(at.saturating_sub(len))..at)
}

/// Whether `addr` is written as a message identifier ("the message-id of
/// <x@b.example>", "Message-ID: <x@b.example>", "msgid=<…>"): it names a
/// message, not a mailbox.
fn names_a_message_id(line: &str, addr: &str) -> bool {
    words_before(line, addr, 24).is_some_and(|before| {
        let before = before.trim_end_matches(['<', ' ', ':', '=', '"']);
        ["message-id", "message id", "msgid", "message-id of", "message id of"].iter().any(|m| before.ends_with(m))
    })
}

/// Whether `addr` is written as the sender of the message: the envelope
/// sender of the SMTP dialogue (Exim "SMTP error from remote mail server
/// after MAIL FROM:<a@b.example> SIZE=1234:"), a notice's "Your message
/// from a@b.example to c@d.example could not be delivered", the address a receiving
/// Exim failed to verify ("550-Verification failed for <a@b.example>"),
/// or one refused as a sender (Postfix "<a@b.example>: Sender address
/// rejected: Domain not found"). The server's reply names it; the
/// recipient failed because of it.
fn names_the_sender(line: &str, addr: &str) -> bool {
    let before = words_before(line, addr, 32).is_some_and(|before| {
        let before = before.trim_end_matches(['<', ' ', ':', '=', '"', '(']);
        // Not an alias's "(generated from …)", "(expanded from …)" (see [`names_alias`]).
        let alias = ALIAS_INTROS.iter().any(|p| before.ends_with(p.trim_start_matches('(')));
        let from = !alias && before.strip_suffix("from").is_some_and(|b| b.is_empty() || b.ends_with([' ', '(', '-']));
        from || ["verification failed for", "envelope sender"].iter().any(|m| before.ends_with(m))
    });
    let after = line.find(addr).and_then(|at| line.get(at + addr.len()..)).is_some_and(|after| {
        let after = after.trim_start_matches(['>', '"', ':', '.', ' ']);
        after.starts_with("sender address rejected")
    });
    before || after
}

/// The sender of the quoted original, from its `From:`, `Sender:` and
/// `Return-Path:` header lines (`quoted` begins with its header block, as
/// after Exim's "------ This is a copy of the message, including all the
/// headers. ------", or is the header block of a `message/rfc822` part).
/// Never the recipient whose delivery failed, but often named in the
/// server's refusal of it ("SPF: 192.0.2.1 is not allowed to send mail
/// from a@b.example").
pub(crate) fn quoted_senders(quoted: &str) -> Vec<String> {
    scan::lines(quoted)
        .map(unquote)
        .skip_while(|l| !super::mime::is_field(l.as_bytes()))
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| ["from", "sender", "return-path"].iter().any(|n| name.trim().eq_ignore_ascii_case(n)))
        .flat_map(|(_, value)| addresses(&value.to_ascii_lowercase()))
        .collect()
}

/// Recipients listed one to a line with one reason below the last ("a@b /
/// c@d / Reason: 550 5.7.1 …"): a recipient whose text is its address line
/// alone takes the text of the first recipient after it that has more.
/// Each takes that text once, not its neighbours' address lines: a list
/// of thousands stays linear.
fn share_listed_reason(segments: &mut [Segment]) {
    // Index of the nearest segment after `i` that has more than its address.
    let mut source: Option<usize> = None;
    for i in (0..segments.len()).rev() {
        if segments.get(i).is_some_and(|s| !is_bare(s)) {
            source = Some(i);
        } else if let Some(j) = source {
            let (head, tail) = segments.split_at_mut(j);
            if let (Some(seg), Some(from)) = (head.get_mut(i), tail.first()) {
                seg.text.push_str(&from.text);
            }
        }
    }
}

/// Whether a segment holds nothing but its address line.
fn is_bare(seg: &Segment) -> bool {
    let mut lines = seg.text.lines();
    let first = lines.next().unwrap_or("").to_ascii_lowercase();
    let rest = first.replacen(seg.recipient.as_str(), "", 1);
    lines.next().is_none() && rest.trim_matches(|c: char| c.is_whitespace() || "<>:,;\"[]".contains(c)).is_empty()
}

/// The line without its addresses: a contact line is known by its words,
/// and an address such as `<contact@b.example>` says nothing about its line.
fn words_only(line: &str) -> String {
    line.split_whitespace().filter(|w| !w.contains('@')).collect::<Vec<_>>().join(" ")
}

/// Header names that appear in a quoted original's header block.
const QUOTED_HEADERS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "from",
    "subject",
    "date",
    "sent",
    "message-id",
    "reply-to",
    "return-path",
    "mime-version",
    "content-type",
    "received",
    "in-reply-to",
    "references",
];

/// The lower-cased name of an RFC 5322 header line among [`QUOTED_HEADERS`],
/// indented or not (Exchange indents the original's `To:`, `Subject:` and
/// `Sent:` under "Your message"), bulleted or not ("Original message
/// details: * From: a@b.example * To: c@d.example" one to a line).
fn quoted_header(line: &str) -> Option<&'static str> {
    let line = line.trim_start();
    let line = ["* ", "- ", "• "].iter().find_map(|b| line.strip_prefix(b)).unwrap_or(line);
    let (name, rest) = line.trim_start().split_once(':')?;
    if !rest.starts_with([' ', '\t']) && !rest.is_empty() {
        return None;
    }
    QUOTED_HEADERS.iter().copied().find(|h| h.eq_ignore_ascii_case(name))
}

/// Whether line `i` is an address header (`To:`, `Cc:`, `Bcc:`, `From:`,
/// `Reply-To:`, `Return-Path:`) of a quoted header block: next to another
/// header line. It names the original's addressees or sender, whatever
/// separator (or none) introduced the quote.
fn is_quoted_addressee(lines: &[&str], i: usize) -> bool {
    let header = |j: usize| lines.get(j).and_then(|l| quoted_header(l));
    if !matches!(header(i), Some("to" | "cc" | "bcc" | "from" | "reply-to" | "return-path")) {
        return false;
    }
    // The next header comes after the field's folded lines, which are
    // indented deeper than the field itself (a few dozen at most: the
    // look ahead is bounded, so a hostile message stays linear).
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = lines.get(i).map_or(0, |l| indent(l));
    let next = (i + 1..lines.len().min(i + 64))
        .find(|&j| lines.get(j).is_none_or(|l| l.trim().is_empty() || indent(l) <= own || header(j).is_some()));
    i.checked_sub(1).and_then(header).is_some() || next.and_then(header).is_some()
}

/// Strips `> ` quoting of a forwarded bounce (but not sendmail's `>>>`).
fn unquote(line: &str) -> &str {
    let mut l = line;
    while let Some(rest) = l.strip_prefix("> ") {
        l = rest;
    }
    if l == ">" { "" } else { l }
}

/// Email addresses in a (lower-cased) line, in order.
pub(crate) fn addresses(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(off) = b.get(i..).and_then(|s| memchr::memchr(b'@', s)) {
        let at = i + off;
        let mut start = at;
        while start > 0 && b.get(start - 1).is_some_and(|&c| is_local(c)) {
            start -= 1;
        }
        let mut end = at + 1;
        while b.get(end).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_') {
            end += 1;
        }
        i = end.max(at + 1);
        let local = line.get(start..at).unwrap_or("").trim_start_matches(['.', '\'', '`']);
        // An X.400 address's SMTP attribute (Exchange's IMS, "c=US;a=
        // ;p=Org;o=Site;dda:SMTP=user@b.example;"): the address follows "=".
        let local = local.strip_prefix("smtp=").unwrap_or(local);
        let domain = line.get(at + 1..end).unwrap_or("").trim_end_matches(['.', '-']);
        // Part of a URL ("http://www.b.example/why?id=a@b.example"): the
        // text around an address in a link's query, not an address.
        let word = b.get(..at).map_or(&[][..], |before| {
            let from =
                before.iter().rposition(|c| c.is_ascii_whitespace() || b"<(\"'".contains(c)).map_or(0, |p| p + 1);
            before.get(from..).unwrap_or_default()
        });
        let in_url = word.windows(3).any(|w| w == b"://") || word.contains(&b'?');
        if local.is_empty() || in_url || !domain.contains('.') || domain.starts_with('.') {
            continue;
        }
        let mut address = String::with_capacity(local.len() + 1 + domain.len());
        address.push_str(local);
        address.push('@');
        address.push_str(domain);
        out.push(address);
    }
    out
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&'*+-/=?^_`{|}~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses() {
        assert_eq!(addresses("<kijitora@example.jp>... user unknown"), vec!["kijitora@example.jp"]);
        assert_eq!(addresses("rcpt to:<a.b+c@x.example.org>: 550"), vec!["a.b+c@x.example.org"]);
        assert!(addresses("no at sign @ here").is_empty());
        assert!(addresses("user@localhost").is_empty());
        assert_eq!(addresses("c=us;a= ;p=ikon;o=nexus2;dda:smtp=userx@example.com; on fri"), vec!["userx@example.com"]);
        // Inside a link's query, not an address of its own.
        assert!(addresses("see http://www.b.example/block?ip=192.0.2.1&from=a@shop.example").is_empty());
        assert!(addresses("www.openspf.net/why?s=mfrom;id=a@shop.example;ip=192.0.2.1").is_empty());
        assert_eq!(addresses("mailto:postmaster@b.example"), vec!["postmaster@b.example"]);
    }

    #[test]
    fn a_quoted_header_block_names_nobody_however_it_is_set_out() {
        let rules = crate::bounce::rules::Rules::embedded();
        let recipients = |text: &str| -> Vec<String> {
            analyse(text, &[], &[], rules).segments.into_iter().map(|s| s.recipient).collect()
        };
        // Bulleted, and the original's sender on a From: line of the block.
        let bulleted = "Delivery has failed to these recipients:\n\n\t* [kijitora@example.net]: 550 User account is overquota\n\n\
                        Original message details:\n\n\t* Received on: 2026-06-01\n\t* From: sender@example.com\n\t* To: list@example.org\n\t* Subject: offers\n";
        assert_eq!(recipients(bulleted), ["kijitora@example.net"]);
        // Indented throughout, the failed recipient after the block.
        let indented = " Your message\n \n   To:      shironeko@example.org\n   Cc:      mikeneko@example.org\n   Subject: offers\n \
                        \n did not reach the following recipient(s):\n \n kijitora@example.net on Mon, 1 Jun 2026\n     The recipient name is not recognized\n";
        assert_eq!(recipients(indented), ["kijitora@example.net"]);
        // A message identifier is not a mailbox.
        let with_id = "Your message with the message-id of <m1.x=y@example.com> could not be delivered to\nkijitora@example.net: user unknown\n";
        assert_eq!(recipients(with_id), ["kijitora@example.net"]);
        // A folded To: continues on the indented line below it.
        let folded = "Your message\n  To: shironeko@example.org,\n      mikeneko@example.org\n  Subject: offers\n\nkijitora@example.net: user unknown\n";
        assert_eq!(recipients(folded), ["kijitora@example.net"]);
    }
}
