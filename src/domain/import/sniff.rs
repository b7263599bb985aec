//! The field separator of a delimited file, found from its header line:
//! `,` (the CSV default), `;` (spreadsheet exports where the decimal mark
//! is a comma, much of Europe) or a tab. The separator that occurs most
//! often outside quotes in the first line wins; on a tie, or when the line
//! has none (a one-column file), `,`. The bytes read to decide are handed
//! on, so the input is still read once from the start.

use std::io::{Chain, Cursor, Read};

/// The separators winback detects, in order of preference on a tie.
pub const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// The most of a header line read to find its separator.
const MAX_HEADER: usize = 64 * 1024;

/// The input again from its first byte.
pub(crate) type Replayed<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads the first line of `input` (up to 64 KiB) and returns the
/// separator and the whole input, those bytes included.
pub(crate) fn sniff<R: Read>(mut input: R) -> std::io::Result<(u8, Replayed<R>)> {
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let delimiter = loop {
        if let Some(d) = first_line_delimiter(&head) {
            break d;
        }
        if head.len() >= MAX_HEADER {
            break count_delimiter(&head);
        }
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break count_delimiter(&head);
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    Ok((delimiter, Cursor::new(head).chain(input)))
}

/// The separator of the first non-blank line once it is complete (a line
/// break outside quotes seen), else `None`.
fn first_line_delimiter(bytes: &[u8]) -> Option<u8> {
    let start = bytes.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
    let line = bytes.get(start..)?;
    let mut quoted = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => return Some(count_delimiter(line.get(..i).unwrap_or_default())),
            _ => {}
        }
    }
    None
}

/// The separator occurring most often outside quotes in `line`.
fn count_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
            counts[i] += 1;
        }
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    DELIMITERS.iter().zip(counts).find(|&(_, n)| n == best && n > 0).map_or(b',', |(&d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(data: &[u8]) -> (u8, Vec<u8>) {
        let (d, mut r) = sniff(data).unwrap_or_else(|e| panic!("{e}"));
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap_or_else(|e| panic!("{e}"));
        (d, all)
    }

    #[test]
    fn finds_the_separator_of_the_header_and_replays_the_input() {
        assert_eq!(sniffed(b"email,name\na@x.com,A;B\n"), (b',', b"email,name\na@x.com,A;B\n".to_vec()));
        assert_eq!(sniffed(b"E-Mail;Vorname;Nachname\r\na@x.de;A;B\r\n").0, b';');
        assert_eq!(sniffed(b"email\tname\n").0, b'\t');
        assert_eq!(sniffed(b"\n\n\"a,b\";c;d\nx,y,z,w\n").0, b';', "a quoted comma does not count");
        assert_eq!(sniffed(b"email\n").0, b',');
        assert_eq!(sniffed(b"email;name").0, b';', "no line break at all");
        assert_eq!(sniffed(b"").0, b',');
        assert_eq!(sniffed(b"a;b,c\n").0, b',', "a tie goes to the comma");
    }

    #[test]
    fn reads_long_headers_in_chunks() {
        let header: String = (0..3000).map(|i| format!("col{i};")).collect();
        let text = format!("{header}email\na;b\n");
        let (d, all) = sniffed(text.as_bytes());
        assert_eq!((d, all.len()), (b';', text.len()));
    }
}
