//! `winback bounce …`: offline bounce classification of files and folders,
//! with no daemon and no configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::bounce::{Report, Rules, classify_with, split_mbox};

/// Output formats of `bounce classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tab-separated: a header line, then one row per recipient.
    Tsv,
    /// JSON Lines: one object per classified message.
    Json,
}

/// Bounce subcommands.
#[derive(Debug, Subcommand)]
pub enum BounceCmd {
    /// Classify bounce, complaint and auto-reply messages.
    Classify {
        /// Output format.
        #[arg(long, value_enum, default_value = "tsv")]
        format: OutputFormat,
        /// Rules file replacing the built-in config/bounce-rules.toml.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Files or folders (recursive: `*.eml` files and Maildir `cur/`, `new/` files); a file
        /// holding several messages in mbox form yields rows for each.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Runs a bounce subcommand.
pub fn run(cmd: BounceCmd) -> ExitCode {
    match cmd {
        BounceCmd::Classify { format, rules, paths } => {
            let owned;
            let rules = match rules {
                Some(p) => match Rules::from_path(&p) {
                    Ok(r) => {
                        owned = r;
                        &owned
                    }
                    Err(e) => {
                        eprintln!("winback bounce classify: {e}");
                        return ExitCode::from(super::EX_USAGE);
                    }
                },
                None => Rules::embedded(),
            };
            match classify_paths(rules, format, &paths, &mut std::io::stdout().lock()) {
                Ok(0) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(super::EX_IOERR),
                Err(e) => {
                    eprintln!("winback bounce classify: cannot write output: {e}");
                    ExitCode::from(super::EX_IOERR)
                }
            }
        }
    }
}

/// The TSV header; the first five columns are the corpus label columns.
pub const TSV_HEADER: &str =
    "file\trecipient\tstatus\treason\thardbounce\taction\treplycode\tverp_token\ttoken\tmessage_id\tdiagnostic";

/// Classifies every file under `paths`, writing rows to `out`; returns how
/// many files could not be read (each reported on stderr).
pub fn classify_paths(
    rules: &Rules,
    format: OutputFormat,
    paths: &[PathBuf],
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    if format == OutputFormat::Tsv {
        writeln!(out, "{TSV_HEADER}")?;
    }
    let mut failures = 0;
    for root in paths {
        let mut files = Vec::new();
        if let Err(e) = collect(root, true, &mut files) {
            eprintln!("winback bounce classify: {}: {e}", root.display());
            failures += 1;
            continue;
        }
        for file in files {
            let raw = match std::fs::read(&file) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("winback bounce classify: {}: cannot read: {e}", file.display());
                    failures += 1;
                    continue;
                }
            };
            for message in split_mbox(&raw) {
                if let Some(report) = classify_with(rules, message, &[]) {
                    write_report(out, format, &file, &report)?;
                }
            }
        }
    }
    Ok(failures)
}

fn write_report(out: &mut dyn Write, format: OutputFormat, file: &Path, r: &Report) -> std::io::Result<()> {
    let name = file.display().to_string();
    match format {
        OutputFormat::Json => {
            let v = serde_json::json!({ "file": name, "report": r });
            writeln!(out, "{v}")
        }
        OutputFormat::Tsv => {
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            for x in &r.recipients {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    clean(&name),
                    clean(&x.recipient),
                    x.status.as_deref().unwrap_or(""),
                    x.reason,
                    u8::from(x.hard),
                    x.action.as_str(),
                    x.reply_code.map(|c| c.to_string()).unwrap_or_default(),
                    r.original.verp_token.as_deref().unwrap_or(""),
                    r.original.token.as_deref().unwrap_or(""),
                    clean(r.original.message_id.as_deref().unwrap_or("")),
                    clean(&x.diagnostic),
                )?;
            }
            Ok(())
        }
    }
}

/// Collects message files: a named file always; in folders, `*.eml` files
/// and the files of Maildir `cur/` and `new/` folders, sorted by name.
fn collect(path: &Path, named: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        let in_maildir = path.parent().and_then(Path::file_name).is_some_and(|n| n == "cur" || n == "new");
        let is_eml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml"));
        if named || is_eml || in_maildir {
            out.push(path.to_path_buf());
        }
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        if e.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if let Err(err) = collect(&e, false, out) {
            eprintln!("winback bounce classify: {}: {err}", e.display());
        }
    }
    Ok(())
}
