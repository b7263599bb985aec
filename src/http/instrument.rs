//! Instrumenting a message for tracking: links of the HTML part (and,
//! with `[tracking] text_links`, of the text part, found by
//! [`super::text_links`]) become click redirects, and an open pixel is
//! added to the HTML. A pure text transformation the composer calls as its
//! body hook.
//!
//! The scanner is deliberately small: it finds `<a …>` start tags (outside
//! comments, `<script>` and `<style>`), reads their attributes with HTML's
//! quoting rules and replaces only the `href` value, so the rest of the
//! markup comes out byte for byte as it went in.

use crate::token::{Keys, Purpose};

/// Which tracking to add (from `[tracking]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentOptions {
    /// Add the open pixel.
    pub opens: bool,
    /// Rewrite links to the click redirect.
    pub clicks: bool,
    /// Rewrite the links of the text part too (with `clicks`).
    pub text_links: bool,
}

/// An attribute that keeps one link as it is.
pub const NO_TRACK_ATTR: &str = "data-winback-notrack";

/// The open-pixel URL of a message.
pub fn open_url(keys: &Keys, message_id: u64, base_url: &str) -> String {
    format!("{}/o/{}.gif", base_url.trim_end_matches('/'), keys.sign(Purpose::Open, message_id, 0))
}

/// The click-redirect URL of one link of a message.
pub fn click_url(keys: &Keys, message_id: u64, link: u16, base_url: &str) -> String {
    format!("{}/c/{}", base_url.trim_end_matches('/'), keys.sign(Purpose::Click, message_id, link))
}

/// The survey page URL of a message (`{{ survey_url }}` in templates).
pub fn survey_url(keys: &Keys, message_id: u64, base_url: &str) -> String {
    format!("{}/s/{}", base_url.trim_end_matches('/'), keys.sign(Purpose::Survey, message_id, 0))
}

/// The one-click unsubscribe URL of a message (also the `List-Unsubscribe` URL).
pub fn unsubscribe_url(keys: &Keys, message_id: u64, base_url: &str) -> String {
    format!("{}/u/{}", base_url.trim_end_matches('/'), keys.sign(Purpose::Unsubscribe, message_id, 0))
}

/// Rewrites `http(s)` links to click redirects and adds the open pixel, as
/// `opts` says. Returns the new HTML and the original link URLs in index
/// order (the same URL twice gets one index); store them with the message,
/// the redirect goes only there.
///
/// Left alone: `mailto:`, `tel:`, anchors and every other non-HTTP link,
/// links to winback's own `/u/`, `/s/`, `/c/` and `/o/` URLs (the
/// unsubscribe link, the survey page), and links carrying a `data-winback-notrack` attribute. After
/// 65,536 distinct links the rest stay as they are.
pub fn instrument_html(
    html: &str,
    opts: InstrumentOptions,
    keys: &Keys,
    message_id: u64,
    base_url: &str,
) -> (String, Vec<String>) {
    let mut linker = Linker::new(keys, message_id, base_url);
    let out = linker.html(html, opts);
    (out, linker.links)
}

/// Both parts of a message: the HTML as [`instrument_html`] does it, then,
/// when `opts.clicks` and `opts.text_links`, the text part's links
/// (a URL found in both parts gets one index). Returns the new text, the
/// new HTML and the original link URLs in index order.
pub fn instrument_message(
    text: &str,
    html: &str,
    opts: InstrumentOptions,
    keys: &Keys,
    message_id: u64,
    base_url: &str,
) -> (String, String, Vec<String>) {
    let mut linker = Linker::new(keys, message_id, base_url);
    let html = linker.html(html, opts);
    let text = if opts.clicks && opts.text_links { linker.text(text) } else { text.to_string() };
    (text, html, linker.links)
}

/// Hands out link indexes for one message.
struct Linker<'a> {
    keys: &'a Keys,
    message_id: u64,
    base: &'a str,
    links: Vec<String>,
    seen: std::collections::HashMap<String, u16>,
}

impl<'a> Linker<'a> {
    fn new(keys: &'a Keys, message_id: u64, base_url: &'a str) -> Self {
        let base = base_url.trim_end_matches('/');
        Linker { keys, message_id, base, links: Vec::new(), seen: Default::default() }
    }

    /// The redirect URL of `url`, or `None` to leave it (not trackable, or
    /// past 65,536 links).
    fn redirect(&mut self, url: &str) -> Option<String> {
        if !trackable(url, self.base) {
            return None;
        }
        let index = match self.seen.get(url) {
            Some(&i) => i,
            None => {
                let i = u16::try_from(self.links.len()).ok()?;
                self.seen.insert(url.to_string(), i);
                self.links.push(url.to_string());
                i
            }
        };
        Some(click_url(self.keys, self.message_id, index, self.base))
    }

    fn html(&mut self, html: &str, opts: InstrumentOptions) -> String {
        let mut out = String::with_capacity(html.len() + 256);
        let mut copied = 0;
        if opts.clicks {
            for tag in anchor_tags(html) {
                let Some(href) = tag.href else { continue };
                let url = unescape(html.get(href.start..href.end).unwrap_or(""));
                let Some(redirect) = (!tag.no_track).then(|| self.redirect(url.trim())).flatten() else { continue };
                out.push_str(html.get(copied..href.outer_start).unwrap_or(""));
                out.push('"');
                out.push_str(&escape(&redirect));
                out.push('"');
                copied = href.outer_end;
            }
        }
        out.push_str(html.get(copied..).unwrap_or(""));
        if opts.opens {
            let pixel = format!(
                r#"<img src="{}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">"#,
                escape(&open_url(self.keys, self.message_id, self.base))
            );
            match rfind_ascii_ci(&out, "</body") {
                Some(at) => out.insert_str(at, &pixel),
                None => out.push_str(&pixel),
            }
        }
        out
    }

    fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 256);
        let mut copied = 0;
        for span in super::text_links::find_urls(text) {
            let Some(redirect) = text.get(span.clone()).and_then(|u| self.redirect(u)) else { continue };
            out.push_str(text.get(copied..span.start).unwrap_or(""));
            out.push_str(&redirect);
            copied = span.end;
        }
        out.push_str(text.get(copied..).unwrap_or(""));
        out
    }
}

fn trackable(url: &str, base: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return false;
    }
    let ours = ["/u/", "/s/", "/c/", "/o/"].iter().any(|p| {
        url.len() > base.len()
            && url.get(..base.len()).is_some_and(|b| b.eq_ignore_ascii_case(base))
            && url.get(base.len()..).is_some_and(|rest| rest.starts_with(p))
    });
    !ours
}

/// Byte spans of an `href` value: the value itself (without quotes) and the
/// whole value as written (with its quotes).
#[derive(Debug, Clone, Copy)]
struct HrefSpan {
    start: usize,
    end: usize,
    outer_start: usize,
    outer_end: usize,
}

#[derive(Debug)]
struct AnchorTag {
    href: Option<HrefSpan>,
    no_track: bool,
}

/// The `<a>` start tags of a document, in order.
fn anchor_tags(html: &str) -> Vec<AnchorTag> {
    let b = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|s| s.iter().position(|&c| c == b'<')) {
        i += off;
        let rest = b.get(i..).unwrap_or(&[]);
        if rest.starts_with(b"<!--") {
            i = find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        let name_len = rest.iter().skip(1).take_while(|c| c.is_ascii_alphanumeric()).count();
        let name = rest.get(1..1 + name_len).unwrap_or(&[]).to_ascii_lowercase();
        if name.is_empty() {
            i += 1;
            continue;
        }
        let (tag, end) = read_attributes(b, i + 1 + name_len);
        i = end;
        match name.as_slice() {
            b"a" => tags.push(tag),
            // Raw text: nothing inside is markup.
            b"script" | b"style" => {
                let close = if name == b"script" { b"</script".as_slice() } else { b"</style".as_slice() };
                i = find_ci(b, i, close).unwrap_or(b.len());
            }
            _ => {}
        }
    }
    tags
}

/// Reads attributes from just after the tag name to just after `>`.
fn read_attributes(b: &[u8], mut i: usize) -> (AnchorTag, usize) {
    let mut tag = AnchorTag { href: None, no_track: false };
    let at = |i: usize| b.get(i).copied();
    loop {
        while at(i).is_some_and(|c| c.is_ascii_whitespace() || c == b'/') {
            i += 1;
        }
        match at(i) {
            None => return (tag, b.len()),
            Some(b'>') => return (tag, i + 1),
            Some(_) => {}
        }
        let name_start = i;
        while at(i).is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/')) {
            i += 1;
        }
        let name = b.get(name_start..i).unwrap_or(&[]).to_ascii_lowercase();
        if name.is_empty() {
            // A stray `=`: skip it rather than loop forever.
            i += 1;
            continue;
        }
        let mut j = i;
        while at(j).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 1;
        }
        let mut value = None;
        if at(j) == Some(b'=') {
            j += 1;
            while at(j).is_some_and(|c| c.is_ascii_whitespace()) {
                j += 1;
            }
            let outer_start = j;
            match at(j) {
                Some(q @ (b'"' | b'\'')) => {
                    let close = b.get(j + 1..).and_then(|s| s.iter().position(|&c| c == q));
                    let Some(len) = close else { return (tag, b.len()) };
                    value = Some(HrefSpan { start: j + 1, end: j + 1 + len, outer_start, outer_end: j + 2 + len });
                    j += len + 2;
                }
                _ => {
                    while at(j).is_some_and(|c| !c.is_ascii_whitespace() && c != b'>') {
                        j += 1;
                    }
                    value = Some(HrefSpan { start: outer_start, end: j, outer_start, outer_end: j });
                }
            }
            i = j;
        }
        match name.as_slice() {
            b"href" if tag.href.is_none() => tag.href = value,
            n if n == NO_TRACK_ATTR.as_bytes() => tag.no_track = true,
            _ => {}
        }
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)).map(|p| p + from)
}

fn rfind_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes().windows(needle.len()).rposition(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Escapes text for a double-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The named references for markup characters.
const MARKUP: &[(&str, char)] = &[("amp", '&'), ("quot", '"'), ("apos", '\''), ("lt", '<'), ("gt", '>')];

/// Decodes the character references that appear in URLs in practice:
/// the named ones for markup characters and numeric ones.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    crate::html::decode_into(&mut out, s, MARKUP, |_| true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://t.shop.example";
    const BOTH: InstrumentOptions = InstrumentOptions { opens: true, clicks: true, text_links: true };

    fn keys() -> Keys {
        Keys::from_secret([3; 32])
    }

    #[test]
    fn links_are_rewritten_in_order_and_recorded() {
        let k = keys();
        let html = r#"<p><A class=x HREF="https://shop.example/a?x=1&amp;y=2">a</A> <a href='http://shop.example/b'>b</a>
<a href=https://shop.example/c>c</a> <a href="https://shop.example/a?x=1&amp;y=2">again</a></p>"#;
        let (out, links) =
            instrument_html(html, InstrumentOptions { opens: false, clicks: true, text_links: true }, &k, 9, BASE);
        assert_eq!(links, ["https://shop.example/a?x=1&y=2", "http://shop.example/b", "https://shop.example/c"]);
        let c = |i| click_url(&k, 9, i, BASE);
        let expect = format!(
            r#"<p><A class=x HREF="{}">a</A> <a href="{}">b</a>
<a href="{}">c</a> <a href="{}">again</a></p>"#,
            c(0),
            c(1),
            c(2),
            c(0)
        );
        assert_eq!(out, expect);
    }

    #[test]
    fn non_http_links_the_unsubscribe_link_and_opted_out_links_stay() {
        let k = keys();
        let unsub = unsubscribe_url(&k, 9, BASE);
        let survey = survey_url(&k, 9, BASE);
        let html = format!(
            r##"<a href="mailto:help@shop.example">m</a><a href="#top">t</a><a href="tel:+1">p</a>
<a href="{unsub}">u</a><a href="{survey}">s</a><a name="x">n</a><a data-winback-notrack href="https://shop.example/">k</a>
<!-- <a href="https://hidden.example/">c</a> --><script>var s = '<a href="https://js.example/">';</script>
<img src="https://shop.example/logo.png">"##
        );
        let (out, links) =
            instrument_html(&html, InstrumentOptions { opens: false, clicks: true, text_links: true }, &k, 9, BASE);
        assert!(links.is_empty(), "{links:?}");
        assert_eq!(out, html);
    }

    #[test]
    fn pixel_goes_before_body_end_or_at_the_end() {
        let k = keys();
        let px = open_url(&k, 5, BASE);
        let (out, links) = instrument_html(
            "<html><body><p>x</p></BODY></html>",
            InstrumentOptions { opens: true, clicks: false, text_links: true },
            &k,
            5,
            BASE,
        );
        assert!(links.is_empty());
        let at = out.find(&px).unwrap();
        assert!(at < out.find("</BODY>").unwrap(), "{out}");
        let (out, _) = instrument_html("<p>fragment</p>", BOTH, &k, 5, BASE);
        assert!(out.starts_with("<p>fragment</p><img src=\"") && out.contains(&px), "{out}");
        let (out, links) = instrument_html(
            "<a href=\"https://x.example/\">x</a>",
            InstrumentOptions { opens: false, clicks: false, text_links: true },
            &k,
            5,
            BASE,
        );
        assert_eq!((out.as_str(), links.len()), ("<a href=\"https://x.example/\">x</a>", 0));
    }

    #[test]
    fn broken_markup_never_panics_and_is_kept() {
        let k = keys();
        for html in [
            "<a href=\"https://x.example/",
            "<a href=",
            "<a",
            "<",
            "<!--",
            "<a =x href='https://y.example/'>é</a>",
            "<script>",
            "<a href=\"https://x.example/\"",
            "ü<a\thref\n=\n'https://ü.example/ü'>ü",
            "&<&amp#;<a href=&#x;>",
        ] {
            let (out, links) =
                instrument_html(html, InstrumentOptions { opens: false, clicks: true, text_links: true }, &k, 1, BASE);
            if links.is_empty() {
                assert_eq!(out, html);
            } else {
                assert!(out.contains("/c/"), "{html} → {out}");
            }
        }
        let (_, links) = instrument_html(
            "ü<a\thref\n=\n'https://ü.example/ü'>ü",
            InstrumentOptions { opens: false, clicks: true, text_links: true },
            &k,
            1,
            BASE,
        );
        assert_eq!(links, ["https://ü.example/ü"]);
    }

    #[test]
    fn text_links_share_indexes_with_html_and_skip_our_own_urls() {
        let k = keys();
        let unsub = unsubscribe_url(&k, 9, BASE);
        let html = r#"<a href="https://shop.example/sale">Sale</a>"#;
        let text = format!(
            "New: https://shop.example/new.\nSale (https://shop.example/sale)\n<https://shop.example/new>\n\
             mailto:help@shop.example\n--\nUnsubscribe with one click: {unsub}\n"
        );
        let (t, h, links) = instrument_message(&text, html, BOTH, &k, 9, BASE);
        assert_eq!(links, ["https://shop.example/sale", "https://shop.example/new"]);
        let c = |i| click_url(&k, 9, i, BASE);
        assert_eq!(
            t,
            format!(
                "New: {}.\nSale ({})\n<{}>\nmailto:help@shop.example\n--\nUnsubscribe with one click: {unsub}\n",
                c(1),
                c(0),
                c(1)
            )
        );
        assert!(h.contains(&c(0)));
        // Instrumenting again changes nothing: redirects are never wrapped twice.
        let (t2, _, again) = instrument_message(&t, "", BOTH, &k, 9, BASE);
        assert_eq!((t2.as_str(), again.len()), (t.as_str(), 0));
        // Off: the text part stays as written, the HTML is still rewritten.
        let off = InstrumentOptions { text_links: false, ..BOTH };
        let (t3, h3, links3) = instrument_message(&text, html, off, &k, 9, BASE);
        assert_eq!((t3.as_str(), links3.len()), (text.as_str(), 1));
        assert!(h3.contains(&c(0)));
    }

    #[test]
    fn unescape_handles_references() {
        assert_eq!(unescape("a&amp;b&#38;c&#x26;d&quot;&bogus;&"), "a&b&c&d\"&bogus;&");
        assert_eq!(escape("a&\"<>'"), "a&amp;&quot;&lt;&gt;&#39;");
    }
}
