//! `winback contacts import FILE.csv [--dry-run] [--json]`: list hygiene,
//! DNS checks of every distinct domain, then the contacts in batches
//! through the admin API (the daemon, or the store directly).
//!
//! The file is read twice, streaming: a first pass finds every whole-file
//! error (nothing is written then) and the distinct domains; the second
//! imports. Memory stays flat for millions of rows.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::common::{CmdResult, Failure, call_on, unexpected};
use crate::admin::client::Admin;
use crate::admin::{ImportContact, ImportOutcome, Request, Response};
use crate::config::Config;
use crate::dns::{MailDomain, MailDomainChecker, Resolver};
use crate::domain::import::{
    ImportConfig, ImportError, ImportReader, Report, Row, RowIssue, Verdict, scan_domains_with,
};

/// Contacts per admin request (one store transaction each).
const BATCH: usize = 5_000;

/// Arguments of `contacts import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file (columns email, and optional name, last_engaged_at, last_purchase_at, …;
    /// separated by `,`, `;` or tabs; shop export headers are understood, see config/import-columns.toml).
    pub file: PathBuf,
    /// Layout of dates that are not ISO, in strftime notation (`%d.%m.%Y`, `%m/%d/%Y %H:%M`);
    /// overrides `[import] date_format`.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// Report what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Outcome<'a> {
    #[serde(flatten)]
    report: Report<'a>,
    created: u64,
    updated: u64,
    dry_run: bool,
}

/// Runs the import.
pub fn run(cfg: &Config, args: ImportArgs) -> CmdResult {
    let path = args.file.display().to_string();
    let open = || {
        File::open(&args.file).map(BufReader::new).map_err(|e| Failure::new(super::EX_NOINPUT, format!("{path}: {e}")))
    };
    let bad = |e: ImportError| {
        // A date-format error says so itself: the whole file waits for it.
        let tail = if matches!(e, ImportError::DateFormat { .. }) { "" } else { "; nothing was imported" };
        Failure::new(super::EX_DATAERR, format!("{path}: {e}{tail}"))
    };
    let import = import_config(cfg, args.date_format.as_deref())?;
    let domains = scan_domains_with(open()?, &import).map_err(bad)?;
    let verdicts = if cfg.hygiene.check_dns { check_domains(cfg, domains)? } else { HashMap::new() };

    let mut admin = Admin::connect(cfg)?;
    let mut reader = ImportReader::with_config(open()?, &cfg.hygiene, &import)
        .map_err(bad)?
        .with_verdicts(|d| verdicts.get(d).cloned().unwrap_or(Verdict::Deliverable));
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut batch: Vec<ImportContact> = Vec::with_capacity(BATCH);
    let (mut created, mut updated) = (0u64, 0u64);
    let mut suppressed: Vec<RowIssue> = Vec::new();
    let mut flush = |batch: &mut Vec<ImportContact>, admin: &mut Admin| -> Result<(), Failure> {
        if batch.is_empty() {
            return Ok(());
        }
        let contacts = std::mem::take(batch);
        let lines: Vec<(u64, String)> = contacts.iter().map(|c| (c.line, c.email.clone())).collect();
        match call_on(admin, cfg, Request::Import { contacts, dry_run: args.dry_run })? {
            Response::Imported { outcomes } => {
                for ((line, email), o) in lines.iter().zip(outcomes) {
                    match o {
                        ImportOutcome::Created => created += 1,
                        ImportOutcome::Updated => updated += 1,
                        ImportOutcome::Suppressed { reason } => {
                            suppressed.push(RowIssue::suppressed(*line, email, reason))
                        }
                    }
                }
                Ok(())
            }
            other => Err(unexpected(&other)),
        }
    };
    for row in reader.by_ref() {
        match row.map_err(bad)? {
            Row::Contact { contact, notes } => {
                issues.extend(notes);
                batch.push(contact);
            }
            // Sent again: the store applies the same merge rules.
            Row::Duplicate { contact, issue, .. } => {
                issues.push(issue);
                batch.push(contact);
            }
            Row::Rejected(issue) => issues.push(issue),
        }
        if batch.len() >= BATCH {
            flush(&mut batch, &mut admin)?;
        }
    }
    flush(&mut batch, &mut admin)?;
    let mut summary = *reader.summary();
    for s in &suppressed {
        summary.record_issue(s);
    }
    issues.extend(suppressed);
    issues.sort_by_key(|i| i.line);
    let columns = reader.columns().to_vec();
    let report = Report { columns: &columns, issues: &issues, summary: &summary };
    let out = Outcome { report, created, updated, dry_run: args.dry_run };
    super::common::print(args.json, &out, || {
        format!(
            "{report}{} {created} new contact(s), {updated} updated{}\n",
            if args.dry_run { "would import:" } else { "imported:" },
            if args.dry_run { " (dry run: nothing changed)" } else { "" }
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `[import]` with a `--date-format` over its date format.
pub(super) fn import_config(cfg: &Config, date_format: Option<&str>) -> Result<ImportConfig, Failure> {
    let mut import = cfg.import.clone();
    if let Some(f) = date_format {
        import.dates =
            import.dates.with_format(f).map_err(|m| Failure::new(super::EX_USAGE, format!("--date-format: {m}")))?;
    }
    Ok(import)
}

/// Resolves every distinct domain once, concurrently and bounded.
fn check_domains(
    cfg: &Config,
    domains: std::collections::BTreeSet<String>,
) -> Result<HashMap<String, Verdict>, Failure> {
    let resolver = Resolver::from_config(&cfg.dns).map_err(|e| {
        Failure::new(super::EX_UNAVAILABLE, format!("DNS resolver: {e} (or set [hygiene] check_dns = false)"))
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(super::EX_SOFTWARE, format!("cannot start the runtime: {e}")))?;
    let results = rt.block_on(MailDomainChecker::new(resolver).check_all(domains));
    Ok(results
        .into_iter()
        .map(|(d, m)| {
            let v = match m {
                MailDomain::NoMail => Verdict::NoMailDomain { detail: "no MX, A or AAAA records".into() },
                MailDomain::NullMx => Verdict::NullMx,
                MailDomain::TempFail(detail) => Verdict::TempFail { detail },
                MailDomain::Mx(_) | MailDomain::Implicit => Verdict::Deliverable,
            };
            (d, v)
        })
        .collect())
}
