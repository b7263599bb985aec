//! Which of our messages a report is about: the VERP token of the
//! envelope recipient (`bounces+TOKEN@…`) or of the quoted Return-Path,
//! our `X-Winback-Token` header, and the quoted `Message-ID`.

use super::parts::Parts;
use super::{Original, Report, TOKEN_HEADER, VERP_PREFIX};

/// Finds what identifies the original message.
pub(crate) fn identify(parts: &Parts, envelope: &[String], _report: &Report) -> Original {
    let mut quoted = parts.quoted.headers.clone();
    for t in &parts.texts {
        quoted.push('\n');
        quoted.push_str(t);
    }
    let verp_token = envelope
        .iter()
        .chain(parts.envelope_to.iter())
        .find_map(|e| verp_token(e))
        .or_else(|| header_values(&quoted, "return-path").find_map(verp_token));
    let token = header_values(&quoted, &TOKEN_HEADER.to_ascii_lowercase())
        .map(|v| v.trim().to_ascii_lowercase())
        .find(|v| is_token(v));
    let message_id = header_values(&quoted, "message-id")
        .map(|v| v.trim().trim_start_matches('<').trim_end_matches('>').trim().to_string())
        .find(|v| v.contains('@') && !v.contains(char::is_whitespace));
    Original { verp_token, token, message_id }
}

/// The token in `bounces+TOKEN@domain`, when the text holds such an address.
pub fn verp_token(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(VERP_PREFIX) {
        let after = rest.get(i + VERP_PREFIX.len()..).unwrap_or("");
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

/// Values of `name:` lines (lower-case name) anywhere in a text, unfolded by line only.
fn header_values<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines().filter_map(move |l| {
        let (n, v) = l.split_once(':')?;
        if n.trim().eq_ignore_ascii_case(name) { Some(v) } else { None }
    })
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
