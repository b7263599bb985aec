//! The records of a delimited file with the line a person sees in an
//! editor for each: the separator found from the header ([`super::sniff`]),
//! line numbers and unclosed quotes from [`super::lines::Tracked`], blank
//! rows skipped.

use std::io::Read;

use super::ImportError;
use super::lines::Tracked;
use super::sniff::{Replayed, sniff};

/// The CSV records of a file, with true line numbers.
pub(crate) struct Records<R: Read> {
    csv: csv::Reader<Tracked<Replayed<R>>>,
    pub(crate) record: csv::ByteRecord,
    /// Line of the current record.
    pub(crate) line: u64,
    delimiter: u8,
}

impl<R: Read> Records<R> {
    /// Opens the input and reads its first record (the header): `None`
    /// when the file holds nothing but blank lines.
    pub(crate) fn open(input: R) -> Result<Option<Self>, ImportError> {
        let (delimiter, input) = sniff(input).map_err(|source| ImportError::Io { line: 1, source })?;
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Tracked::new(input, delimiter));
        let mut records = Records { csv, record: csv::ByteRecord::new(), line: 0, delimiter };
        let mut blank = 0;
        Ok(records.advance(&mut blank)?.then_some(records))
    }

    /// The field separator (`,`, `;` or tab).
    pub(crate) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Moves to the next record with any non-blank field; `false` at the end.
    pub(crate) fn advance(&mut self, blank: &mut u64) -> Result<bool, ImportError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return Ok(false),
                Ok(true) => {}
                Err(e) => {
                    let line = self.csv.get_ref().current_line();
                    return Err(match e.into_kind() {
                        csv::ErrorKind::Io(source) => ImportError::Io { line, source },
                        other => ImportError::Csv { line, message: format!("{other:?}") },
                    });
                }
            }
            let start = self.record.position().map_or(0, |p| p.byte());
            let tracked = self.csv.get_mut();
            self.line = tracked.record_line(start);
            if let Some(open) = tracked.unclosed_quote().filter(|&l| l >= self.line) {
                return Err(ImportError::UnclosedQuote { line: open, last: tracked.last_line_before(u64::MAX) });
            }
            if self.record.iter().any(|f| !f.trim_ascii().is_empty()) {
                return Ok(true);
            }
            *blank += 1;
        }
    }

    /// ` (the row runs over lines N-M: is a quote unbalanced?)` when the
    /// current record spans lines, else nothing.
    pub(crate) fn span_hint(&self) -> String {
        let end = self.csv.position().byte();
        let last = self.csv.get_ref().last_line_before(end);
        if last > self.line {
            format!(" (the row runs over lines {}-{last}: is a quote unbalanced?)", self.line)
        } else {
            String::new()
        }
    }
}
