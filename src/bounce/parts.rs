//! Takes a raw message apart: the outer headers the classifier looks at,
//! the human-readable text, the machine-readable report parts
//! (delivery-status, feedback-report) and the quoted original message.
//!
//! [`super::mime`] walks the MIME structure; this module sorts its leaves
//! and never fails: a message without structure becomes one text body.

use std::borrow::Cow;

use mail_parser::MessageParser;

use super::mime::{self, Body};
use super::scan;

/// The quoted original message (or its headers), as far as the bounce shows it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Quoted {
    /// Raw header lines of the quoted original (unfolded text).
    pub headers: String,
}

/// The pieces of a message the classifier needs.
#[derive(Debug, Default)]
pub(crate) struct Parts<'a> {
    /// `From:` as written (decoded), lower-cased.
    pub from: String,
    /// `Subject:` decoded, lower-cased.
    pub subject: String,
    /// `To:`, `Delivered-To:`, `X-Original-To:` … of the bounce itself, lower-cased.
    pub envelope_to: Vec<String>,
    /// The outer header fields: lower-cased names, values unfolded.
    pub headers: mime::Fields,
    /// `report-type` of a multipart/report, lower-cased.
    pub report_type: String,
    /// Human-readable text parts, in order (HTML converted to text when
    /// no plain text exists).
    pub texts: Vec<String>,
    /// Bodies of message/delivery-status parts.
    pub dsn: Vec<String>,
    /// Bodies of message/feedback-report parts.
    pub feedback: Vec<String>,
    /// The quoted original.
    pub quoted: Quoted,
    /// Raw bytes of the first attached message, for bounces forwarded
    /// inside another message.
    pub nested: Option<&'a [u8]>,
    /// Where the body starts in the raw message (for [`Self::raw_body`]).
    pub body_offset: usize,
    /// Whether the texts are HTML parts converted (no plain text exists).
    pub html_only: bool,
}

impl Parts<'_> {
    /// First outer header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The raw body after the outer header, decoded leniently: for MIME
    /// structures the parser could not follow.
    pub fn raw_body<'r>(&self, raw: &'r [u8]) -> std::borrow::Cow<'r, str> {
        scan::lossy(raw.get(self.body_offset..).unwrap_or_default())
    }

    /// All text bodies joined.
    pub fn all_text(&self) -> String {
        self.texts.join("\n")
    }
}

/// Normalizes line endings to LF (CRLF and lone CR both), and drops a
/// leading mbox `From ` line.
pub(crate) fn normalize(raw: &[u8]) -> Cow<'_, [u8]> {
    let raw = skip_leading_blank_lines(raw);
    let raw = match raw.strip_prefix(b"From ") {
        Some(rest) if !rest.starts_with(b" ") => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest.get(i + 1..).unwrap_or_default(),
            None => raw,
        },
        _ => raw,
    };
    let Some(first) = memchr::memchr(b'\r', raw) else { return Cow::Borrowed(raw) };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(raw.get(..first).unwrap_or_default());
    let mut rest = raw.get(first..).unwrap_or_default();
    // `rest` starts at a `\r`: one `\n` for it (and for the `\n` it pairs
    // with), then the run up to the next `\r` as it is.
    while !rest.is_empty() {
        out.push(b'\n');
        let skip = if rest.get(1) == Some(&b'\n') { 2 } else { 1 };
        rest = rest.get(skip..).unwrap_or_default();
        let run = memchr::memchr(b'\r', rest).unwrap_or(rest.len());
        out.extend_from_slice(rest.get(..run).unwrap_or_default());
        rest = rest.get(run..).unwrap_or_default();
    }
    Cow::Owned(out)
}

/// A message saved with blank (or whitespace-only) lines before its first
/// header would otherwise have no header at all: they are dropped when a
/// header line or an mbox `From ` line follows them.
fn skip_leading_blank_lines(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        let line = rest.get(..nl).unwrap_or_default();
        if !line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            break;
        }
        rest = rest.get(nl + 1..).unwrap_or_default();
    }
    if rest.len() == raw.len() {
        return raw;
    }
    let name_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
    let header = name_len > 0 && rest.get(name_len) == Some(&b':');
    if header || rest.starts_with(b"From ") { rest } else { raw }
}

/// Splits a message into [`Parts`].
pub(crate) fn split(raw: &[u8]) -> Parts<'_> {
    let mime = mime::parse(raw);
    let mut parts = Parts { body_offset: mime.body_offset, ..Parts::default() };
    parts.headers = mime.fields;
    (parts.from, parts.subject) = from_and_subject(&parts.headers);
    for (n, v) in parts.headers.iter() {
        if matches!(n, "to" | "delivered-to" | "x-original-to" | "envelope-to" | "x-winback-rcpt") {
            parts.envelope_to.push(v.to_lowercase());
        }
    }
    parts.report_type =
        mime.params.iter().find(|(n, _)| n == "report-type").map(|(_, v)| v.to_ascii_lowercase()).unwrap_or_default();
    let mut htmls = Vec::new();
    for leaf in mime.leaves {
        sort_leaf(leaf, &mut parts, &mut htmls);
    }
    if parts.texts.is_empty() {
        parts.html_only = !htmls.is_empty();
        parts.texts = htmls.iter().map(|h| html_to_text(&h.decode())).collect();
    }
    parts
}

/// `From:` (`name <address>` per address) and `Subject:` decoded (RFC
/// 2047 words, address lists) and lower-cased.
fn from_and_subject(headers: &mime::Fields) -> (String, String) {
    // mail-parser decodes the two headers read as text, given on their own.
    let mut two = String::new();
    for name in ["from", "subject"] {
        if let Some(value) = headers.get(name) {
            for piece in [name, ": ", value, "\n"] {
                two.push_str(piece);
            }
        }
    }
    two.push('\n');
    let (mut from, mut subject) = (String::new(), String::new());
    if let Some(head) = HEADER_PARSER.parse_headers(two.as_bytes()) {
        from = head
            .from()
            .map(|a| {
                a.iter()
                    .map(|x| format!("{} <{}>", x.name.as_deref().unwrap_or(""), x.address.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
            .to_lowercase();
        subject = head.subject().unwrap_or("").to_lowercase();
    }
    if from.trim().is_empty() || from.trim() == "<>" {
        from = headers.get("from").unwrap_or("").to_lowercase();
    }
    (from, subject)
}

fn sort_leaf<'a>(leaf: mime::Leaf<'a>, parts: &mut Parts<'a>, htmls: &mut Vec<mime::Pending<'a>>) {
    let kind = (leaf.ctype.as_str(), leaf.subtype.as_str());
    match leaf.body {
        Body::Text(t) => match kind {
            ("text", "rfc822-headers" | "rfc822-header") => route_special(kind, t, parts),
            _ => parts.texts.push(t),
        },
        Body::Html(pending) => htmls.push(pending),
        Body::Raw(t) => route_special(kind, t, parts),
        Body::Message(inner) => {
            if parts.nested.is_none() && !inner.is_empty() {
                parts.nested = Some(inner);
            }
            let (header, _) = mime::split_header(inner);
            mime::unfold_into(&mut parts.quoted.headers, &scan::lossy(header));
        }
        Body::Skipped => {}
    }
}

/// Routes the body of a `message/*` or special `text/*` part by subtype.
fn route_special(kind: (&str, &str), body: String, parts: &mut Parts<'_>) {
    match kind.1 {
        "delivery-status" | "global-delivery-status" => parts.dsn.push(body),
        "feedback-report" => parts.feedback.push(body),
        "rfc822-headers" | "rfc822-header" | "global-headers" | "rfc822" | "global" | "partial" => {
            parts.quoted.headers.push_str(&body);
            parts.quoted.headers.push('\n');
        }
        _ if kind.0 == "text" => parts.texts.push(body),
        _ => {}
    }
}

/// A header parser for the two headers read decoded; every other header
/// is read raw by [`mime::header_pairs`]. Built once: it holds a map.
static HEADER_PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .header_address(mail_parser::HeaderName::From)
        .header_text(mail_parser::HeaderName::Subject)
        .default_header_ignore()
});

/// Crude HTML to text: drops tags and what `<style>` and `<script>` hold,
/// keeps line structure at block tags, decodes the common character
/// entities. Outside `<pre>`, blanks and line breaks of the source show as a
/// browser shows them: a run is one space, and none starts a line (Exchange
/// 5.5 writes `To: …<BR>` and a newline: the next header is not a folded
/// continuation of this one).
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut pre = false;
    let text = |out: &mut String, t: &str, pre: bool| {
        if pre {
            return decode_entities_into(out, t);
        }
        let line_start = out.is_empty() || out.ends_with(['\n', ' ']);
        let words = t.split_ascii_whitespace();
        if t.starts_with(|c: char| c.is_ascii_whitespace()) && !line_start {
            out.push(' ');
        }
        let mut first = true;
        for word in words {
            if !first {
                out.push(' ');
            }
            first = false;
            decode_entities_into(out, word);
        }
        if !first && t.ends_with(|c: char| c.is_ascii_whitespace()) {
            out.push(' ');
        }
    };
    loop {
        // Text up to the next tag.
        let Some(open) = rest.find('<') else {
            text(&mut out, rest, pre);
            break;
        };
        text(&mut out, rest.get(..open).unwrap_or(""), pre);
        rest = rest.get(open + 1..).unwrap_or("");
        // The tag runs to the next `>`; a `<` before it starts it again.
        let close = loop {
            match memchr::memchr2(b'<', b'>', rest.as_bytes()) {
                Some(i) if rest.as_bytes().get(i) == Some(&b'<') => rest = rest.get(i + 1..).unwrap_or(""),
                found => break found,
            }
        };
        let Some(close) = close else { break };
        let raw = rest.get(..close).unwrap_or("");
        let tag = raw.trim_start_matches('/');
        let starts = |p: &str| tag.get(..p.len()).is_some_and(|t| t.eq_ignore_ascii_case(p));
        let closing = raw.starts_with('/');
        let heading = starts("h") && tag.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
        if heading || ["br", "p", "div", "tr", "li", "table", "hr", "blockquote", "dt", "dd"].into_iter().any(starts) {
            out.push('\n');
        } else if (starts("td") || starts("th")) && !closing && !out.is_empty() && !out.ends_with(['\n', ' ']) {
            // Table cells side by side, as a browser shows them.
            out.push(' ');
        }
        if starts("pre") {
            pre = !closing;
            out.push('\n');
        }
        rest = rest.get(close + 1..).unwrap_or("");
        if let Some(hidden) = ["style", "script"].into_iter().find(|t| starts(t) && !closing) {
            rest = after_closing(rest, hidden);
        }
    }
    out
}

/// What follows the closing tag `</name>` in `rest` (nothing when it is
/// not closed).
fn after_closing<'h>(rest: &'h str, name: &str) -> &'h str {
    for at in memchr::memmem::find_iter(rest.as_bytes(), b"</") {
        let tag = rest.as_bytes().get(at + 2..at + 2 + name.len());
        if tag.is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes())) {
            let end =
                memchr::memchr(b'>', rest.as_bytes().get(at..).unwrap_or_default()).map_or(rest.len(), |i| at + i + 1);
            return rest.get(end..).unwrap_or("");
        }
    }
    ""
}

/// Named character references decoded (the others stay as written).
const ENTITIES: &[(&str, char)] = &[
    ("nbsp", ' '),
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("rsquo", '\''),
    ("lsquo", '\''),
    ("ldquo", '"'),
    ("rdquo", '"'),
    ("ndash", '-'),
    ("mdash", '-'),
];

/// Appends text with the named references of [`ENTITIES`] and numeric ones
/// (`&#39;`, `&#x27;`) decoded; a reference to a control character stays as
/// written.
fn decode_entities_into(out: &mut String, text: &str) {
    crate::html::decode_into(out, text, ENTITIES, |c| !c.is_control() || c.is_whitespace());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_line_endings_and_mbox_line() {
        assert_eq!(&*normalize(b"a\r\nb\rc\n"), b"a\nb\nc\n");
        assert_eq!(&*normalize(b"From x@y Mon\nSubject: a\n"), b"Subject: a\n");
        assert_eq!(&*normalize(b"From: x\n"), b"From: x\n");
        assert_eq!(&*normalize(b"\r\r\n\n\r"), b"\n\n\n\n");
        assert_eq!(&*normalize(b"no breaks\r"), b"no breaks\n");
        // Blank lines before the first header are dropped, not elsewhere.
        assert_eq!(&*normalize(b"   \r\n\nReturn-Path: <>\nFrom: x\n"), b"Return-Path: <>\nFrom: x\n");
        assert_eq!(&*normalize(b" \nFrom x@y Mon\nSubject: a\n"), b"Subject: a\n");
        assert_eq!(&*normalize(b"\n\nbody text\n"), b"\n\nbody text\n");
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(html_to_text("<P>User&nbsp;unknown<BR/>x &lt;a@b&gt; &amp;c</p>"), "\nUser unknown\nx <a@b> &c\n");
        // A `<` inside a tag starts it again; an unclosed tag is dropped; a lone `&` stays.
        assert_eq!(html_to_text("a <b <div>c & d</div> <span"), "a \nc & d\n");
        assert_eq!(
            html_to_text(
                "Your message<BR>\n<BR>\n&nbsp; To: a@b.example<BR>\n&nbsp; Cc: c@d.example<BR>\n<pre>x\ny</pre>z\nw"
            ),
            "Your message\n\n  To: a@b.example\n  Cc: c@d.example\n\n\nx\ny\n\nz w"
        );
        assert_eq!(html_to_text("&amp;quot; a > b"), "&quot; a > b");
        // Source line breaks and indentation show as a browser shows them;
        // what <style> and <script> hold is not text.
        assert_eq!(
            html_to_text(
                "<html><head><STYLE type=\"text/css\">p {margin: 0}</style><script>var a = 1;</SCRIPT></head>\n<body>\n  \
                 Delivery has failed to:<br>\n  <b>gone@example.net</b>\n  <br>\n  Reason:\n    550 user\n    unknown</body>"
            ),
            "Delivery has failed to:\ngone@example.net \nReason: 550 user unknown"
        );
        assert_eq!(html_to_text("a<style>x"), "a");
        assert_eq!(
            html_to_text(
                "<h2>Delivery failed</h2><table><tr><td>Recipient:</td><td>gone@example.net</td></tr><tr><th>Reason</th><td>550 5.1.1</td></tr></table>"
            ),
            "\nDelivery failed\n\n\nRecipient: gone@example.net\n\nReason 550 5.1.1\n\n"
        );
        assert_eq!(
            html_to_text("doesn&#x27;t &#39;x&#39; &rsquo;&#8217;&#0;&#99999999;&#x;&#"),
            "doesn't 'x' '\u{2019}&#0;&#99999999;&#x;&#"
        );
    }
}
