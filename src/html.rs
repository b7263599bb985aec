//! Reading HTML text: the one decoder of character references, for the
//! places that read HTML (tracking's link scanner, the bounce classifier's
//! HTML-to-text).

/// The character reference at the start of `s` (`&amp;`, `&#39;`,
/// `&#x27;`): its character and its length in bytes. `named` lists the
/// named references the caller reads, without `&` and `;`; numeric ones are
/// always read. A reference is at most 12 bytes long.
pub fn reference(s: &str, named: &[(&str, char)]) -> Option<(char, usize)> {
    let end = s.get(..12).unwrap_or(s).find(';')?;
    let name = s.strip_prefix('&')?.get(..end - 1)?;
    let c = match name.strip_prefix('#') {
        Some(n) => match n.strip_prefix(['x', 'X']) {
            Some(hex) => char::from_u32(u32::from_str_radix(hex, 16).ok()?)?,
            None => char::from_u32(n.parse().ok()?)?,
        },
        None => named.iter().find(|(k, _)| *k == name)?.1,
    };
    Some((c, end + 1))
}

/// Appends `text` to `out` with its character references decoded: the
/// numeric ones and the `named` ones whose character `accept` takes; every
/// other `&` stays as written.
pub fn decode_into(out: &mut String, mut text: &str, named: &[(&str, char)], accept: fn(char) -> bool) {
    while let Some(amp) = text.find('&') {
        out.push_str(text.get(..amp).unwrap_or(""));
        let after = text.get(amp..).unwrap_or("");
        let (c, len) = reference(after, named).filter(|&(c, _)| accept(c)).unwrap_or(('&', 1));
        out.push(c);
        text = after.get(len..).unwrap_or("");
    }
    out.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_named_and_numeric() {
        let named = [("amp", '&')];
        assert_eq!(reference("&amp;x", &named), Some(('&', 5)));
        assert_eq!(reference("&#39;", &named), Some(('\'', 5)));
        assert_eq!(reference("&#x27;s", &named), Some(('\'', 6)));
        assert_eq!(reference("&lt;", &named), None);
        assert_eq!(reference("&#99999999;", &named), None);
        assert_eq!(reference("&#x;", &named), None);
        assert_eq!(reference("& no reference here;", &named), None);
        let mut out = String::from(">");
        decode_into(&mut out, "a &amp; b &#0; &#65;&", &named, |c| c != 'A');
        assert_eq!(out, ">a & b \u{0} &#65;&");
    }
}
