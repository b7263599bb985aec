//! Takes a raw message apart: the outer headers the classifier looks at,
//! the human-readable text, the machine-readable report parts
//! (delivery-status, feedback-report) and the quoted original message.
//!
//! mail-parser does the MIME work; this module only sorts its output and
//! never fails: a message it cannot parse becomes one text body.

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// The quoted original message (or its headers), as far as the bounce shows it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Quoted {
    /// Raw header lines of the quoted original (unfolded text).
    pub headers: String,
}

/// The pieces of a message the classifier needs.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// `From:` as written (decoded), lower-cased.
    pub from: String,
    /// `Subject:` decoded, lower-cased.
    pub subject: String,
    /// `To:`, `Delivered-To:`, `X-Original-To:` … of the bounce itself, lower-cased.
    pub envelope_to: Vec<String>,
    /// Lower-cased `(name, value)` pairs of the outer header, values unfolded.
    pub headers: Vec<(String, String)>,
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
    pub nested: Option<Vec<u8>>,
    /// Where the body starts in the raw message (for [`Self::raw_body`]).
    pub body_offset: usize,
}

impl Parts {
    /// First outer header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The raw body after the outer header, decoded leniently: for MIME
    /// structures the parser could not follow.
    pub fn raw_body<'r>(&self, raw: &'r [u8]) -> std::borrow::Cow<'r, str> {
        String::from_utf8_lossy(raw.get(self.body_offset..).unwrap_or_default())
    }

    /// All text bodies joined.
    pub fn all_text(&self) -> String {
        self.texts.join("\n")
    }
}

/// Normalizes line endings to LF (CRLF and lone CR both), and drops a
/// leading mbox `From ` line.
pub(crate) fn normalize(raw: &[u8]) -> Cow<'_, [u8]> {
    let raw = match raw.strip_prefix(b"From ") {
        Some(rest) if !rest.starts_with(b" ") => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest.get(i + 1..).unwrap_or_default(),
            None => raw,
        },
        _ => raw,
    };
    if !raw.contains(&b'\r') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter().copied().peekable();
    while let Some(b) = iter.next() {
        if b == b'\r' {
            if iter.peek() == Some(&b'\n') {
                continue;
            }
            out.push(b'\n');
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// Splits a message into [`Parts`].
pub(crate) fn split(raw: &[u8]) -> Parts {
    let mut parts = Parts::default();
    // mail-parser checks one of its invariants with `debug_assert!`, which
    // malformed nesting can trip in debug builds (found by fuzzing): treat
    // such a message like one that does not parse.
    let parsed = std::panic::catch_unwind(|| parser().parse(raw)).ok().flatten();
    let Some(msg) = parsed else {
        parts.texts.push(String::from_utf8_lossy(raw).into_owned());
        return parts;
    };
    let Some(root) = msg.parts.first() else {
        return parts;
    };
    parts.headers = header_pairs(header_block(&msg, root));
    parts.from = msg
        .from()
        .map(|a| {
            a.iter()
                .map(|x| format!("{} <{}>", x.name.as_deref().unwrap_or(""), x.address.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
        .to_lowercase();
    if parts.from.trim().is_empty() || parts.from.trim() == "<>" {
        parts.from = parts.header("from").unwrap_or("").to_lowercase();
    }
    parts.subject = msg.subject().unwrap_or("").to_lowercase();
    for (n, v) in &parts.headers {
        if matches!(n.as_str(), "to" | "delivered-to" | "x-original-to" | "envelope-to" | "x-winback-rcpt") {
            parts.envelope_to.push(v.to_lowercase());
        }
    }
    if let Some(ct) = root.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
    {
        parts.report_type = ct.attribute("report-type").unwrap_or("").to_ascii_lowercase();
    }
    parts.body_offset = root.offset_body as usize;
    let mut htmls = Vec::new();
    for part in &msg.parts {
        sort_part(&msg, part, &mut parts, &mut htmls);
    }
    if parts.texts.is_empty() {
        parts.texts = htmls.iter().map(|h| html_to_text(h)).collect();
    }
    parts
}

fn sort_part(msg: &Message<'_>, part: &MessagePart<'_>, parts: &mut Parts, htmls: &mut Vec<String>) {
    let (ctype, subtype) = part
        .content_type()
        .map(|ct| (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase()))
        .unwrap_or_else(|| ("text".into(), "plain".into()));
    let kind = (ctype.as_str(), subtype.as_str());
    match &part.body {
        PartType::Text(t) => match kind {
            ("text", "rfc822-headers") | ("text", "rfc822-header") | ("message", _) => route_special(kind, t, parts),
            _ => parts.texts.push(t.to_string()),
        },
        PartType::Html(h) => htmls.push(h.to_string()),
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            let text = String::from_utf8_lossy(b);
            match kind {
                ("message", _) | ("text", _) => route_special(kind, &text, parts),
                _ => {}
            }
        }
        PartType::Message(inner) => {
            if parts.nested.is_none()
                && let Some(root) = inner.parts.first()
            {
                let span = inner.raw_message.get(root.offset_header as usize..root.offset_end as usize);
                parts.nested = span.filter(|s| !s.is_empty()).map(<[u8]>::to_vec);
            }
            if let Some(root) = inner.parts.first() {
                for (n, v) in header_pairs(header_block(inner, root)) {
                    push_quoted(&mut parts.quoted, &n, &v);
                }
            }
        }
        PartType::Multipart(_) => {}
    }
    let _ = msg;
}

/// Routes the body of a `message/*` or special `text/*` part by subtype.
fn route_special(kind: (&str, &str), body: &str, parts: &mut Parts) {
    match kind.1 {
        "delivery-status" | "global-delivery-status" => parts.dsn.push(body.to_string()),
        "feedback-report" => parts.feedback.push(body.to_string()),
        "rfc822-headers" | "rfc822-header" | "global-headers" | "rfc822" | "global" | "partial" => {
            parts.quoted.headers.push_str(body);
            parts.quoted.headers.push('\n');
        }
        _ if kind.0 == "text" => parts.texts.push(body.to_string()),
        _ => {}
    }
}

fn push_quoted(q: &mut Quoted, name: &str, value: &str) {
    q.headers.push_str(name);
    q.headers.push_str(": ");
    q.headers.push_str(value);
    q.headers.push('\n');
}

/// A parser that decodes only what classification reads (MIME structure,
/// `From`, `Subject`) and skips every other header, which [`header_pairs`]
/// reads from the message bytes. Received chains and dates cost most of a
/// full parse.
fn parser() -> MessageParser {
    MessageParser::new()
        .with_mime_headers()
        .header_address(mail_parser::HeaderName::From)
        .header_text(mail_parser::HeaderName::Subject)
        .default_header_ignore()
}

/// The raw header block of a part, as text (8-bit bytes degrade to U+FFFD).
fn header_block<'m>(msg: &'m Message<'_>, part: &MessagePart<'_>) -> Cow<'m, str> {
    let raw = msg.raw_message.get(part.offset_header as usize..part.offset_body as usize).unwrap_or_default();
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
    }
}

/// `(name, value)` pairs of a header block: names lower-cased, folded
/// values joined into one line. Lines that are not headers are skipped.
fn header_pairs(block: Cow<'_, str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            // A continuation of the previous header's value.
            if let Some((_, value)) = out.last_mut() {
                let t = line.trim();
                if !t.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(t);
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        out.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    out
}

/// Crude HTML to text: drops tags, keeps line structure at block tags.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let t = tag.trim_start_matches('/').to_ascii_lowercase();
                if t.starts_with("br") || t.starts_with("p") || t.starts_with("div") || t.starts_with("tr") {
                    out.push('\n');
                }
            }
            _ if in_tag => tag.push(c),
            _ => out.push(c),
        }
    }
    out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_line_endings_and_mbox_line() {
        assert_eq!(&*normalize(b"a\r\nb\rc\n"), b"a\nb\nc\n");
        assert_eq!(&*normalize(b"From x@y Mon\nSubject: a\n"), b"Subject: a\n");
        assert_eq!(&*normalize(b"From: x\n"), b"From: x\n");
    }
}
