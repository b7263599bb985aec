//! Whole-process throughput of `winback bounce classify`: a folder of
//! about 4,000 files (the shared corpus copied ten times) classified by the
//! real binary, start-up, file reading and output included. Prints
//! messages per second per run, the median and the best; asserts nothing.
//!
//! Run with `cargo bench --bench bounce_process`.

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bounce-corpus/eml");
    let sources: Vec<_> = match std::fs::read_dir(&corpus) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("bounce_process bench: the shared corpus is missing at {}: {e}", corpus.display());
            std::process::exit(1);
        }
    };
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let target = env("BOUNCE_PROCESS_FILES", 4000);
    let copies = target.div_ceil(sources.len().max(1));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut files = 0usize;
    for k in 0..copies {
        for src in &sources {
            let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            std::fs::copy(src, dir.path().join(format!("{k:02}-{name}"))).expect("copy a corpus file");
            files += 1;
        }
    }
    let bin = env!("CARGO_BIN_EXE_winback");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut rates = Vec::new();
    for run in 1..=env("BOUNCE_PROCESS_REPEAT", 5).max(1) {
        let start = Instant::now();
        let status = Command::new(bin)
            .args(["bounce", "classify", "--format", "tsv"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("run winback");
        let secs = start.elapsed().as_secs_f64();
        if !status.success() {
            eprintln!("bounce_process bench: winback exited with {status}");
            std::process::exit(1);
        }
        let rate = files as f64 / secs;
        rates.push(rate);
        println!(
            "bounce classify (whole process) run {run}: {files} files in {secs:.3} s = {rate:.0} messages/s on {cores} cores"
        );
    }
    rates.sort_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
    let best = rates.last().copied().unwrap_or(0.0);
    println!(
        "bounce classify (whole process): median {median:.0} messages/s, best {best:.0} messages/s on {cores} cores (target 40000)"
    );
}
