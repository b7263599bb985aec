//! Throughput of the bounce classifier: the shared corpus classified 10
//! times over in one process on one core. Prints messages per second.
//!
//! Run with `cargo bench --bench bounce`.

use std::time::Instant;

/// The allocator the `winback` binary runs with (see `src/main.rs`), so
/// the figure is the classifier as users run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of this thread in seconds (Linux `schedstat`), so the figure
/// is per core even when other processes share the machine.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

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
    // The figure is 10 rounds; profiling wants more. The run is
    // repeated (5 times by default) because a shared machine's speed
    // wanders between runs: every repetition is printed, then the median
    // and the best.
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let rounds = env("BOUNCE_BENCH_ROUNDS", 10);
    let repeat = env("BOUNCE_BENCH_REPEAT", 5).max(1);
    let n = messages.len() * rounds;
    let mut rates = Vec::new();
    for rep in 1..=repeat {
        let start = Instant::now();
        let cpu_start = thread_cpu_seconds();
        let mut recipients = 0usize;
        for _ in 0..rounds {
            for m in &messages {
                if let Some(r) = winback::bounce::classify(std::hint::black_box(m)) {
                    recipients += r.recipients.len();
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        // CPU time of this thread when the kernel reports it, else wall time.
        let cpu = thread_cpu_seconds().zip(cpu_start).map_or(secs, |(b, a)| b - a);
        rates.push(n as f64 / cpu);
        println!(
            "bounce classify run {rep}: {n} messages ({} distinct, {classified} reports, {:.1} MB) in {cpu:.3} s of CPU time ({secs:.3} s wall) = {:.0} messages/s on one core, {:.1} MB/s, {recipients} recipients",
            messages.len(),
            bytes as f64 / 1e6,
            n as f64 / cpu,
            (bytes * rounds) as f64 / 1e6 / cpu
        );
    }
    rates.sort_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
    let best = rates.last().copied().unwrap_or(0.0);
    println!("bounce classify: median {median:.0} messages/s, best {best:.0} messages/s on one core (target 30000)");
}
