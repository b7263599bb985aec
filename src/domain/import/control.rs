//! Control characters in imported fields. A name or a custom column goes
//! into message headers and bodies as written, so what a spreadsheet can
//! hide (a line break inside a cell, a NUL, an escape) is cleaned at the
//! import, and the report says which columns of which line were changed:
//! line breaks and tabs become one space, other control characters (C0,
//! DEL, C1) are removed.

use super::{IssueKind, RowIssue};

/// Whether `c` breaks a line or a column: replaced by a space.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\t' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `value` without control characters, or `None` when it has none.
pub(super) fn clean(value: &str) -> Option<String> {
    if !value.chars().any(|c| c.is_control() || is_break(c)) {
        return None;
    }
    let mut out = String::with_capacity(value.len());
    let mut in_break = false;
    for c in value.chars() {
        if is_break(c) {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else if !c.is_control() {
            out.push(c);
            in_break = false;
        }
    }
    Some(out.trim().to_string())
}

/// The report row for a line whose `columns` were cleaned.
pub(super) fn issue(line: u64, address: &str, columns: &[&str]) -> RowIssue {
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    RowIssue {
        line,
        address: address.to_string(),
        kind: IssueKind::ControlChars,
        reason: format!(
            "control characters in {} (line breaks and tabs replaced by a space, others removed); imported cleaned",
            names.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_become_one_space_and_other_controls_go() {
        assert_eq!(clean("Ann"), None);
        assert_eq!(clean("Ann Lee"), None);
        assert_eq!(clean("Ann\r\nBcc: x@evil.test").as_deref(), Some("Ann Bcc: x@evil.test"));
        assert_eq!(clean("Ann\tLee\n").as_deref(), Some("Ann Lee"));
        assert_eq!(clean("A\0n\u{7f}n\u{1b}[31m\u{9b}").as_deref(), Some("Ann[31m"));
        assert_eq!(clean("Zoë\u{2028}Ünal").as_deref(), Some("Zoë Ünal"));
    }
}
