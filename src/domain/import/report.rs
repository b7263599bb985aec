//! The import report: one [`RowIssue`] per row that was not imported as
//! is, and a [`Summary`] of counts. Both render as text for people and
//! serialize for `--json`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Column;
use crate::domain::suppression::SuppressionReason;

/// Why a row is in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The address is not valid; the row is not imported.
    Invalid,
    /// The row itself is broken (field count, encoding); not imported.
    Malformed,
    /// A column holds an unusable value (a date that is not a date); the
    /// row is not imported, so no contact gets wrong data.
    BadField,
    /// Same canonical address as an earlier row; merged into it.
    Duplicate,
    /// Role account; imported, enrolled only if the config says so.
    Role,
    /// Disposable-mailbox domain; imported, enrolled only if the config says so.
    Disposable,
    /// The domain has no MX and no A/AAAA record; not imported.
    NoMailDomain,
    /// The domain publishes a null MX (RFC 7505); not imported.
    NullMx,
    /// The domain could not be checked (DNS timeout or server failure);
    /// imported unverified.
    DnsTempFail,
    /// The address is suppressed; its data is updated but it stays suppressed.
    Suppressed,
    /// A name or custom column held control characters (a line break, a
    /// NUL, an escape); imported cleaned.
    ControlChars,
}

impl IssueKind {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::Invalid => "invalid",
            IssueKind::Malformed => "malformed",
            IssueKind::BadField => "bad_field",
            IssueKind::Duplicate => "duplicate",
            IssueKind::Role => "role",
            IssueKind::Disposable => "disposable",
            IssueKind::NoMailDomain => "no_mail_domain",
            IssueKind::NullMx => "null_mx",
            IssueKind::DnsTempFail => "dns_temp_fail",
            IssueKind::Suppressed => "suppressed",
            IssueKind::ControlChars => "control_chars",
        }
    }

    /// Whether a row with this issue is left out of the import.
    pub fn rejects(self) -> bool {
        matches!(
            self,
            IssueKind::Invalid
                | IssueKind::Malformed
                | IssueKind::BadField
                | IssueKind::NoMailDomain
                | IssueKind::NullMx
        )
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One report row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    /// Line in the file (1-based, as an editor shows it).
    pub line: u64,
    /// The canonical address, or the value as written when it is not valid.
    pub address: String,
    /// What kind of issue.
    pub kind: IssueKind,
    /// What exactly, and what happened to the row.
    pub reason: String,
}

impl RowIssue {
    /// The report row for an address that is suppressed: imported data
    /// updates the contact, which stays suppressed.
    pub fn suppressed(line: u64, address: &str, why: SuppressionReason) -> RowIssue {
        RowIssue {
            line,
            address: address.to_string(),
            kind: IssueKind::Suppressed,
            reason: format!("suppressed ({why}); kept suppressed"),
        }
    }
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = if self.address.is_empty() { "(no address)" } else { &self.address };
        write!(f, "line {}: {}: {}: {}", self.line, address, self.kind, self.reason)
    }
}

/// Counts over one import. Every data row lands in exactly one of
/// `contacts`, `duplicates_merged` or a rejection count
/// (see [`Summary::rejected`]), so
/// `rows_read == contacts + duplicates_merged + rejected()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Data rows read (the header and blank rows not counted).
    pub rows_read: u64,
    /// Rows with every field empty, skipped.
    pub blank_rows: u64,
    /// Distinct contacts imported.
    pub contacts: u64,
    /// Of those, how many may enter sequences.
    pub enrolled: u64,
    /// Rows merged into an earlier row with the same address.
    pub duplicates_merged: u64,
    /// Rows rejected for their address.
    pub invalid: u64,
    /// Rows rejected as broken CSV (field count, encoding).
    pub malformed: u64,
    /// Rows rejected for a bad column value.
    pub bad_field: u64,
    /// Rows rejected because the domain takes no mail (no MX, A or AAAA).
    pub no_mail_domain: u64,
    /// Rows rejected because the domain has a null MX.
    pub null_mx: u64,
    /// Contacts that are role accounts.
    pub role: u64,
    /// Contacts at disposable-mailbox domains.
    pub disposable: u64,
    /// Contacts imported without a DNS verdict (temporary failure).
    pub dns_unverified: u64,
    /// Contacts that were already suppressed and stay so.
    pub suppressed: u64,
    /// Rows imported with control characters cleaned from a field.
    #[serde(default)]
    pub control_chars: u64,
}

impl Summary {
    /// Rows left out of the import.
    pub fn rejected(&self) -> u64 {
        self.invalid + self.malformed + self.bad_field + self.rejected_by_dns()
    }

    /// Rows left out because of DNS.
    pub fn rejected_by_dns(&self) -> u64 {
        self.no_mail_domain + self.null_mx
    }

    /// Counts one report row.
    pub fn record_issue(&mut self, issue: &RowIssue) {
        let counter = match issue.kind {
            IssueKind::Invalid => &mut self.invalid,
            IssueKind::Malformed => &mut self.malformed,
            IssueKind::BadField => &mut self.bad_field,
            IssueKind::Duplicate => &mut self.duplicates_merged,
            IssueKind::Role => &mut self.role,
            IssueKind::Disposable => &mut self.disposable,
            IssueKind::NoMailDomain => &mut self.no_mail_domain,
            IssueKind::NullMx => &mut self.null_mx,
            IssueKind::DnsTempFail => &mut self.dns_unverified,
            IssueKind::Suppressed => &mut self.suppressed,
            IssueKind::ControlChars => &mut self.control_chars,
        };
        *counter += 1;
    }

    /// Counts one imported contact (or takes it back with `-1`).
    pub(crate) fn count_contact(&mut self, enrolled: bool, sign: i8) {
        let step = |n: &mut u64| *n = if sign < 0 { n.saturating_sub(1) } else { *n + 1 };
        step(&mut self.contacts);
        if enrolled {
            step(&mut self.enrolled);
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        writeln!(f, "rows read:          {} ({} blank rows skipped)", s.rows_read, s.blank_rows)?;
        writeln!(
            f,
            "contacts:           {} ({} to enroll, {} not enrolled)",
            s.contacts,
            s.enrolled,
            s.contacts - s.enrolled.min(s.contacts)
        )?;
        writeln!(f, "duplicates merged:  {}", s.duplicates_merged)?;
        writeln!(f, "rejected:           {}", s.rejected())?;
        writeln!(f, "  invalid address:  {}", s.invalid)?;
        writeln!(f, "  malformed row:    {}", s.malformed)?;
        writeln!(f, "  bad field:        {}", s.bad_field)?;
        writeln!(f, "  no mail domain:   {}", s.no_mail_domain)?;
        writeln!(f, "  null MX:          {}", s.null_mx)?;
        writeln!(f, "role accounts:      {}", s.role)?;
        writeln!(f, "disposable:         {}", s.disposable)?;
        writeln!(f, "DNS unverified:     {}", s.dns_unverified)?;
        writeln!(f, "kept suppressed:    {}", s.suppressed)?;
        writeln!(f, "control characters: {} (cleaned)", s.control_chars)
    }
}

/// The report of an import, borrowed from its plan, for rendering.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Report<'a> {
    /// The file's columns and the names they go by.
    pub columns: &'a [Column],
    /// One row per issue, in line order.
    pub issues: &'a [RowIssue],
    /// Counts.
    pub summary: &'a Summary,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "columns:")?;
        for c in self.columns {
            writeln!(f, "  {}: `{}` -> {}", c.position, c.header, c.name)?;
        }
        if !self.issues.is_empty() {
            writeln!(f, "rows:")?;
            for issue in self.issues {
                writeln!(f, "  {issue}")?;
            }
        }
        writeln!(f, "summary:")?;
        for line in self.summary.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}
