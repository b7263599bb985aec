//! Throughput of the bounce classifier: the shared corpus classified 10
//! times over in one process on one core. Prints messages per second.
//!
//! Run with `cargo bench --bench bounce`.

use std::time::Instant;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bounce-corpus/eml");
    let mut messages: Vec<Vec<u8>> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).filter_map(|e| std::fs::read(e.path()).ok()).collect(),
        Err(e) => {
            eprintln!("bounce bench: the shared corpus is missing at {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    messages.sort();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    // Warm up: compiles the rules once, as the daemon does at start.
    let mut classified = 0usize;
    for m in &messages {
        classified += usize::from(winback::bounce::classify(m).is_some());
    }
    const ROUNDS: usize = 10;
    let start = Instant::now();
    let mut recipients = 0usize;
    for _ in 0..ROUNDS {
        for m in &messages {
            if let Some(r) = winback::bounce::classify(std::hint::black_box(m)) {
                recipients += r.recipients.len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = messages.len() * ROUNDS;
    println!(
        "bounce classify: {n} messages ({} distinct, {classified} reports, {:.1} MB) in {secs:.3} s = {:.0} messages/s, {:.1} MB/s, {recipients} recipients",
        messages.len(),
        bytes as f64 / 1e6,
        n as f64 / secs,
        (bytes * ROUNDS) as f64 / 1e6 / secs
    );
}
