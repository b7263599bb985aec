//! The whole import in memory: contacts merged, every report row, counts.
//! What `--dry-run` shows and what a small import writes.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use serde::{Deserialize, Serialize};

use super::{Column, ImportContact, ImportError, ImportReader, IssueKind, Report, Row, RowIssue, Summary, Verdict};
use crate::config::HygieneConfig;
use crate::domain::address::domain_of;
use crate::domain::suppression::SuppressionReason;

/// An import, read and checked, not yet written anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlan {
    /// The file's columns and the names they go by.
    pub columns: Vec<Column>,
    /// One per distinct address, in order of first appearance, duplicates
    /// merged in.
    pub contacts: Vec<ImportContact>,
    /// Report rows in line order.
    pub issues: Vec<RowIssue>,
    /// Counts.
    pub summary: Summary,
}

impl ImportPlan {
    /// Reads a whole file.
    pub fn read<R: Read>(input: R, cfg: &HygieneConfig) -> Result<ImportPlan, ImportError> {
        Self::from_reader(ImportReader::new(input, cfg)?)
    }

    /// Collects a reader (possibly set up with verdicts) into a plan.
    pub fn from_reader<R: Read>(mut reader: ImportReader<'_, R>) -> Result<ImportPlan, ImportError> {
        let mut contacts: Vec<ImportContact> = Vec::new();
        let mut issues = Vec::new();
        for row in reader.by_ref() {
            match row? {
                Row::Contact { contact, notes } => {
                    contacts.push(contact);
                    issues.extend(notes);
                }
                Row::Duplicate { contact, first_line, issue } => {
                    // Contacts are pushed in line order, so the first row is found by line.
                    if let Some(first) =
                        contacts.binary_search_by_key(&first_line, |c| c.line).ok().and_then(|i| contacts.get_mut(i))
                    {
                        first.merge(contact);
                    }
                    issues.push(issue);
                }
                Row::Rejected(issue) => issues.push(issue),
            }
        }
        Ok(ImportPlan { columns: reader.columns().to_vec(), contacts, issues, summary: *reader.summary() })
    }

    /// The distinct domains of the contacts, to resolve.
    pub fn domains(&self) -> BTreeSet<&str> {
        self.contacts.iter().map(|c| domain_of(&c.email)).collect()
    }

    /// Applies DNS verdicts (asked once per domain): contacts at domains
    /// that take no mail leave the plan with a rejection row (their role or
    /// disposable notes go with them); a temporary failure adds a note and
    /// keeps the contact.
    pub fn apply_domain_verdicts(&mut self, mut verdict: impl FnMut(&str) -> Verdict) {
        let verdicts: HashMap<String, Verdict> =
            self.domains().into_iter().map(|d| (d.to_string(), verdict(d))).collect();
        let mut dropped = Vec::new();
        let summary = &mut self.summary;
        let issues = &mut self.issues;
        self.contacts.retain(|c| {
            let Some(issue) = verdicts.get(domain_of(&c.email)).and_then(|v| v.issue(c.line, &c.email)) else {
                return true;
            };
            summary.record_issue(&issue);
            let keep = !issue.kind.rejects();
            if !keep {
                summary.count_contact(c.enroll, -1);
                summary.role = summary.role.saturating_sub(u64::from(c.role));
                summary.disposable = summary.disposable.saturating_sub(u64::from(c.disposable));
                dropped.push(c.line);
            }
            issues.push(issue);
            keep
        });
        self.issues.retain(|i| {
            !(matches!(i.kind, IssueKind::Role | IssueKind::Disposable) && dropped.binary_search(&i.line).is_ok())
        });
        self.issues.sort_by_key(|i| i.line);
    }

    /// Adds a "kept suppressed" row for every contact `lookup` finds
    /// suppressed. The contacts stay in the plan (their data updates); the
    /// store keeps them suppressed.
    pub fn mark_suppressed(&mut self, mut lookup: impl FnMut(&str) -> Option<SuppressionReason>) {
        for c in &self.contacts {
            if let Some(why) = lookup(&c.email) {
                let issue = RowIssue::suppressed(c.line, &c.email, why);
                self.summary.record_issue(&issue);
                self.issues.push(issue);
            }
        }
        self.issues.sort_by_key(|i| i.line);
    }

    /// The report part, for text or JSON.
    pub fn report(&self) -> Report<'_> {
        Report { columns: &self.columns, issues: &self.issues, summary: &self.summary }
    }
}
