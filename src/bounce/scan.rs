//! Byte-level helpers the parsers share: line splitting with a vectorised
//! newline search, and UTF-8 decoding that checks the common valid case
//! with the fast validator before falling back to the lossy one.
//!
//! Both are on the classifier's hot path: every header block and text part
//! goes through them, and the standard library's equivalents search for
//! `\n` and validate UTF-8 byte by byte.

use std::borrow::Cow;

/// The lines of `s` exactly as [`str::lines`] gives them: split at `\n`,
/// the `\r` of a `\r\n` dropped, no empty last line after a final newline.
pub(crate) fn lines(s: &str) -> Lines<'_> {
    Lines { rest: s }
}

/// Iterator of [`lines`].
pub(crate) struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', self.rest.as_bytes()) {
            // `\n` is ASCII, so both slices fall on character boundaries.
            Some(i) => {
                let line = self.rest.get(..i).unwrap_or("");
                self.rest = self.rest.get(i + 1..).unwrap_or("");
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            // A last line without `\n` keeps a `\r`, as `str::lines` does.
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

/// Bytes as UTF-8, with U+FFFD for what is not: borrowed when valid.
pub(crate) fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_the_standard_library() {
        for s in ["", "\n", "a", "a\n", "a\nb", "a\r\nb\r\n", "\n\na\n\n", "x\r", "\r\n", "é\nü\r\n\r", "a\rb\n"] {
            assert_eq!(lines(s).collect::<Vec<_>>(), s.lines().collect::<Vec<_>>(), "{s:?}");
        }
    }

    #[test]
    fn lossy_borrows_valid_text_and_replaces_bad_bytes() {
        assert!(matches!(lossy(b"caf\xc3\xa9"), Cow::Borrowed("café")));
        assert_eq!(lossy(b"a\xffb"), "a\u{fffd}b");
    }
}
