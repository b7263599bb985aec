//! Classifying a labelled message file as the corpus and lab tests do:
//! every message of an mbox (or the one message), every recipient.

use std::path::Path;

/// The classified recipients of `file` in `dir`, in order.
pub fn classify_file(dir: &Path, file: &str) -> Vec<winback::bounce::Recipient> {
    let raw = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    winback::bounce::split_mbox(&raw)
        .into_iter()
        .filter_map(winback::bounce::classify)
        .flat_map(|r| r.recipients)
        .collect()
}
