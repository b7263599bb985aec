//! Enhanced status code patterns in rule conditions (`status`,
//! `not_status`): their syntax, checked when rules load, and their match
//! against a report's status.

/// `5.1.1` matches exactly; `4.4.*` matches a prefix; `?` stands for any
/// one character (`4.7.5??` is 4.7.500 to 4.7.599).
pub(crate) fn matches(pattern: &str, status: &str) -> bool {
    let same = |p: &str, s: &str| p.len() == s.len() && p.bytes().zip(s.bytes()).all(|(a, b)| a == b'?' || a == b);
    match pattern.strip_suffix('*') {
        Some(prefix) => status.get(..prefix.len()).is_some_and(|head| same(prefix, head)),
        None => same(pattern, status),
    }
}

/// `none`, or three dot-separated parts of digits and `?` with a class of
/// 2, 4 or 5 first, or fewer ending in `*` (`5.7.*`, `4.7.5??`).
pub(crate) fn is_valid(p: &str) -> bool {
    if p == "none" {
        return true;
    }
    let (body, prefix) = match p.strip_suffix('*') {
        Some(head) => (head.strip_suffix('.').unwrap_or(head), true),
        None => (p, false),
    };
    let parts: Vec<&str> = body.split('.').collect();
    let part_ok = |part: &&str| (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit() || b == b'?');
    (parts.len() == 3 || (prefix && parts.len() < 3)) && body.starts_with(['2', '4', '5']) && parts.iter().all(part_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns() {
        let m = matches;
        assert!(m("5.1.1", "5.1.1") && !m("5.1.1", "5.1.10"));
        assert!(m("4.4.*", "4.4.7") && !m("4.4.*", "4.7.4"));
        assert!(m("4.7.5??", "4.7.500") && m("4.7.5??", "4.7.599"));
        assert!(!m("4.7.5??", "4.7.5") && !m("4.7.5??", "4.7.50") && !m("4.7.5??", "4.7.5000"));
        assert!(!m("4.7.5??", "5.7.500") && !m("4.7.5*", "4.7"));
    }

    #[test]
    fn status_pattern_syntax() {
        for ok in ["5.1.1", "5.1.10", "5.7.*", "4.*", "4.7.5??", "4.4.7*", "none"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["5.1.l", "", "*", "6.1.1", "5.1.1.1", "5..1", "5.1.1000", "5.7.*.1", "4.7.5?? ", "5.7"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
