//! Line numbers and quote state of a CSV byte stream, tracked as the bytes
//! pass through to the CSV parser.
//!
//! The `csv` crate's own line counter drifts on CRLF and lone-CR files and
//! an unterminated quote makes it read the rest of the file as one value
//! without complaint. [`Tracked`] sees every byte first, so it can map a
//! record's start offset to the line a person sees in an editor, and tell
//! whether the file ended inside a quoted field.

use std::collections::VecDeque;
use std::io::Read;

/// Quote state of the CSV grammar (`,`, `;` or tab separator, `"` quote, `""` escape),
/// following the `csv` crate's reading of odd input: a quote inside an
/// unquoted field is a literal character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    AfterQuote,
}

/// A reader that counts lines and follows quotes.
#[derive(Debug)]
pub(crate) struct Tracked<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Line number of the byte at `offset`.
    line: u64,
    /// Whether the current line has shown a byte that is not a line break.
    line_has_text: bool,
    /// The last byte was a CR (a following LF ends the same line).
    after_cr: bool,
    /// `(line, start offset)` of non-blank lines not yet passed by the
    /// parser; bounded by the parser's read-ahead buffer.
    starts: VecDeque<(u64, u64)>,
    quote: QuoteState,
    /// Line where the currently open quoted field began.
    quote_line: u64,
    /// The inner reader returned end of file.
    eof: bool,
    /// The field separator.
    delimiter: u8,
}

impl<R: Read> Tracked<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> Self {
        Tracked {
            delimiter,
            inner,
            offset: 0,
            line: 1,
            line_has_text: false,
            after_cr: false,
            starts: VecDeque::new(),
            quote: QuoteState::FieldStart,
            quote_line: 0,
            eof: false,
        }
    }

    /// The line of the record whose parse began at byte `start`: the first
    /// non-blank line starting at or after it (the parser's record offset
    /// may point into the previous line break or before skipped blank
    /// lines). Forgets earlier lines, so calls must come in record order.
    pub(crate) fn record_line(&mut self, start: u64) -> u64 {
        while self.starts.front().is_some_and(|&(_, s)| s < start) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(line, _)| line)
    }

    /// The last line holding text of a record that ends before byte `end`.
    pub(crate) fn last_line_before(&self, end: u64) -> u64 {
        self.starts.iter().take_while(|&&(_, s)| s < end).last().map_or(self.line, |&(line, _)| line)
    }

    /// `Some(line)` when the whole input has been read and it ended inside
    /// a quoted field opened on `line`.
    pub(crate) fn unclosed_quote(&self) -> Option<u64> {
        (self.eof && self.quote == QuoteState::Quoted).then_some(self.quote_line)
    }

    /// The line after the last one read (for errors at end of input).
    pub(crate) fn current_line(&self) -> u64 {
        self.line
    }

    fn observe(&mut self, buf: &[u8]) {
        for &b in buf {
            let is_break = b == b'\n' || b == b'\r';
            if is_break {
                if !(b == b'\n' && self.after_cr) {
                    self.line += 1;
                    self.line_has_text = false;
                }
            } else if !self.line_has_text {
                self.line_has_text = true;
                self.starts.push_back((self.line, self.offset));
            }
            self.after_cr = b == b'\r';
            self.quote = match (self.quote, b) {
                (QuoteState::FieldStart, b'"') => {
                    self.quote_line = self.line;
                    QuoteState::Quoted
                }
                (QuoteState::Quoted, b'"') => QuoteState::AfterQuote,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                // `""` inside a quoted value is an escaped quote.
                (QuoteState::AfterQuote, b'"') => QuoteState::Quoted,
                (_, b'\n' | b'\r') => QuoteState::FieldStart,
                (_, d) if d == self.delimiter => QuoteState::FieldStart,
                (_, _) => QuoteState::Unquoted,
            };
            self.offset += 1;
        }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.eof = true;
        }
        self.observe(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8]) -> Vec<u64> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(Tracked::new(data, b','));
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap_or(false) {
            let start = rec.position().map_or(0, |p| p.byte());
            out.push(r.get_mut().record_line(start));
        }
        out
    }

    impl<R: Read> Tracked<R> {
        fn new_comma(inner: R) -> Self {
            Tracked::new(inner, b',')
        }
    }

    #[test]
    fn counts_lines_for_every_line_ending() {
        assert_eq!(lines_of(b"a\nb\n\nc\n"), [1, 2, 4]);
        assert_eq!(lines_of(b"a\r\nb\r\n\r\nc\r\n"), [1, 2, 4]);
        assert_eq!(lines_of(b"a\rb\r\rc"), [1, 2, 4]);
        assert_eq!(lines_of(b"\n\na\n\"multi\nline\",x\ny"), [3, 4, 6]);
        assert_eq!(lines_of(b"\xEF\xBB\xBFa\r\nb"), [1, 2]);
    }

    #[test]
    fn sees_an_unclosed_quote_at_end_of_input() {
        let mut t = Tracked::new_comma(&b"a,b\nc,\"d\ne,f\n"[..]);
        std::io::copy(&mut t, &mut std::io::sink()).unwrap_or_default();
        assert_eq!(t.unclosed_quote(), Some(2));
        // An escaped quote, then a line break, still inside the value.
        let mut t = Tracked::new_comma(&b"a,\"say \"\"hi\"\"\nb,c\n"[..]);
        std::io::copy(&mut t, &mut std::io::sink()).unwrap_or_default();
        assert_eq!(t.unclosed_quote(), Some(1));
        let mut t = Tracked::new_comma(&b"a,\"b\"\"c\"\nd,x\"y\n\"e\nf\",g\n"[..]);
        std::io::copy(&mut t, &mut std::io::sink()).unwrap_or_default();
        assert_eq!(t.unclosed_quote(), None);
    }
}
