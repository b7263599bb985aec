//! Parsing a contacts CSV for `winback contacts import`: header mapping,
//! per-row checks (address syntax, dates, encoding, field count), list
//! hygiene (role accounts, disposable domains), duplicate merging, DNS
//! verdicts supplied by the caller, and the report of every row that was
//! not imported as is. Pure: it reads from any [`Read`] and touches no
//! store, no network, no clock.
//!
//! Two ways to use it:
//! - [`ImportPlan::read`] builds everything in memory, about 1 KB per
//!   contact with a few fields (a `BTreeMap` per contact): fine for lists
//!   of tens of thousands, not for millions;
//! - [`ImportReader`] streams [`Row`]s, holding only a compact index of
//!   the addresses seen (about 60 bytes each: 1,000,000 rows peak near
//!   60 MB), for imports of any size, a `--dry-run` of one included (it
//!   writes nothing by itself). A caller that wants DNS verdicts and all-or-nothing structure
//!   checks before writing anything first runs [`scan_domains`] over the
//!   file (a full pass that fails on any whole-file error and returns the
//!   distinct domains), resolves them, then streams the file again with
//!   [`ImportReader::with_verdicts`].
//!
//! What goes where:
//! - whole-file errors ([`ImportError`], nothing imported): unreadable
//!   input, an empty file, a header without `email`, header names that
//!   are unusable or collide, a quote that is never closed (it would
//!   swallow every row after it);
//! - per-row rejections (a [`RowIssue`], the import goes on): a bad
//!   address, a wrong field count, invalid UTF-8 in a field, a date
//!   column that is not a date (the row is rejected rather than imported
//!   without its date: a contact without `last_engaged_at` looks "never
//!   engaged" and could be mailed at once), a domain that takes no mail;
//! - notes on imported rows: duplicate merged, role account, disposable
//!   domain, DNS not verified, suppressed, control characters cleaned
//!   from a name or custom column;
//! - rows whose every field is empty carry nothing and are only counted.

pub mod aliases;
pub mod config;
mod control;
pub mod dates;
mod dedup;
pub mod events;
mod header;
mod lines;
mod plan;
mod records;
mod report;
mod sniff;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde::{Deserialize, Serialize};

pub use self::config::ImportConfig;
use self::dates::DateProblem;
use self::dedup::DedupIndex;
pub use self::header::Column;
use self::header::Header;
pub use self::plan::ImportPlan;
use self::records::Records;
pub use self::report::{IssueKind, Report, RowIssue, Summary};
use crate::clock::Millis;
use crate::config::HygieneConfig;
use crate::domain::address::{domain_of, for_report, normalize};
use crate::domain::contact::Contact;
use crate::domain::hygiene::{classify, enroll};

/// A problem with the whole file: nothing from it should be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading failed.
    #[error("line {line}: cannot read the file: {source}")]
    Io {
        /// Line being read.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Nothing but blank lines.
    #[error("the file is empty: its first line must name the columns, one of them `email`")]
    Empty,
    /// The header names no `email` column.
    #[error(
        "line {line}: no `email` column in the header (found {found}); the first line must name the columns, for example `email,name,last_engaged_at`"
    )]
    NoEmailColumn {
        /// Header line.
        line: u64,
        /// What the header held.
        found: String,
    },
    /// A header that gives no usable name.
    #[error("line {line}, column {position} (`{header}`): {why}")]
    BadColumn {
        /// Header line.
        line: u64,
        /// 1-based column.
        position: usize,
        /// Header as written.
        header: String,
        /// What is wrong and how to fix it.
        why: &'static str,
    },
    /// Two headers that map to the same name.
    #[error(
        "line {line}: columns {first} (`{first_header}`) and {second} (`{second_header}`) both become `{name}`; rename or delete one"
    )]
    SameColumnName {
        /// Header line.
        line: u64,
        /// First column.
        first: usize,
        /// Its header.
        first_header: String,
        /// Second column.
        second: usize,
        /// Its header.
        second_header: String,
        /// The shared name.
        name: String,
    },
    /// The header is not UTF-8.
    #[error("line {line}, column {position}: the header is not valid UTF-8; save the file as UTF-8")]
    HeaderNotUtf8 {
        /// Header line.
        line: u64,
        /// 1-based column.
        position: usize,
    },
    /// A quoted field runs to the end of the file.
    #[error(
        "line {line}: a quoted value opened here is never closed, so lines {line}-{last} would be read as one value; close the quote (a quote inside a value is written \"\")"
    )]
    UnclosedQuote {
        /// Line of the opening quote.
        line: u64,
        /// Last line of the file.
        last: u64,
    },
    /// Any other CSV error.
    #[error("line {line}: {message}")]
    Csv {
        /// Line at the error.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// A column the file needs is not there.
    #[error("line {line}: the header needs {what}; found {found}")]
    MissingColumn {
        /// Header line.
        line: u64,
        /// The column, and how else to give it.
        what: &'static str,
        /// What the header held.
        found: String,
    },
    /// A date column in a layout that needs a format to be read: the same
    /// for every row, so nothing is imported until the format is given.
    #[error("line {line}, column {position} (`{header}`): {why}; nothing was imported")]
    DateFormat {
        /// Line of the first such value.
        line: u64,
        /// 1-based column.
        position: usize,
        /// Header as written.
        header: String,
        /// The value, what it reads as and the format to pass.
        why: String,
    },
    /// More distinct addresses than one import can index.
    #[error("line {line}: too many distinct addresses in one file; split it")]
    TooManyRows {
        /// Line at which the index filled up.
        line: u64,
    },
}

/// What DNS says about a domain, as the caller resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// An MX, or failing that an A or AAAA record: mail can be delivered.
    Deliverable,
    /// No MX and no A/AAAA, or the name does not exist.
    NoMailDomain {
        /// What the lookup found, like "NXDOMAIN" or "no MX, A or AAAA records".
        detail: String,
    },
    /// A null MX (RFC 7505): the domain says it accepts no mail.
    NullMx,
    /// The lookup failed for now (timeout, SERVFAIL).
    TempFail {
        /// What failed.
        detail: String,
    },
}

impl Verdict {
    /// The report row for a contact at a domain with this verdict, if any.
    pub fn issue(&self, line: u64, address: &str) -> Option<RowIssue> {
        let domain = domain_of(address);
        let (kind, reason) = match self {
            Verdict::Deliverable => return None,
            Verdict::NoMailDomain { detail } => (
                IssueKind::NoMailDomain,
                format!(
                    "domain `{domain}` has no MX and no A/AAAA record ({detail}): mail to it cannot be delivered; not imported"
                ),
            ),
            Verdict::NullMx => (
                IssueKind::NullMx,
                format!("domain `{domain}` publishes a null MX (RFC 7505): it accepts no mail; not imported"),
            ),
            Verdict::TempFail { detail } => (
                IssueKind::DnsTempFail,
                format!(
                    "DNS lookup for `{domain}` failed ({detail}); imported unverified, import again later to check"
                ),
            ),
        };
        Some(RowIssue { line, address: address.to_string(), kind, reason })
    }
}

/// One contact as the file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportContact {
    /// Line of its first row.
    pub line: u64,
    /// Canonical address.
    pub email: String,
    /// `name` column, if not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other non-empty columns, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// `last_engaged_at` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_engaged_at: Option<Millis>,
    /// `last_purchase_at` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase_at: Option<Millis>,
    /// A role account.
    pub role: bool,
    /// At a disposable-mailbox domain.
    pub disposable: bool,
    /// May enter sequences, given the flags and `[hygiene]`.
    pub enroll: bool,
}

impl ImportContact {
    /// Merges a later row for the same address: its non-empty name and
    /// fields fill or override, each date takes the later of the two.
    pub fn merge(&mut self, later: ImportContact) {
        absorb(&mut self.name, &mut self.fields, &mut self.last_engaged_at, &mut self.last_purchase_at, later);
    }

    /// Applies this row to a stored contact with the same merge rules, and
    /// sets its hygiene flags and enrollment from this import.
    pub fn update(self, contact: &mut Contact) {
        contact.role = self.role;
        contact.disposable = self.disposable;
        contact.enrolled = self.enroll;
        absorb(
            &mut contact.name,
            &mut contact.fields,
            &mut contact.last_engaged_at,
            &mut contact.last_purchase_at,
            self,
        );
    }

    /// A new stored contact, created at `now`.
    pub fn into_contact(self, now: Millis) -> Contact {
        let mut contact = Contact::new(self.email.clone(), now);
        self.update(&mut contact);
        contact
    }
}

fn absorb(
    name: &mut Option<String>,
    fields: &mut BTreeMap<String, String>,
    engaged: &mut Option<Millis>,
    purchase: &mut Option<Millis>,
    later: ImportContact,
) {
    if later.name.is_some() {
        *name = later.name;
    }
    fields.extend(later.fields);
    *engaged = (*engaged).max(later.last_engaged_at);
    *purchase = (*purchase).max(later.last_purchase_at);
}

/// What one data row became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// The first row with this address.
    Contact {
        /// The contact.
        contact: ImportContact,
        /// Report rows about it (role, disposable, DNS unverified).
        notes: Vec<RowIssue>,
    },
    /// A later row with an address already seen: merge it into the
    /// contact from `first_line` (see [`ImportContact::merge`]).
    Duplicate {
        /// This row's data.
        contact: ImportContact,
        /// Line of the first row with the address.
        first_line: u64,
        /// The report row.
        issue: RowIssue,
    },
    /// Not imported.
    Rejected(RowIssue),
}

/// The caller's DNS verdict for a domain.
type VerdictFn<'a> = Box<dyn FnMut(&str) -> Verdict + 'a>;

/// Streams the rows of an import file.
pub struct ImportReader<'a, R: Read> {
    records: Records<R>,
    header: Header,
    cfg: &'a HygieneConfig,
    import: &'a ImportConfig,
    verdict: Option<VerdictFn<'a>>,
    seen: DedupIndex,
    summary: Summary,
    done: bool,
}

impl<R: Read> std::fmt::Debug for ImportReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportReader").field("line", &self.records.line).field("summary", &self.summary).finish()
    }
}

impl<'a, R: Read> ImportReader<'a, R> {
    /// Reads the header; rows follow through [`Iterator`]. The iterator
    /// ends after the first `Err`.
    pub fn new(input: R, cfg: &'a HygieneConfig) -> Result<Self, ImportError> {
        Self::with_config(input, cfg, ImportConfig::builtin())
    }

    /// As [`ImportReader::new`], reading headers and dates as `import` says.
    pub fn with_config(input: R, cfg: &'a HygieneConfig, import: &'a ImportConfig) -> Result<Self, ImportError> {
        let (records, header) = open(input, import)?;
        Ok(ImportReader {
            records,
            header,
            cfg,
            import,
            verdict: None,
            seen: DedupIndex::default(),
            summary: Summary::default(),
            done: false,
        })
    }

    /// Checks each valid address's domain with `verdict` (called once per
    /// row; cache inside if it is costly). Rows at domains that take no
    /// mail are rejected before classification or merging.
    pub fn with_verdicts(mut self, verdict: impl FnMut(&str) -> Verdict + 'a) -> Self {
        self.verdict = Some(Box::new(verdict));
        self
    }

    /// The file's columns.
    pub fn columns(&self) -> &[Column] {
        &self.header.columns
    }

    /// Counts of the rows yielded so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    fn next_row(&mut self) -> Result<Option<Row>, ImportError> {
        if !self.records.advance(&mut self.summary.blank_rows)? {
            return Ok(None);
        }
        self.summary.rows_read += 1;
        let line = self.records.line;
        let row = match self.parse_row() {
            Err(Refused::File(e)) => return Err(e),
            Err(Refused::Row(issue)) => Row::Rejected(issue),
            Ok((contact, notes)) => match self.seen.insert(&contact.email, line) {
                Err(dedup::Full) => return Err(ImportError::TooManyRows { line }),
                Ok(None) => Row::Contact { contact, notes },
                Ok(Some(first_line)) => {
                    let reason = format!("duplicate of line {first_line}, merged");
                    let issue = RowIssue { line, address: contact.email.clone(), kind: IssueKind::Duplicate, reason };
                    Row::Duplicate { contact, first_line, issue }
                }
            },
        };
        match &row {
            Row::Contact { contact, notes } => {
                self.summary.count_contact(contact.enroll, 1);
                notes.iter().for_each(|n| self.summary.record_issue(n));
            }
            Row::Duplicate { issue, .. } | Row::Rejected(issue) => self.summary.record_issue(issue),
        }
        Ok(Some(row))
    }

    /// The current record as a contact with its notes, or why it is rejected.
    fn parse_row(&mut self) -> Result<(ImportContact, Vec<RowIssue>), Refused> {
        let (rec, header, line) = (&self.records.record, &self.header, self.records.line);
        let sep = separator_name(self.records.delimiter());
        let raw_email = rec.get(header.email).unwrap_or_default();
        let reject = |kind, reason: String| RowIssue {
            line,
            address: for_report(&String::from_utf8_lossy(raw_email)),
            kind,
            reason: format!("{reason}; not imported"),
        };
        if rec.len() != header.columns.len() {
            let hint = self.records.span_hint();
            let reason = format!(
                "{} fields where the header has {}{hint} (a value containing a {sep} must be in double quotes)",
                rec.len(),
                header.columns.len()
            );
            return Err(reject(IssueKind::Malformed, reason).into());
        }
        let text = |i: usize| {
            let raw = rec.get(i).unwrap_or_default();
            std::str::from_utf8(raw).map(str::trim).map_err(|e| {
                let reason = format!(
                    "column `{}` is not valid UTF-8 (byte {} of the value); save the file as UTF-8",
                    header.name_of(i),
                    e.valid_up_to() + 1
                );
                reject(IssueKind::Malformed, reason)
            })
        };
        let email = normalize(text(header.email)?).map_err(|e| {
            let hint = if rec.len() > 1 { String::new() } else { self.records.span_hint() };
            reject(IssueKind::Invalid, format!("{e}{hint}"))
        })?;
        let mut notes = Vec::new();
        if let Some(verdict) = self.verdict.as_mut() {
            match verdict(domain_of(&email)).issue(line, &email) {
                Some(issue) if issue.kind.rejects() => return Err(issue.into()),
                Some(note) => notes.push(note),
                None => {}
            }
        }
        let dates = &self.import.dates;
        let date = |i: Option<usize>| -> Result<Option<Millis>, Refused> {
            let Some(i) = i else { return Ok(None) };
            let value = text(i)?;
            if value.is_empty() {
                return Ok(None);
            }
            let column = header.columns.get(i);
            let (position, written) = column.map_or((i + 1, ""), |c| (c.position, c.header.as_str()));
            dates.read(value).map(Some).map_err(|p| match p {
                DateProblem::NeedsFormat(why) => {
                    Refused::File(ImportError::DateFormat { line, position, header: written.to_string(), why })
                }
                DateProblem::NotADate(why) => {
                    let name = header.name_of(i);
                    let read_as = if name == written { String::new() } else { format!(" (read as {name})") };
                    let reason = format!("column {position} `{written}`{read_as}: {why}");
                    reject(IssueKind::BadField, reason).into()
                }
            })
        };
        let last_engaged_at = date(header.last_engaged)?;
        let last_purchase_at = date(header.last_purchase)?;
        // Names and custom columns go into messages: no control characters.
        let mut cleaned = Vec::new();
        let mut clean_text = |i: usize| -> Result<String, RowIssue> {
            let value = text(i)?;
            Ok(control::clean(value).inspect(|_| cleaned.push(header.name_of(i))).unwrap_or_else(|| value.to_string()))
        };
        let name = match header.name {
            Some(i) => Some(clean_text(i)?).filter(|n| !n.is_empty()),
            None => {
                let (first, last) = header.first_last;
                let parts = [first, last].into_iter().flatten().map(&mut clean_text).collect::<Result<Vec<_>, _>>()?;
                Some(parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" "))
                    .filter(|n| !n.is_empty())
            }
        };
        let mut fields = BTreeMap::new();
        for (i, key) in &header.fields {
            let value = clean_text(*i)?;
            if !value.is_empty() {
                fields.insert(key.clone(), value);
            }
        }
        if !cleaned.is_empty() {
            notes.push(control::issue(line, &email, &cleaned));
        }
        let flags = classify(&email, self.cfg);
        let enrolled = enroll(flags, self.cfg);
        notes.extend(hygiene_notes(line, &email, flags, self.cfg));
        let contact = ImportContact {
            line,
            email,
            name,
            fields,
            last_engaged_at,
            last_purchase_at,
            role: flags.role,
            disposable: flags.disposable,
            enroll: enrolled,
        };
        Ok((contact, notes))
    }
}

/// Report rows for a role or disposable address.
fn hygiene_notes(
    line: u64,
    email: &str,
    flags: crate::domain::hygiene::Flags,
    cfg: &HygieneConfig,
) -> impl Iterator<Item = RowIssue> {
    let what = |on: bool, kind, what: &str, key: &str, enrolled: bool| {
        on.then(|| RowIssue {
            line,
            address: email.to_string(),
            kind,
            reason: if enrolled {
                format!("{what}; enrolled because [hygiene] {key} = true")
            } else {
                format!("{what}; imported but not enrolled (set [hygiene] {key} = true to enroll)")
            },
        })
    };
    let role = what(flags.role, IssueKind::Role, "role account", "enroll_role_accounts", cfg.enroll_role_accounts);
    let disposable = what(
        flags.disposable,
        IssueKind::Disposable,
        &format!("disposable-mailbox domain `{}`", domain_of(email)),
        "enroll_disposable",
        cfg.enroll_disposable,
    );
    role.into_iter().chain(disposable)
}

impl<R: Read> Iterator for ImportReader<'_, R> {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_row() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// One full pass over a file: checks everything that would make the whole
/// file fail and returns the distinct domains of its valid addresses, for
/// the caller to resolve before streaming the rows with verdicts.
pub fn scan_domains<R: Read>(input: R) -> Result<BTreeSet<String>, ImportError> {
    scan_domains_with(input, ImportConfig::builtin())
}

/// [`scan_domains`] reading headers and dates as `import` says; a date
/// column that needs a format fails here, before anything is written.
pub fn scan_domains_with<R: Read>(input: R, import: &ImportConfig) -> Result<BTreeSet<String>, ImportError> {
    let (mut records, header) = open(input, import)?;
    let mut domains = BTreeSet::new();
    let mut blank = 0;
    while records.advance(&mut blank)? {
        if records.record.len() != header.columns.len() {
            continue;
        }
        check_date_layouts(&records, &header, import)?;
        let raw = records.record.get(header.email).unwrap_or_default();
        if let Some(addr) = std::str::from_utf8(raw).ok().and_then(|s| normalize(s).ok()) {
            let domain = domain_of(&addr);
            if !domains.contains(domain) {
                domains.insert(domain.to_string());
            }
        }
    }
    Ok(domains)
}

/// Opens a file and reads its header through the alias table.
fn open<R: Read>(input: R, import: &ImportConfig) -> Result<(Records<R>, Header), ImportError> {
    let records = Records::open(input)?.ok_or(ImportError::Empty)?;
    let header = Header::parse(records.line, &records.record, &import.contact_columns)?;
    Ok((records, header))
}

/// Fails on a date value that needs a format to be read.
fn check_date_layouts<R: Read>(
    records: &Records<R>,
    header: &Header,
    import: &ImportConfig,
) -> Result<(), ImportError> {
    for i in [header.last_engaged, header.last_purchase].into_iter().flatten() {
        let Some(value) = records.record.get(i).and_then(|v| std::str::from_utf8(v).ok()).map(str::trim) else {
            continue;
        };
        if let (false, Err(DateProblem::NeedsFormat(why))) = (value.is_empty(), import.dates.read(value)) {
            let (position, written) = header.columns.get(i).map_or((i + 1, ""), |c| (c.position, c.header.as_str()));
            return Err(ImportError::DateFormat { line: records.line, position, header: written.to_string(), why });
        }
    }
    Ok(())
}

/// Why a row was not read: it is rejected, or the whole file is.
enum Refused {
    Row(RowIssue),
    File(ImportError),
}

impl From<RowIssue> for Refused {
    fn from(issue: RowIssue) -> Self {
        Refused::Row(issue)
    }
}

/// The separator as named in messages.
pub(crate) fn separator_name(delimiter: u8) -> &'static str {
    match delimiter {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    }
}
