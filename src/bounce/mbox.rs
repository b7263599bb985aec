//! Files that hold several messages in mbox form: bounce mailboxes are often
//! saved that way, and a report copied to the postmaster arrives right
//! after the original one. Each message is classified on its own.

/// The messages of `raw`: split before every mbox `From ` separator line.
/// A file without separators is one message.
pub fn split_mbox(raw: &[u8]) -> Vec<&[u8]> {
    let mut starts = vec![0];
    // Only lines beginning with "From " can separate: found with one
    // substring search instead of a look at every line.
    for at in memchr::memmem::find_iter(raw, b"\nFrom ") {
        let pos = at + 1;
        let end = memchr::memchr(b'\n', raw.get(pos..).unwrap_or_default()).map_or(raw.len(), |i| pos + i + 1);
        if is_separator(raw.get(pos..end).unwrap_or_default(), raw.get(end..).unwrap_or_default()) {
            starts.push(pos);
        }
    }
    starts.push(raw.len());
    starts
        .windows(2)
        .filter_map(|w| raw.get(w[0]..w[1]))
        .filter(|m| m.iter().any(|b| !b.is_ascii_whitespace()))
        .collect()
}

/// `From sender date…` (with a `hh:mm` time) followed by a `Name: value`
/// header line. Writers do not always leave an empty line before it (a
/// MIME closing boundary may come right before), so the shape decides: a
/// body line that merely begins with "From " is not followed by a header.
fn is_separator(line: &[u8], rest: &[u8]) -> bool {
    if !line.starts_with(b"From ") {
        return false;
    }
    let has_time = line.windows(5).any(|w| {
        w[0].is_ascii_digit() && w[1].is_ascii_digit() && w[2] == b':' && w[3].is_ascii_digit() && w[4].is_ascii_digit()
    });
    if !has_time {
        return false;
    }
    let next = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let name_len = next.iter().position(|&b| b == b':').unwrap_or(0);
    name_len > 0 && next[..name_len].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_from_lines_only() {
        let one = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: x\n\nFrom here on, at 10:30:\ntext.\n";
        assert_eq!(split_mbox(one).len(), 1, "a body line beginning with From is no separator");
        let two = b"From a@b Mon Jan 1 10:00 2024\nSubject: x\n\nbody\n--b--\nFrom c@d Tue Jan 2 11:00:00 2024\nSubject: y\n\nbody\n";
        let got = split_mbox(two);
        assert_eq!(got.len(), 2);
        assert!(got[1].starts_with(b"From c@d"));
        assert_eq!(split_mbox(b"Subject: plain\r\n\r\nbody\r\n").len(), 1);
        assert!(split_mbox(b"").is_empty());
    }
}
