//! The bounce lab corpora (made by `tests/lab/regenerate.sh`): DSNs written
//! by real Postfix, Exim, OpenSMTPD, Sendmail, dma, Courier, nullmailer and chasquid instances
//! (and Haraka's, in Debian 12's corpus) for scripted failures, and the delay warnings they sent first
//! (`NAME-delay.eml`), once with the MTAs of Debian 12 (`tests/data/lab`)
//! and once with those of Debian 13 (`tests/data/lab-trixie`). Every recipient must come out with the labelled
//! reason and hard/soft, delayed in a warning and failed in a final report,
//! and no report may yield a recipient that is not labelled. Every
//! mismatch is printed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use winback::bounce::{Action, Reason};

/// The MTAs the lab drives on every release; each has one report per
/// scenario it is given. A corpus may have more (chasquid; Haraka on Debian 12).
const MTAS: [&str; 7] = ["courier", "dma", "exim", "nullmailer", "opensmtpd", "postfix", "sendmail"];
/// The issue asks for at least 12 ways of failing.
const MIN_SCENARIOS: usize = 12;

/// One row of `labels.tsv`.
struct Label {
    recipient: String,
    reason: String,
    hard: bool,
}

/// One corpus a Debian release: its MTAs' versions differ in what they
/// write.
const LABS: [&str; 2] = ["lab", "lab-trixie"];

fn lab_dirs() -> impl Iterator<Item = PathBuf> {
    LABS.iter().map(|name| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name))
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

/// The MTAs of a corpus: its folders, which include every one of [`MTAS`].
fn mtas(dir: &Path) -> BTreeSet<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let found: BTreeSet<String> = entries
        .map(|e| e.expect("directory entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<&str> = MTAS.into_iter().filter(|m| !found.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "{}: no reports of {missing:?}; regenerate with tests/lab/regenerate.sh",
        dir.display()
    );
    found
}

/// Every `.eml` under `dir/<mta>/`, as `mta/name.eml`.
fn messages(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mta in mtas(dir) {
        let sub = dir.join(&mta);
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
                // A delay warning's recipients are delayed, a final report's failed.
                let action = if file.ends_with("-delay.eml") { Action::Delayed } else { Action::Failed };
                if g.action != action {
                    out.push(format!("{file}: want action {}, got {}", action.as_str(), g.action.as_str()));
                }
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
    let misses: Vec<String> = lab_dirs().flat_map(|dir| lab_mismatches(&dir)).collect();
    assert!(misses.is_empty(), "{} lab mismatches:\n{}", misses.len(), misses.join("\n"));
}

/// Every disagreement of one lab corpus with its labels, printed.
fn lab_mismatches(dir: &Path) -> Vec<String> {
    let labels = read_labels(dir);
    let files: BTreeSet<String> = labels.keys().cloned().collect();
    let on_disk = messages(dir);
    assert_eq!(files, on_disk, "labels.tsv and the .eml files under {} differ", dir.display());
    for mta in mtas(dir) {
        let count = files.iter().filter(|f| f.starts_with(&format!("{mta}/"))).count();
        assert!(
            count >= MIN_SCENARIOS,
            "{}: {mta}: {count} lab DSNs, fewer than {MIN_SCENARIOS} scenarios",
            dir.display()
        );
    }
    let rows: usize = labels.values().map(Vec::len).sum();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let misses: Vec<String> =
        labels.iter().flat_map(|(file, want)| mismatches(dir, file, want)).map(|m| format!("{name}/{m}")).collect();
    for miss in &misses {
        println!("MISMATCH {miss}");
    }
    println!("bounce {name}: {} mismatches over {rows} labelled recipients", misses.len());
    misses
}

/// The same reports with their `message/delivery-status` part removed, as a
/// gateway that keeps only the text would pass them on: every recipient
/// reads the same (address, reason, hard/soft, delayed or failed) from the
/// MTA's words alone.
#[test]
fn every_lab_dsn_reads_the_same_from_its_text_alone() {
    for dir in lab_dirs() {
        reads_the_same_from_its_text_alone(&dir);
    }
}

fn reads_the_same_from_its_text_alone(dir: &Path) {
    let mut wrong = Vec::new();
    let mut stripped = 0;
    for file in messages(dir) {
        let raw = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let Some(text_only) = without_report_part(&raw) else { continue };
        stripped += 1;
        // A final report after failed connections is an expiry by its
        // report part (Action: failed, Status: 4.4.1: the retries ran out);
        // its text names only the failed connection ("connect to …:
        // Connection refused"), which reads as the network failure it is.
        // A text that never names the recipient (Sendmail's delay warning
        // for an alias's command names the command alone) cannot give its
        // address: the rest of what it reads is compared.
        // nullmailer's text names the recipients but never the cause, which
        // only its report part's Diagnostic-Code quotes: without that part
        // its reports are compared by recipient and action alone.
        let states_cause = !file.starts_with("nullmailer/");
        let text = String::from_utf8_lossy(&text_only).to_ascii_lowercase();
        let body = text.split_once("\n\n").map_or("", |(_, body)| body);
        // Up to the returned original, whose headers name the recipient.
        let failure_text = ["content-type: message/rfc822", "content-type: text/rfc822-headers"]
            .iter()
            .filter_map(|m| body.find(m))
            .min()
            .map_or(body, |at| &body[..at]);
        let summary = |raw: &[u8]| -> Vec<String> {
            winback::bounce::classify(raw)
                .map(|r| r.recipients)
                .unwrap_or_default()
                .iter()
                .map(|x| {
                    let reason = if x.reason == Reason::Expired && x.action == Action::Failed {
                        Reason::NetworkError
                    } else {
                        x.reason
                    };
                    let named = failure_text.contains(&x.recipient);
                    let recipient = if named { x.recipient.as_str() } else { "" };
                    if !states_cause {
                        return format!("{recipient} {}", x.action.as_str());
                    }
                    format!("{recipient} {}/{} {}", reason.as_str(), u8::from(x.hard), x.action.as_str())
                })
                .collect()
        };
        // Exim's text and its report part list several recipients in
        // different orders: what each recipient reads is compared.
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let (whole, alone) = (sorted(summary(&raw)), sorted(summary(&text_only)));
        if whole != alone {
            wrong.push(format!("{file}: {whole:?} with the report part, {alone:?} without"));
        }
    }
    println!("{} without report parts: {stripped} messages, {} read differently", dir.display(), wrong.len());
    assert!(stripped >= 4 * MIN_SCENARIOS, "only {stripped} lab messages had a report part to remove");
    assert!(
        wrong.is_empty(),
        "{} lab messages read differently without their report part:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// `raw` without the `message/delivery-status` part of its top-level
/// multipart, or None when it has none.
fn without_report_part(raw: &[u8]) -> Option<Vec<u8>> {
    let split = raw.windows(2).position(|w| w == b"\n\n")? + 1;
    let (header, body) = raw.split_at(split);
    let unfolded = String::from_utf8_lossy(header).replace("\n ", " ").replace("\n\t", " ");
    let ctype = unfolded.lines().find(|l| l.to_ascii_lowercase().starts_with("content-type:"))?;
    let at = ctype.to_ascii_lowercase().find("boundary=")? + "boundary=".len();
    let boundary = ctype.get(at..)?.split(';').next()?.trim().trim_matches('"');
    let delim = format!("--{boundary}");
    // The text before the first delimiter, then each part with the
    // delimiter line that opens it; the closing delimiter and what follows
    // it count as text after the last part.
    let mut chunks: Vec<Vec<u8>> = vec![Vec::new()];
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(delim.as_bytes()) {
            chunks.push(Vec::new());
        }
        chunks.last_mut()?.extend_from_slice(line);
    }
    let is_report = |chunk: &Vec<u8>| {
        let mut lines = chunk.split(|&b| b == b'\n').skip(1).take_while(|l| !l.is_empty());
        lines.any(|l| l.to_ascii_lowercase().starts_with(b"content-type: message/delivery-status"))
    };
    let before = chunks.len();
    chunks.retain(|c| !is_report(c));
    (chunks.len() < before).then(|| [header.to_vec(), chunks.concat()].concat())
}
