//! The MIME walk of a bounce: header block and body of every part,
//! multipart bodies split at their boundaries, transfer encodings and
//! charsets decoded where the classifier reads the text.
//!
//! A bounce classifier reads a small part of a message: its notification
//! text, its report parts and the headers of the quoted original. This walk
//! does only that work: attached messages are not parsed beyond their
//! header block, and parts nobody reads (images, archives) are not decoded.
//! It never fails: a multipart without its boundary becomes text, a bad
//! encoding leaves the bytes as they are, bad UTF-8 degrades to U+FFFD.
//! Input has LF line endings ([`super::parts::normalize`]).

use std::borrow::Cow;

use mail_parser::decoders::{base64::base64_decode, charsets::map::charset_decoder};

use super::scan;

/// Nesting deeper than this is not followed (a hostile message could nest
/// multiparts without end).
const MAX_DEPTH: usize = 16;
/// At most this many parts are read from one message.
const MAX_PARTS: usize = 512;

/// One leaf part of a message.
#[derive(Debug)]
pub(crate) struct Leaf<'a> {
    /// Lower-cased media type and subtype (`text`, `plain`).
    pub ctype: String,
    pub subtype: String,
    pub body: Body<'a>,
}

/// What a leaf holds.
#[derive(Debug)]
pub(crate) enum Body<'a> {
    /// A `text/*` part other than HTML, decoded to UTF-8.
    Text(String),
    /// A `text/html` part, decoded only if read: most come with a plain
    /// text alternative.
    Html(Pending<'a>),
    /// A `message/*` or other non-text part the classifier reads, its
    /// transfer encoding undone, as UTF-8 (lossy).
    Raw(String),
    /// An attached message (`message/rfc822`, `message/global`): its bytes.
    Message(&'a [u8]),
    /// A part the classifier never reads (images, archives …).
    Skipped,
}

/// A message taken apart.
#[derive(Debug)]
pub(crate) struct Mime<'a> {
    /// The outer header fields, names lower-cased, values unfolded.
    pub fields: Fields,
    /// Where the outer body starts.
    pub body_offset: usize,
    /// The outer `Content-Type` parameters, lower-cased names.
    pub params: Vec<(String, String)>,
    /// The leaves in order.
    pub leaves: Vec<Leaf<'a>>,
}

/// Takes a message apart.
pub(crate) fn parse(raw: &[u8]) -> Mime<'_> {
    let (header, body_offset) = split_header(raw);
    let fields = header_pairs(&scan::lossy(header));
    let value = |name: &str| fields.get(name);
    let ct = parse_content_type(value("content-type").unwrap_or(""));
    let params = ct.params.clone();
    let encoding = value("content-transfer-encoding").unwrap_or("").to_string();
    let mut leaves = Vec::new();
    walk(ct, encoding, raw.get(body_offset..).unwrap_or_default(), 0, &mut leaves);
    Mime { fields, body_offset, params, leaves }
}

/// The header block of a part and where its body starts: up to the first
/// blank line, or nothing when the first line is not a header field.
pub(crate) fn split_header(raw: &[u8]) -> (&[u8], usize) {
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw.get(pos..).and_then(|r| memchr::memchr(b'\n', r)).map_or(raw.len(), |i| pos + i);
        let line = raw.get(pos..end).unwrap_or_default();
        if line.is_empty() || line == b"\r" {
            return (raw.get(..pos).unwrap_or_default(), (end + 1).min(raw.len()));
        }
        // A part that starts with text has no header block. Further down,
        // a line that is not a field is a continuation whose indentation
        // was lost (it happens), as mail readers take it.
        if pos == 0 && !is_field(line) {
            return (&[], 0);
        }
        pos = end + 1;
    }
    (raw, raw.len())
}

/// `Name: value`: a name of printable characters without spaces, then a colon.
pub(crate) fn is_field(line: &[u8]) -> bool {
    field_colon(line).is_some()
}

/// Where the colon of a `Name: value` line is, when the line is one.
fn field_colon(line: &[u8]) -> Option<usize> {
    // One pass that stops at the first space: most body lines have one early.
    for (i, &b) in line.iter().enumerate() {
        if b == b':' {
            return (i > 0).then_some(i);
        }
        if !b.is_ascii_graphic() {
            return None;
        }
    }
    None
}

/// A header-block line that starts a field, as `(name, value)`; `None`
/// for a line that continues the field before it: indented, or not a
/// field at all (some MTAs lose the indentation; mail readers take such a
/// line as a continuation).
fn split_field(line: &str) -> Option<(&str, &str)> {
    if line.starts_with([' ', '\t']) {
        return None;
    }
    let colon = field_colon(line.as_bytes())?;
    Some((line.get(..colon)?, line.get(colon + 1..)?))
}

fn is_continuation(line: &str) -> bool {
    split_field(line).is_none()
}

/// The fields of a header block: names lower-cased, folded values joined
/// into one line, all in one buffer (a bounce's outer header has dozens
/// of fields, and a pair of strings for each cost more than the rest of
/// the walk).
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    buf: String,
    /// Per field: where its name starts, where its value starts (the
    /// name's end), where its value ends.
    spans: Vec<(usize, usize, usize)>,
}

impl Fields {
    /// The `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(n, v, e)| (self.buf.get(n..v).unwrap_or(""), self.buf.get(v..e).unwrap_or("")))
    }

    /// The value of the first field `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// The fields of a header block.
pub(crate) fn header_pairs(block: &str) -> Fields {
    let mut out = Fields { buf: String::with_capacity(block.len()), spans: Vec::new() };
    for line in scan::lines(block) {
        match split_field(line) {
            None => {
                if let Some(last) = out.spans.last_mut() {
                    let t = line.trim();
                    if !t.is_empty() {
                        if last.2 > last.1 {
                            out.buf.push(' ');
                        }
                        out.buf.push_str(t);
                        last.2 = out.buf.len();
                    }
                }
            }
            Some((name, value)) => {
                let start = out.buf.len();
                out.buf.push_str(name);
                if let Some(n) = out.buf.get_mut(start..) {
                    n.make_ascii_lowercase();
                }
                let value_start = out.buf.len();
                out.buf.push_str(value.trim());
                out.spans.push((start, value_start, out.buf.len()));
            }
        }
    }
    out
}

/// A parsed `Content-Type`.
#[derive(Debug, Default)]
struct ContentType {
    ctype: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The unfolded value of the first field `name` (lower-case) in a header block.
fn field(block: &str, name: &str) -> Option<String> {
    let mut lines = scan::lines(block);
    while let Some(line) = lines.next() {
        let Some(rest) =
            line.get(..name.len()).filter(|n| n.eq_ignore_ascii_case(name)).and_then(|_| line.get(name.len()..))
        else {
            continue;
        };
        let Some(value) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else { continue };
        let mut out = value.trim().to_string();
        for next in lines.by_ref() {
            if !is_continuation(next) {
                break;
            }
            let t = next.trim();
            if !t.is_empty() {
                out.push(' ');
                out.push_str(t);
            }
        }
        return Some(out);
    }
    None
}

/// Appends a header block to `out` with each field on one line (folded
/// continuations joined with a space).
pub(crate) fn unfold_into(out: &mut String, block: &str) {
    // The result is at most as long as the block (plus a final newline).
    out.reserve(block.len() + 1);
    for line in scan::lines(block) {
        if is_continuation(line) && out.ends_with('\n') {
            let t = line.trim();
            if !t.is_empty() {
                out.pop();
                out.push(' ');
                out.push_str(t);
                out.push('\n');
            }
        } else if !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

fn parse_content_type(v: &str) -> ContentType {
    let mut segments = split_params(v).into_iter();
    let kind = segments.next().unwrap_or_default().to_ascii_lowercase();
    let (ctype, subtype) = match kind.split_once('/') {
        Some((t, s)) => (t.trim().to_string(), s.trim().to_string()),
        None => (kind.trim().to_string(), String::new()),
    };
    let params = segments
        .filter_map(|seg| {
            let (name, value) = seg.split_once('=')?;
            let name = name.trim();
            let value = value.trim();
            let value = match (value.strip_prefix('"'), name.ends_with('*')) {
                (Some(q), _) => q.strip_suffix('"').unwrap_or(q),
                // `name*=charset'lang'value` (RFC 2231): the value part.
                (None, true) => value.rsplit('\'').next().unwrap_or(value),
                (None, false) => value,
            };
            Some((name.trim_end_matches('*').to_ascii_lowercase(), value.to_string()))
        })
        .collect();
    ContentType { ctype, subtype, params }
}

/// Splits at `;` outside double quotes.
fn split_params(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(v.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v.get(start..).unwrap_or(""));
    out
}

/// Walks a part, given its `Content-Type` and `Content-Transfer-Encoding`.
fn walk<'a>(ct: ContentType, encoding: String, body: &'a [u8], depth: usize, leaves: &mut Vec<Leaf<'a>>) {
    if leaves.len() >= MAX_PARTS {
        return;
    }
    let encoding = encoding.trim().to_ascii_lowercase();
    let mut ctype = if ct.ctype.is_empty() { "text".to_string() } else { ct.ctype.clone() };
    let mut subtype = if ct.ctype.is_empty() { "plain".to_string() } else { ct.subtype.clone() };
    if ctype == "multipart" {
        if let Some(boundary) = ct.param("boundary").filter(|b| !b.is_empty())
            && let Some(parts) = split_multipart(body, boundary.as_bytes())
        {
            if depth < MAX_DEPTH {
                for part in parts {
                    let (header, offset) = split_header(part);
                    // A part's header is read for its two MIME fields only.
                    let header = scan::lossy(header);
                    let ct = parse_content_type(field(&header, "content-type").as_deref().unwrap_or(""));
                    if ct.ctype != "multipart" && quotes_a_message(&header) {
                        // The original pasted in as a part of its own, its
                        // header taken for the part's (X1's notices): a
                        // message, never failure text.
                        walk(parse_content_type("message/rfc822"), String::new(), part, depth + 1, leaves);
                        continue;
                    }
                    let encoding = field(&header, "content-transfer-encoding").unwrap_or_default();
                    walk(ct, encoding, part.get(offset..).unwrap_or_default(), depth + 1, leaves);
                }
            }
            return;
        }
        // No boundary to split at: the body is read as text.
        (ctype, subtype) = ("text".into(), "plain".into());
    }
    let plain = matches!(encoding.as_str(), "" | "7bit" | "8bit" | "binary");
    let body = match ctype.as_str() {
        "message" if plain && matches!(subtype.as_str(), "rfc822" | "global") => Body::Message(body),
        "text" if subtype == "html" => {
            Body::Html(Pending { bytes: body, encoding, charset: ct.param("charset").map(str::to_string) })
        }
        "text" => Body::Text(text(&decode(body, &encoding), ct.param("charset"))),
        "message" => Body::Raw(text(&decode(body, &encoding), ct.param("charset"))),
        _ => Body::Skipped,
    };
    leaves.push(Leaf { ctype, subtype, body });
}

/// Whether a part's header is a message's header: fields only a
/// transported message has, never a MIME part's.
fn quotes_a_message(header: &str) -> bool {
    ["received", "message-id", "return-path", "dkim-signature"].iter().any(|name| field(header, name).is_some())
}

/// The parts of a multipart body, or `None` when no delimiter line is found.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    // Start of the current part's content, once a delimiter has been seen.
    let mut open: Option<usize> = None;
    for pos in memchr::memmem::find_iter(body, &delim) {
        if pos > 0 && body.get(pos - 1) != Some(&b'\n') {
            continue;
        }
        let after = body.get(pos + delim.len()..).unwrap_or_default();
        let closing = after.starts_with(b"--");
        let rest = if closing { after.get(2..).unwrap_or_default() } else { after };
        // A longer boundary that starts with this one is not this one.
        if !matches!(rest.first(), None | Some(b'\n' | b'\r' | b' ' | b'\t')) {
            continue;
        }
        if let Some(start) = open {
            // The line break before the delimiter belongs to the delimiter.
            let end = pos.saturating_sub(1).max(start);
            parts.push(body.get(start..end).unwrap_or_default());
        }
        if closing {
            return Some(parts);
        }
        let line_end = memchr::memchr(b'\n', rest).map_or(body.len(), |i| body.len() - rest.len() + i + 1);
        open = Some(line_end.min(body.len()));
    }
    // No closing delimiter: the last part runs to the end.
    match open {
        Some(start) => {
            parts.push(body.get(start..).unwrap_or_default());
            Some(parts)
        }
        None if parts.is_empty() => None,
        None => Some(parts),
    }
}

/// Undoes a transfer encoding; bytes that do not decode stay as they are.
fn decode<'a>(body: &'a [u8], encoding: &str) -> Cow<'a, [u8]> {
    let decoded = match encoding {
        "base64" => base64_decode(body),
        "quoted-printable" => Some(quoted_printable(body)),
        _ => None,
    };
    decoded.map_or(Cow::Borrowed(body), Cow::Owned)
}

/// Decodes quoted-printable leniently: `=XX` escapes and soft line breaks
/// (`=` at the end of a line, trailing blanks allowed) are undone; an `=`
/// that starts neither stays as written.
fn quoted_printable(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut rest = b;
    while let Some(eq) = memchr::memchr(b'=', rest) {
        out.extend_from_slice(rest.get(..eq).unwrap_or_default());
        let after = rest.get(eq + 1..).unwrap_or_default();
        if let (Some(h), Some(l)) = (after.first().and_then(|&c| hex(c)), after.get(1).and_then(|&c| hex(c))) {
            out.push(h << 4 | l);
            rest = after.get(2..).unwrap_or_default();
            continue;
        }
        let blanks = after.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
        match after.get(blanks) {
            Some(b'\n') => rest = after.get(blanks + 1..).unwrap_or_default(),
            None => rest = &[],
            Some(_) => {
                out.push(b'=');
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// A text part not decoded yet.
#[derive(Debug)]
pub(crate) struct Pending<'a> {
    bytes: &'a [u8],
    encoding: String,
    charset: Option<String>,
}

impl Pending<'_> {
    /// The part as UTF-8.
    pub fn decode(&self) -> String {
        text(&decode(self.bytes, &self.encoding), self.charset.as_deref())
    }
}

/// Bytes in a declared charset as UTF-8; unknown charsets and undeclared
/// 8-bit bytes read as UTF-8 with U+FFFD for what is not.
fn text(bytes: &[u8], charset: Option<&str>) -> String {
    // Plain ASCII reads the same in every charset mail uses, except the
    // 7-bit encodings of other scripts (ISO-2022 escapes, UTF-7, HZ) and
    // UTF-16 (NUL bytes).
    let seven_bit_encoding = charset.is_some_and(|c| {
        let c = c.trim().to_ascii_lowercase();
        c.starts_with("utf-7") || c.starts_with("utf7") || c.starts_with("hz") || c.contains("2022")
    });
    if !seven_bit_encoding && bytes.is_ascii() && memchr::memchr(0, bytes).is_none() {
        if undeclared_iso_2022_jp(bytes, charset)
            && let Some(decoder) = charset_decoder(b"iso-2022-jp")
        {
            return decoder(bytes);
        }
        return scan::lossy(bytes).into_owned();
    }
    match charset.map(str::trim).filter(|c| !c.is_empty()).and_then(|c| charset_decoder(c.as_bytes())) {
        Some(decoder) => decoder(bytes),
        None => scan::lossy(bytes).into_owned(),
    }
}

/// ISO-2022-JP text in a part that declares no charset (or US-ASCII):
/// Japanese MTAs write their DSN fields so (Domino's "Diagnostic-Code:
/// X-Notes; ESC$B…ESC(B"). The escape that switches to JIS X 0208 marks
/// it; without decoding, the escapes would reach diagnostics and output.
fn undeclared_iso_2022_jp(bytes: &[u8], charset: Option<&str>) -> bool {
    let undeclared = charset.is_none_or(|c| {
        let c = c.trim();
        c.is_empty() || c.eq_ignore_ascii_case("us-ascii") || c.eq_ignore_ascii_case("ascii")
    });
    undeclared
        && memchr::memmem::find_iter(bytes, b"\x1b$").any(|i| matches!(bytes.get(i + 2), Some(b'B' | b'@' | b'(')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(m: &Mime<'_>) -> Vec<String> {
        m.leaves.iter().map(|l| format!("{}/{}", l.ctype, l.subtype)).collect()
    }

    #[test]
    fn an_original_pasted_in_as_a_part_is_a_message() {
        // X1's layout: the second part is the original, its header taken
        // for the part's (with the original's own Content-Type).
        let raw = b"Content-Type: multipart/mixed; boundary=\"-f\"\n\n---f\nContent-Type: text/plain\n\n\
a@b.example [User unknown]\n\n---f\nReceived: from x by y\nMessage-Id: <m@c.example>\n\
Content-Type: text/plain; charset=US-ASCII\n\nLast chance: your mailbox is full of offers\n---f--\n";
        let m = parse(raw);
        assert_eq!(kinds(&m), ["text/plain", "message/rfc822"]);
        let Body::Message(inner) = &m.leaves[1].body else { panic!("not a message: {:?}", m.leaves[1].body) };
        assert!(inner.starts_with(b"Received: from x by y\n"));
    }

    #[test]
    fn walks_nested_multiparts_and_stops_at_attached_messages() {
        let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"A\"\n\n\
preamble\n--A\nContent-Type: multipart/alternative; boundary=AB\n\n--AB\nContent-Type: text/plain\n\nplain\n\
--AB\nContent-Type: text/html\n\n<p>html</p>\n--AB--\n--A\nContent-Type: message/delivery-status\n\n\
Final-Recipient: rfc822; x@y\n--A\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=Z\n\
Subject: inner\n\n--Z\n\nnot walked\n--Z--\n--A--\nepilogue\n";
        let m = parse(raw);
        assert_eq!(m.params.iter().find(|(n, _)| n == "report-type").map(|(_, v)| v.as_str()), Some("delivery-status"));
        assert_eq!(kinds(&m), ["text/plain", "text/html", "message/delivery-status", "message/rfc822"]);
        assert!(matches!(&m.leaves[0].body, Body::Text(t) if t == "plain"));
        assert!(matches!(&m.leaves[2].body, Body::Raw(t) if t == "Final-Recipient: rfc822; x@y"));
        assert!(matches!(m.leaves[3].body, Body::Message(b) if b.starts_with(b"Content-Type: multipart/mixed")));
    }

    #[test]
    fn decodes_transfer_encodings_and_charsets() {
        let raw = b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain; charset=iso-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\nCaf=E9 =\nau lait\n--B\nContent-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: base64\n\nw6l0w6k=\n--B\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\nAAAA\n--B--\n";
        let m = parse(raw);
        let texts: Vec<&str> =
            m.leaves.iter().filter_map(|l| if let Body::Text(t) = &l.body { Some(t.as_str()) } else { None }).collect();
        assert_eq!(texts, ["Café au lait", "été"]);
        assert!(matches!(m.leaves[2].body, Body::Skipped));
    }

    #[test]
    fn undeclared_iso_2022_jp_is_decoded() {
        // Domino writes its Japanese diagnostic into a delivery-status part
        // that declares no charset (or US-ASCII); text without the escape
        // stays as it is, and another declared charset is not overridden.
        let raw = b"Content-Type: multipart/report; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\n\
Diagnostic-Code: X-Notes; \x1b$B%f!<%6!<\x1b(BNeko\n--B\nContent-Type: text/plain\n\nNo escape $B here\n\
--B\nContent-Type: text/plain; charset=us-ascii\n\n\x1b$B$O\x1b(B\n--B--\n";
        let m = parse(raw);
        let bodies: Vec<&str> = m
            .leaves
            .iter()
            .filter_map(|l| match &l.body {
                Body::Text(t) | Body::Raw(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies, ["Diagnostic-Code: X-Notes; ユーザーNeko", "No escape $B here", "は"]);
        assert!(!undeclared_iso_2022_jp(b"\x1b$B%f\x1b(B", Some("iso-8859-1")));
        assert!(!undeclared_iso_2022_jp(b"\x1b(B only", None));
    }

    #[test]
    fn quoted_printable_is_lenient() {
        assert_eq!(quoted_printable(b"a=3Db=\nc= \t\nd=4"), b"a=bcd=4");
        assert_eq!(quoted_printable(b"50% =XY off="), b"50% =XY off");
        assert_eq!(quoted_printable(b"caf=C3=A9"), "café".as_bytes());
    }

    #[test]
    fn tolerates_what_real_bounces_get_wrong() {
        // No boundary in the body: the multipart is read as text.
        let m = parse(b"Content-Type: multipart/mixed; boundary=nope\n\nUser unknown\n");
        assert!(matches!(&m.leaves[0].body, Body::Text(t) if t == "User unknown\n"));
        // No closing delimiter, a longer boundary sharing the prefix, a part without headers.
        let m = parse(
            b"Content-Type: multipart/mixed; boundary=b\n\n--bb\nnot a delimiter\n--b\nno headers here\n--b\n\nlast",
        );
        let texts: Vec<String> =
            m.leaves.iter().filter_map(|l| if let Body::Text(t) = &l.body { Some(t.clone()) } else { None }).collect();
        assert_eq!(texts, ["no headers here", "last"]);
        // No header block at all, and an empty message.
        assert_eq!(parse(b"just text\n").leaves.len(), 1);
        assert_eq!(parse(b"").leaves.len(), 1);
        // Deep nesting stops without overflowing the stack.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(b"Content-Type: multipart/mixed; boundary=x\n\n--x\n");
        }
        let _ = parse(&deep);
    }
}
