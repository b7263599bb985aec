//! An order history through the real binary, as an operator loads one:
//! `winback events import --create --kind purchase` of a date-sorted
//! order export, then `winback customers refresh` (every score) and
//! `winback customers model` (the fit). Prints, for each step, the wall
//! time, the CPU time and the peak resident set of the process, and the
//! import's rows per second; asserts nothing.
//!
//! Sizes: `WINBACK_BENCH_CUSTOMERS` (default 200,000) customers over five
//! years, with `WINBACK_BENCH_ORDERS` (default 2,000,000) setting their
//! drop-out; customers who start late or drop out early buy less, so the
//! file holds fewer orders than that: 12,000,000 of 1,000,000 customers
//! give the scale of about ten million. `WINBACK_BENCH_DAEMON=1`
//! imports through a running daemon instead of directly into the store.
//!
//! Run with `cargo bench --bench import`.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n.max(1)
    }
}

const START: i64 = 1_600_000_000; // 2020-09-13
const SPAN: i64 = 5 * 365 * 86_400;

/// The order export: `email,at,value,ref`, sorted by time as shops write
/// it. Customer `c` starts at a random time and buys with exponential
/// gaps of a mean of its own (2 to 82 days); after each order it stops
/// with a probability of its own (on average `customers / orders`, so
/// customers differ in both, as the BG/NBD model assumes); orders after
/// the end are dropped. Order values spread around a mean of the
/// customer's own (10 to 150), so the Gamma–Gamma fit has work to do.
/// Returns how many orders were written.
fn write_orders(path: &std::path::Path, orders: u64, customers: u64) -> u64 {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let unit = |rng: &mut Rng| (rng.below(1 << 30) as f64 + 0.5) / (1u64 << 30) as f64;
    let stop = 1.0 / (orders as f64 / customers.max(1) as f64).max(1.0);
    let mut rows: Vec<(i64, u64, u32)> = Vec::with_capacity(orders as usize);
    for c in 0..customers {
        let gap = (2.0 + 80.0 * unit(&mut rng)) * 86_400.0;
        let mean_cents = 1_000.0 + 14_000.0 * unit(&mut rng);
        let stop = stop * (0.25 + 1.5 * unit(&mut rng));
        let mut t = START + rng.below(SPAN as u64) as i64;
        while t < START + SPAN {
            rows.push((t, c, (mean_cents * (0.5 + unit(&mut rng))) as u32));
            if unit(&mut rng) < stop {
                break;
            }
            t += (-gap * unit(&mut rng).ln()) as i64;
        }
    }
    rows.sort_unstable();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the order file"));
    writeln!(out, "email,at,value,ref").expect("write");
    for (i, (t, c, cents)) in rows.iter().enumerate() {
        let at = chrono::DateTime::from_timestamp(*t, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
        writeln!(out, "c{c}@shop{}.example,{at},{}.{:02},o{i}", c % 50, cents / 100, cents % 100).expect("write");
    }
    out.flush().expect("write the order file");
    rows.len() as u64
}

/// CPU seconds and peak RSS (MB) of the children waited for so far (the
/// peak is the largest of them).
#[allow(unsafe_code)]
fn children() -> (f64, f64) {
    // SAFETY: rusage is plain integers, so all zeroes is a valid value,
    // and getrusage only writes into the struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) != 0 {
            return (0.0, 0.0);
        }
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_utime) + secs(u.ru_stime), u.ru_maxrss as f64 / 1024.0)
}

fn winback(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_winback"));
    c.current_dir(dir).arg("--config").arg(dir.join("winback.toml"));
    c
}

/// Runs one step and prints its figures (and with `show`, what the
/// command printed); returns the wall seconds.
fn step(name: &str, mut cmd: Command, show: bool) -> f64 {
    let (cpu0, _) = children();
    let start = Instant::now();
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().expect("run winback");
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!("import bench: {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let (cpu1, rss) = children();
    if show {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("  | {line}");
        }
    }
    println!("{name}: {wall:.2} s wall, {:.2} s CPU, peak RSS so far {rss:.0} MB", cpu1 - cpu0);
    wall
}

fn main() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let orders = env("WINBACK_BENCH_ORDERS", 2_000_000);
    let customers = env("WINBACK_BENCH_CUSTOMERS", 200_000);
    let through_daemon = env("WINBACK_BENCH_DAEMON", 0) == 1;
    let dir = tempfile::tempdir().expect("a temporary folder");
    // The shipped configuration without sequences: nothing is mailed
    // while the bench runs; ports 0 so no listener collides.
    std::fs::write(
        dir.path().join("winback.toml"),
        format!(
            "state_dir = \"{}\"\n[admin]\nsocket = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("var").display(),
            dir.path().join("admin.sock").display()
        ),
    )
    .expect("write the config");
    let t = Instant::now();
    let orders = write_orders(&dir.path().join("orders.csv"), orders, customers);
    println!("order file: {orders} orders of {customers} customers written in {:.1} s", t.elapsed().as_secs_f64());

    let mut daemon: Option<Child> = None;
    if through_daemon {
        let child = winback(dir.path()).arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        daemon = Some(child.expect("start the daemon"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir.path().join("admin.sock").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut import = winback(dir.path());
    import.args(["events", "import", "--create", "--kind", "purchase", "orders.csv"]);
    let mode = if through_daemon { "through the daemon" } else { "directly into the store" };
    let wall = step(&format!("events import ({mode})"), import, false);
    println!("events import: {:.0} rows/s (target 200000)", orders as f64 / wall);
    let mut refresh = winback(dir.path());
    refresh.args(["customers", "refresh"]);
    let refresh_wall = step("customers refresh", refresh, true);
    let mut model = winback(dir.path());
    model.args(["customers", "model"]);
    let model_wall = step("customers model", model, true);
    println!(
        "import + refresh + model: {:.1} s for {orders} orders of {customers} customers (target at 10M of 1M: 60 s)",
        wall + refresh_wall + model_wall
    );
    if let Some(mut d) = daemon {
        let _ = d.kill();
        let _ = d.wait();
    }
    // WINBACK_BENCH_KEEP=1 leaves the folder (order file, config, store)
    // for profiling a step by hand.
    if env("WINBACK_BENCH_KEEP", 0) == 1 {
        println!("kept: {}", dir.keep().display());
    }
}
