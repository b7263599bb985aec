//! `winback bounce …`: offline bounce classification of files and folders,
//! with no daemon and no configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::bounce::{MAX_RECIPIENTS, Report, Rules, classify_with, split_mbox};

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
        /// Files or folders (recursive: every file that is not hidden; one found in a folder
        /// is read as mail when it is a `*.eml` file, in a Maildir `cur/` or `new/` folder, or
        /// begins like a message); a file holding several messages in mbox form yields rows
        /// for each.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Runs a bounce subcommand.
pub fn run(cmd: BounceCmd) -> ExitCode {
    match cmd {
        BounceCmd::Classify { format, rules, paths } => {
            let owned;
            // The embedded rules compile on first use, in a worker that has
            // already read its files: start-up overlaps with reading.
            let rules = match rules {
                Some(p) => match Rules::from_path(&p) {
                    Ok(r) => {
                        owned = r;
                        Some(&owned)
                    }
                    Err(e) => {
                        eprintln!("winback bounce classify: {e}");
                        return ExitCode::from(super::EX_USAGE);
                    }
                },
                None => None,
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
/// `decided_by` comes last: readers of the first columns are unaffected.
pub const TSV_HEADER: &str = "file\trecipient\tstatus\treason\thardbounce\taction\treplycode\tverp_token\ttoken\tmessage_id\tdiagnostic\tdecided_by";

/// Classifies every file under `paths` with `rules` (the embedded rules
/// when `None`), writing rows to `out`; returns how many files could not be
/// read (each reported on stderr).
pub fn classify_paths(
    rules: Option<&Rules>,
    format: OutputFormat,
    paths: &[PathBuf],
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    if format == OutputFormat::Tsv {
        writeln!(out, "{TSV_HEADER}")?;
    }
    let mut failures = 0;
    let mut files = Vec::new();
    for root in paths {
        if let Err(e) = collect(root, true, &mut files) {
            eprintln!("winback bounce classify: {}: {e}", root.display());
            failures += 1;
        }
    }
    // Files are classified in parallel, in chunks taken in order; each
    // chunk's output is written as soon as it and all before it are done,
    // so the output order is the file order whatever the thread count.
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(files.len().max(1));
    let chunk = 64;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>, usize)>();
    std::thread::scope(|scope| -> std::io::Result<()> {
        for _ in 0..threads {
            let tx = tx.clone();
            let (files, next) = (&files, &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(batch) = files.get(i * chunk..).filter(|b| !b.is_empty()) else { break };
                    let (buf, failed) = classify_files(rules, format, batch.get(..chunk).unwrap_or(batch));
                    if tx.send((i, buf, failed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0;
        for (i, buf, failed) in rx {
            pending.insert(i, (buf, failed));
            while let Some((buf, failed)) = pending.remove(&want) {
                out.write_all(&buf)?;
                failures += failed;
                want += 1;
            }
        }
        Ok(())
    })?;
    Ok(failures)
}

/// Classifies a run of files into an output buffer; returns the buffer
/// and how many files could not be read.
fn classify_files(rules: Option<&Rules>, format: OutputFormat, files: &[Found]) -> (Vec<u8>, usize) {
    let mut buf = Vec::with_capacity(files.len() * 256);
    let mut failed = 0;
    let mut contents = Vec::with_capacity(files.len());
    for Found { path: file, sure } in files {
        match std::fs::read(file) {
            Ok(raw) if *sure || begins_like_a_message(&raw) => contents.push((file, raw)),
            Ok(_) => {}
            Err(e) => {
                eprintln!("winback bounce classify: {}: cannot read: {e}", file.display());
                failed += 1;
            }
        }
    }
    let rules: &Rules = match rules {
        Some(r) => r,
        None => Rules::embedded(),
    };
    for (file, raw) in &contents {
        for message in split_mbox(raw) {
            if let Some(report) = classify_with(rules, message, &[]) {
                if report.capped() {
                    eprintln!(
                        "winback bounce classify: {}: the report names {MAX_RECIPIENTS} recipients or more; \
                         only the first {MAX_RECIPIENTS} are classified",
                        file.display()
                    );
                }
                // Writing to memory cannot fail.
                let _ = write_report(&mut buf, format, file, &report);
            }
        }
    }
    (buf, failed)
}

fn write_report(out: &mut dyn Write, format: OutputFormat, file: &Path, r: &Report) -> std::io::Result<()> {
    let name = file.display().to_string();
    match format {
        OutputFormat::Json => {
            let v = serde_json::json!({ "file": name, "report": r });
            writeln!(out, "{v}")
        }
        OutputFormat::Tsv => {
            // One line per recipient: tabs, line breaks and other control
            // characters (a NUL from "=00" in quoted-printable) become spaces.
            let clean = |s: &str| s.replace(|c: char| c.is_control(), " ");
            for x in &r.recipients {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
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
                    x.decided_by,
                )?;
            }
            Ok(())
        }
    }
}

/// A file to classify, and whether it is surely mail (named on the
/// command line, a `*.eml` file, in a Maildir `cur/` or `new/` folder);
/// any other file found in a folder is read as mail only when it
/// [`begins_like_a_message`] (a corpus folder also holds its labels and
/// README).
struct Found {
    path: PathBuf,
    sure: bool,
}

/// Collects the files under `path` (`named`: given on the command line),
/// sorted by name, hidden ones left out.
fn collect(path: &Path, named: bool, out: &mut Vec<Found>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        out.push(found(path.to_path_buf(), named));
        return Ok(());
    }
    // The directory entry says whether it is a plain file: no `stat` per
    // file of a large folder (symbolic links and unknown types are followed).
    // Names in one folder are unique: sorting them as bytes is the order
    // of their paths, without comparing paths component by component.
    let mut entries: Vec<(std::ffi::OsString, PathBuf, bool)> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
        .map(|e| (e.file_name(), e.path(), e.file_type().is_ok_and(|t| t.is_file())))
        .collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, e, plain_file) in entries {
        if plain_file {
            out.push(found(e, false));
        } else if let Err(err) = collect(&e, false, out) {
            eprintln!("winback bounce classify: {}: {err}", e.display());
        }
    }
    Ok(())
}

fn found(path: PathBuf, named: bool) -> Found {
    let in_maildir = path.parent().and_then(Path::file_name).is_some_and(|n| n == "cur" || n == "new");
    let is_eml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    Found { sure: named || is_eml || in_maildir, path }
}

/// Whether `raw` begins as a message does: after blank lines, an mbox
/// `From ` line or a header field (`Name:`, the name letters, digits, `-`
/// and `_`). A README, a table of labels, JSON or a script does not.
fn begins_like_a_message(raw: &[u8]) -> bool {
    let raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
    let Some(first) = raw.split(|&b| b == b'\n').map(|l| l.trim_ascii()).find(|l| !l.is_empty()) else {
        return false;
    };
    if first.starts_with(b"From ") {
        return true;
    }
    first.iter().position(|&b| b == b':').is_some_and(|colon| {
        colon > 0
            && first
                .get(..colon)
                .is_some_and(|name| name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::begins_like_a_message;

    #[test]
    fn a_message_begins_with_a_header_field_or_an_mbox_line() {
        for raw in [
            "Return-Path: <>\nFrom: MAILER-DAEMON\n\nbody",
            "\n\r\nReceived: by mx\n",
            "\u{feff}Subject: hello\n",
            "From MAILER-DAEMON Mon Jan  1 00:00:00 2026\nFrom: x\n",
            "X-Original-To: a@b.example",
        ] {
            assert!(begins_like_a_message(raw.as_bytes()), "{raw:?}");
        }
        for raw in [
            "",
            "\n\n",
            "# Bounce corpus\n",
            "file\trecipient\tstatus\n",
            "BSD 2-Clause License\n",
            ": no name\n",
            "{\"a\": 1}",
        ] {
            assert!(!begins_like_a_message(raw.as_bytes()), "{raw:?}");
        }
    }
}
