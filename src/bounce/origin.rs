//! Which of our messages a report is about: the VERP token of the
//! envelope recipient (`bounces+TOKEN@…`) or of the quoted Return-Path,
//! our `X-Winback-Token` header, and the quoted `Message-ID`.

use super::parts::Parts;
use super::scan;
use super::{Original, Report, TOKEN_HEADER, VERP_PREFIX};

/// Finds what identifies the original message.
pub(crate) fn identify(parts: &Parts, envelope: &[String], _report: &Report) -> Original {
    let mut verp_token = envelope.iter().chain(parts.envelope_to.iter()).find_map(|e| verp_token(e));
    let mut token = None;
    let mut message_id = None;
    // One pass over every line: the quoted headers and the texts can be long.
    let sources = std::iter::once(parts.quoted.headers.as_str()).chain(parts.texts.iter().map(String::as_str));
    for line in sources.flat_map(scan::lines) {
        if verp_token.is_some() && token.is_some() && message_id.is_some() {
            break;
        }
        // Only three names matter; most lines fail on their first letter
        // (looked at byte-wise; a line that starts with other than ASCII
        // whitespace is trimmed as text).
        let first = line.bytes().find(|b| !(b.is_ascii_whitespace() || *b == b'\x0b'));
        let first = if first.is_some_and(|b| b >= 0x80) { line.trim_start().bytes().next() } else { first };
        if !matches!(first, Some(b'r' | b'R' | b'x' | b'X' | b'm' | b'M')) {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if verp_token.is_none() && name.eq_ignore_ascii_case("return-path") {
            verp_token = self::verp_token(value);
        } else if token.is_none() && name.eq_ignore_ascii_case(TOKEN_HEADER) {
            token = Some(value.trim().to_ascii_lowercase()).filter(|v| is_token(v));
        } else if message_id.is_none() && name.eq_ignore_ascii_case("message-id") {
            let v = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
            if v.contains('@') && !v.contains(char::is_whitespace) {
                message_id = Some(v.to_string());
            }
        }
    }
    Original { verp_token, token, message_id }
}

/// The token in `bounces+TOKEN@domain`, when the text holds such an address.
pub fn verp_token(text: &str) -> Option<String> {
    tagged_token(VERP_PREFIX, text)
}

/// The token in the first `PREFIX+TOKEN@domain` address in `text`
/// (`prefix` lower-case, with its `+`); case-insensitive, since some MTAs
/// fold the case of local parts.
pub fn tagged_token(prefix: &str, text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(prefix) {
        let after = rest.get(i + prefix.len()..).unwrap_or("");
        let tok: String = after.chars().take_while(|c| c.is_ascii_lowercase() || ('2'..='7').contains(c)).collect();
        if after.get(tok.len()..).is_some_and(|r| r.starts_with('@')) && is_token(&tok) {
            return Some(tok);
        }
        rest = after;
    }
    None
}

fn is_token(v: &str) -> bool {
    (16..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_verp_tokens() {
        assert_eq!(
            verp_token("To: <bounces+abcdefghijklmnop234567@b.example.org>"),
            Some("abcdefghijklmnop234567".into())
        );
        assert_eq!(verp_token("bounces+short@b.example.org"), None);
        assert_eq!(verp_token("bounces+abcdefghijklmnop23456789@x"), None);
    }
}
