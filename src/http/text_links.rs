//! Finding the links of a plain-text part, so they can become click
//! redirects like the HTML ones.
//!
//! A link is an `http://` or `https://` URL that starts a word (not glued
//! to a letter or digit before it) and runs to the next white space, `<`,
//! `>`, `"` or backquote. What text puts after a URL is not part of it:
//! trailing sentence punctuation (`.,;:!?'*_`) is left out, and so is a
//! closing `)`, `]` or `}` that has no opening one inside the URL (a URL
//! in parentheses, or a Markdown link). `<https://…>` and `<URL:https://…>`
//! therefore come out without their angle brackets.

use std::ops::Range;

/// Byte ranges of the URLs in `text`, in order.
pub fn find_urls(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(len) = scheme_at(b, i) else {
            i += 1;
            continue;
        };
        let glued = i > 0 && b.get(i - 1).is_some_and(|c| c.is_ascii_alphanumeric());
        let mut end = i + len;
        while end < b.len() && !stops(b[end]) {
            end += 1;
        }
        let end = trim_end(text, i, end);
        if !glued && end > i + len {
            out.push(i..end);
        }
        i = end.max(i + len);
    }
    out
}

/// The length of `http://` or `https://` (any case) at `i`.
fn scheme_at(b: &[u8], i: usize) -> Option<usize> {
    ["http://", "https://"]
        .iter()
        .find_map(|s| b.get(i..i + s.len()).filter(|w| w.eq_ignore_ascii_case(s.as_bytes())).map(|_| s.len()))
}

/// Bytes that end a URL in text.
fn stops(c: u8) -> bool {
    c.is_ascii_whitespace() || c.is_ascii_control() || matches!(c, b'<' | b'>' | b'"' | b'`')
}

/// Drops trailing punctuation and unbalanced closing brackets.
fn trim_end(text: &str, start: usize, mut end: usize) -> usize {
    loop {
        let url = text.get(start..end).unwrap_or("");
        let Some(last) = url.chars().last() else { return end };
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '_' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            ']' => url.matches('[').count() < url.matches(']').count(),
            '}' => url.matches('{').count() < url.matches('}').count(),
            _ => false,
        };
        if !drop {
            return end;
        }
        end -= last.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<&str> {
        find_urls(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn sentence_punctuation_and_brackets_stay_outside() {
        let text = "See https://shop.example/a. Or (https://shop.example/b), <https://shop.example/c>,\n\
                    [sale](https://shop.example/d?x=1&y=2) and https://en.example/wiki/Foo_(bar)!\n\
                    <URL:http://shop.example/e> \"https://shop.example/f\" 'https://shop.example/g'";
        assert_eq!(
            urls(text),
            [
                "https://shop.example/a",
                "https://shop.example/b",
                "https://shop.example/c",
                "https://shop.example/d?x=1&y=2",
                "https://en.example/wiki/Foo_(bar)",
                "http://shop.example/e",
                "https://shop.example/f",
                "https://shop.example/g",
            ]
        );
    }

    #[test]
    fn only_http_urls_that_start_a_word() {
        assert!(urls("xhttps://a.example/ mailto:a@b.example ftp://a.example/ https:// http:/x").is_empty());
        assert_eq!(urls("HTTPS://A.example/Ü?q=ü…"), ["HTTPS://A.example/Ü?q=ü…"]);
        assert_eq!(urls("go:https://a.example/x;"), ["https://a.example/x"]);
        assert_eq!(urls("end https://a.example/?"), ["https://a.example/"]);
        assert_eq!(urls("https://a.example/x\thttps://b.example/y"), ["https://a.example/x", "https://b.example/y"]);
    }

    #[test]
    fn odd_input_never_panics() {
        for t in ["", "h", "https://", "https://.", "é https://é.example/é.", "(((https://x.example/)))", "https://]"]
        {
            for r in find_urls(t) {
                assert!(t.get(r).is_some());
            }
        }
        assert_eq!(urls("(((https://x.example/)))"), ["https://x.example/"]);
    }
}
