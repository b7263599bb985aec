//! The bounce lab corpus (`tests/data/lab`, made by `tests/lab/regenerate.sh`):
//! DSNs written by real Postfix, Exim, OpenSMTPD and Sendmail instances for
//! scripted failures. Every recipient must come out with the labelled
//! reason and hard/soft, and no report may yield a recipient that is not
//! labelled. Every mismatch is printed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The MTAs the lab drives; each has one DSN per scenario.
const MTAS: [&str; 4] = ["exim", "opensmtpd", "postfix", "sendmail"];
/// The issue asks for at least 12 ways of failing.
const MIN_SCENARIOS: usize = 12;

/// One row of `labels.tsv`.
struct Label {
    recipient: String,
    reason: String,
    hard: bool,
}

fn lab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/lab")
}

/// `file → labels in order`, from `labels.tsv` (header `file recipient
/// status reason hardbounce`).
fn read_labels(dir: &Path) -> BTreeMap<String, Vec<Label>> {
    let path = dir.join("labels.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; regenerate it with tests/lab/regenerate.sh", path.display()));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("file\trecipient\tstatus\treason\thardbounce"),
        "{}: unexpected header",
        path.display()
    );
    let mut labels: BTreeMap<String, Vec<Label>> = BTreeMap::new();
    for (n, line) in lines.enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, recipient, _status, reason, hard @ ("0" | "1")] = cols[..] else {
            panic!("{} line {}: expected 5 columns ending in 0 or 1, got {line:?}", path.display(), n + 2)
        };
        labels.entry(file.to_string()).or_default().push(Label {
            recipient: recipient.to_string(),
            reason: reason.to_string(),
            hard: hard == "1",
        });
    }
    labels
}

/// Every `.eml` under `dir/<mta>/`, as `mta/name.eml`.
fn messages(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mta in MTAS {
        let sub = dir.join(mta);
        let entries = std::fs::read_dir(&sub).unwrap_or_else(|e| panic!("cannot list {}: {e}", sub.display()));
        for entry in entries {
            let name = entry.expect("directory entry").file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                out.insert(format!("{mta}/{name}"));
            }
        }
    }
    out
}

/// Classifies one file and lists its disagreements with the labels.
fn mismatches(dir: &Path, file: &str, want: &[Label]) -> Vec<String> {
    let got = support::bounce::classify_file(dir, file);
    let mut out = Vec::new();
    for (i, label) in want.iter().enumerate() {
        let wanted = format!("{} {}/{}", label.recipient, label.reason, u8::from(label.hard));
        match got.get(i) {
            None => out.push(format!("{file}: want {wanted}, got no recipient")),
            Some(g) => {
                let same_rcpt = g.recipient.eq_ignore_ascii_case(&label.recipient);
                if !same_rcpt || g.reason.as_str() != label.reason || g.hard != label.hard {
                    out.push(format!(
                        "{file}: want {wanted}, got {} {}/{} (status {:?}, diagnostic {:?})",
                        g.recipient,
                        g.reason.as_str(),
                        u8::from(g.hard),
                        g.status,
                        g.diagnostic
                    ));
                }
            }
        }
    }
    for extra in got.iter().skip(want.len()) {
        out.push(format!("{file}: unlabelled extra recipient {} {}", extra.recipient, extra.reason.as_str()));
    }
    out
}

#[test]
fn every_lab_dsn_is_classified_as_labelled() {
    let dir = lab_dir();
    let labels = read_labels(&dir);
    let files: BTreeSet<String> = labels.keys().cloned().collect();
    let on_disk = messages(&dir);
    assert_eq!(files, on_disk, "labels.tsv and the .eml files under {} differ", dir.display());
    for mta in MTAS {
        let count = files.iter().filter(|f| f.starts_with(&format!("{mta}/"))).count();
        assert!(count >= MIN_SCENARIOS, "{mta}: {count} lab DSNs, fewer than {MIN_SCENARIOS} scenarios");
    }
    let rows: usize = labels.values().map(Vec::len).sum();
    let misses: Vec<String> = labels.iter().flat_map(|(file, want)| mismatches(&dir, file, want)).collect();
    for miss in &misses {
        println!("MISMATCH {miss}");
    }
    println!("bounce lab: {} mismatches over {rows} labelled recipients", misses.len());
    assert!(misses.is_empty(), "{} lab mismatches:\n{}", misses.len(), misses.join("\n"));
}
