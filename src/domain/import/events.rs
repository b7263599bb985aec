//! Event files for `winback events import`: an order history or an
//! activity export, streamed row by row. Pure, like the contacts reader:
//! the same separator detection, line numbers, alias table (the `events`
//! part) and date reading.
//!
//! Columns: `email`, and `kind` (or one kind for the whole file, such as
//! `purchase` for an order export), optional `at` (default: now),
//! `value` and `ref`. A row with the same address and `ref` as the row
//! before it is another line of the same order (Shopify writes one row per
//! line item) and is skipped, not counted twice.
//!
//! Amounts are read as shops write them: `12.50`, `1,234.50`, `1.234,50`,
//! `12,50` and with a currency sign (`€ 12,50`, `$12.50`, `12.50 EUR`).
//! One that could be read two ways (`1,234`: a thousand or one point two)
//! is refused, like an ambiguous date.

use std::fmt;
use std::io::Read;

use super::header::map_columns;
use super::records::Records;
use super::{Column, DateProblem, ImportConfig, ImportError, separator_name};
use crate::clock::Millis;
use crate::domain::address::{for_report, normalize};
use crate::domain::{Event, EventKind, Origin};

/// How rows become events.
#[derive(Debug, Clone)]
pub struct EventOptions<'a> {
    /// Header aliases and dates.
    pub import: &'a ImportConfig,
    /// The kind of every row, for files without a `kind` column.
    pub kind: Option<EventKind>,
    /// Largest accepted `value` in magnitude.
    pub max_value: f64,
    /// The time of rows without `at`.
    pub now: Millis,
}

/// A row that cannot be read: where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Line in the file.
    pub line: u64,
    /// 1-based column and its header, when one column is at fault.
    pub column: Option<(usize, String)>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some((position, header)) => {
                write!(f, "line {}, column {position} (`{header}`): {}", self.line, self.message)
            }
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// What one row became.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRow {
    /// An event to record.
    Event {
        /// Its line.
        line: u64,
        /// The event.
        event: Event,
    },
    /// Another line of the order on the line before: skipped.
    LineItem {
        /// Its line.
        line: u64,
    },
    /// Not readable.
    Bad(BadRow),
}

#[derive(Debug, Clone, Copy)]
struct Indexes {
    email: usize,
    kind: Option<usize>,
    at: Option<usize>,
    value: Option<usize>,
    reference: Option<usize>,
}

/// Streams the rows of an event file.
pub struct EventReader<'a, R: Read> {
    records: Records<R>,
    columns: Vec<Column>,
    idx: Indexes,
    opts: EventOptions<'a>,
    /// Address and `ref` of the last event read.
    previous: Option<(String, String)>,
    blank: u64,
}

impl<R: Read> fmt::Debug for EventReader<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReader").field("line", &self.records.line).finish()
    }
}

impl<'a, R: Read> EventReader<'a, R> {
    /// Reads the header; rows follow through [`Iterator`], which ends
    /// after the first `Err` (a date layout that needs `--date-format`).
    pub fn new(input: R, opts: EventOptions<'a>) -> Result<Self, ImportError> {
        let records = Records::open(input)?.ok_or(ImportError::Empty)?;
        let line = records.line;
        let columns = map_columns(line, &records.record, &opts.import.event_columns)?;
        let find = |n: &str| columns.iter().position(|c| c.name == n);
        let missing = |what: &'static str| ImportError::MissingColumn {
            line,
            what,
            found: columns.iter().map(|c| format!("`{}`", c.header)).collect::<Vec<_>>().join(", "),
        };
        let email = find("email").ok_or_else(|| missing("an `email` column"))?;
        let kind = find("kind");
        if kind.is_none() && opts.kind.is_none() {
            return Err(missing("a `kind` column (or name one kind for every row with --kind, e.g. --kind purchase)"));
        }
        let idx = Indexes { email, kind, at: find("at"), value: find("value"), reference: find("ref") };
        Ok(EventReader { records, columns, idx, opts, previous: None, blank: 0 })
    }

    /// The file's columns and the names they go by.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn next_row(&mut self) -> Result<Option<EventRow>, ImportError> {
        if !self.records.advance(&mut self.blank)? {
            return Ok(None);
        }
        let line = self.records.line;
        match self.parse_row() {
            Ok(Some(event)) => Ok(Some(EventRow::Event { line, event })),
            Ok(None) => Ok(Some(EventRow::LineItem { line })),
            Err(Refused::Row(bad)) => Ok(Some(EventRow::Bad(bad))),
            Err(Refused::File(e)) => Err(e),
        }
    }

    fn parse_row(&mut self) -> Result<Option<Event>, Refused> {
        let (rec, line, idx) = (&self.records.record, self.records.line, self.idx);
        let bad = |i: Option<usize>, message: String| {
            let column = i.map(|i| {
                let c = self.columns.get(i);
                (i + 1, c.map_or(String::new(), |c| c.header.clone()))
            });
            Refused::Row(BadRow { line, column, message })
        };
        if rec.len() != self.columns.len() {
            let sep = separator_name(self.records.delimiter());
            let hint = self.records.span_hint();
            let message = format!(
                "{} fields where the header has {}{hint} (a value containing a {sep} must be in double quotes)",
                rec.len(),
                self.columns.len()
            );
            return Err(bad(None, message));
        }
        let text = |i: Option<usize>| -> Result<&str, Refused> {
            let Some(i) = i else { return Ok("") };
            std::str::from_utf8(rec.get(i).unwrap_or_default())
                .map(str::trim)
                .map_err(|_| bad(Some(i), "not valid UTF-8; save the file as UTF-8".into()))
        };
        let raw_email = text(Some(idx.email))?;
        let email =
            normalize(raw_email).map_err(|e| bad(Some(idx.email), format!("`{}`: {e}", for_report(raw_email))))?;
        let kind = match (idx.kind, &self.opts.kind) {
            (Some(i), default) => match text(Some(i))? {
                "" => default
                    .clone()
                    .ok_or_else(|| bad(Some(i), "no kind: write one like purchase, login, visit".into()))?,
                k => parse_kind(k).map_err(|m| bad(Some(i), m))?,
            },
            (None, Some(k)) => k.clone(),
            (None, None) => return Err(bad(None, "no kind".into())),
        };
        let at = match text(idx.at)? {
            "" => self.opts.now,
            v => self.opts.import.dates.read(v).map_err(|p| match p {
                DateProblem::NotADate(m) => bad(idx.at, m),
                DateProblem::NeedsFormat(why) => {
                    let (position, header) = idx
                        .at
                        .and_then(|i| self.columns.get(i))
                        .map_or((0, String::new()), |c| (c.position, c.header.clone()));
                    Refused::File(ImportError::DateFormat { line, position, header, why })
                }
            })?,
        };
        let value = match text(idx.value)? {
            "" => None,
            v => Some(amount(v, self.opts.max_value).map_err(|m| bad(idx.value, m))?),
        };
        let reference = Some(text(idx.reference)?).filter(|r| !r.is_empty()).map(str::to_string);
        if let Some(r) = &reference {
            let same = self.previous.as_ref().is_some_and(|(e, p)| *e == email && p == r);
            if same {
                return Ok(None);
            }
            self.previous = Some((email.clone(), r.clone()));
        } else {
            self.previous = None;
        }
        Ok(Some(Event { email, kind, at, origin: Origin::Human, value, reference, message: None }))
    }
}

impl<R: Read> Iterator for EventReader<'_, R> {
    type Item = Result<EventRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().transpose()
    }
}

enum Refused {
    Row(BadRow),
    File(ImportError),
}

/// An event kind as written: lower-case letters, digits, `_` and `-`.
pub fn parse_kind(kind: &str) -> Result<EventKind, String> {
    let k = kind.trim().to_ascii_lowercase();
    if crate::config::valid_kind(&k) {
        Ok(EventKind::parse(&k))
    } else {
        Err(format!(
            "event kind `{}`: use lower-case letters, digits, `_` and `-` (open, click, purchase, login …)",
            for_report(kind)
        ))
    }
}

/// Reads an amount as shops write it (see the module doc); refuses one
/// larger than `max` in magnitude.
pub fn amount(text: &str, max: f64) -> Result<f64, String> {
    let why = |m: &str| format!("`{}` {m}", for_report(text));
    let core = text.trim_matches(|c: char| c.is_whitespace() || "€$£¥₹".contains(c) || c.is_ascii_uppercase());
    let (negative, digits) = match core.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, core),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',' || b == b'\'') {
        return Err(why("is not an amount: write it like 12.50"));
    }
    let last_dot = digits.rfind('.');
    let last_comma = digits.rfind(',');
    let decimal = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(if d > c { '.' } else { ',' }),
        (Some(at), None) | (None, Some(at)) => {
            let sep = if last_dot.is_some() { '.' } else { ',' };
            if digits.matches(sep).count() > 1 {
                None // only thousands separators: 1.234.567
            } else if digits.len() - at - 1 == 3 {
                return Err(why(
                    "could be a whole number with a thousands separator or a decimal: write it without thousands separators (1234) or with two decimals (1.23)",
                ));
            } else {
                Some(sep)
            }
        }
        (None, None) => None,
    };
    let plain: String = digits
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_digit() => Some(c),
            c if Some(c) == decimal => Some('.'),
            _ => None,
        })
        .collect();
    let v: f64 = plain.parse().map_err(|_| why("is not an amount: write it like 12.50"))?;
    let v = if negative { -v } else { v };
    if v.abs() > max {
        return Err(why(&format!("is larger than {max} in magnitude ([http] max_event_value)")));
    }
    Ok(v)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
