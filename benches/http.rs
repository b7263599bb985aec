//! HTTP benchmark: winback's open pixel and click redirect against nginx
//! serving a static GIF and a fixed redirect, on loopback, in one run.
//!
//! winback runs in-process over a temp store, as the daemon does: every
//! event is durable in the event journal before the answer and applied to
//! the store by the journal's folder; afterwards, once the store has caught
//! up, the recorded events are counted against the answers wrk saw. wrk (Debian `wrk`)
//! drives both servers with the same Lua script rotating over many
//! messages' tokens; nginx (Debian `nginx`/`nginx-light`) runs with its own
//! temp config on a free loopback port as the current user.
//!
//! `cargo bench --bench http`. Environment: `BENCH_SECS` per run (default
//! 10), `BENCH_CONNECTIONS` (comma-separated, default `64,256`),
//! `BENCH_MESSAGES` (default 2000).
//!
//! Every answer waits for the journal's `fdatasync`, and wrk does not
//! pipeline, so throughput is at most connections / sync cycle: with few
//! connections the disk's sync time bounds it.

use std::fmt::Write as _;
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use winback::clock::Clock;
use winback::config::Config;
use winback::domain::Contact;
use winback::http::{HttpState, router, serve};
use winback::store::{MessageRecord, MessageState, Store};
use winback::token::{Keys, Purpose};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const LINK: &str = "https://shop.example/a";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What one wrk run reported.
#[derive(Debug, Default, Clone, Copy)]
struct WrkResult {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn parse_latency_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

fn parse_wrk(out: &str) -> Result<WrkResult, String> {
    let mut r = WrkResult::default();
    for line in out.lines() {
        let t = line.trim();
        let mut words = t.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(v)) => r.p50_ms = parse_latency_ms(v).unwrap_or(f64::NAN),
            (Some("99%"), Some(v)) => r.p99_ms = parse_latency_ms(v).unwrap_or(f64::NAN),
            (Some("Requests/sec:"), Some(v)) => r.rps = v.parse().unwrap_or(f64::NAN),
            (Some(n), Some("requests")) => r.requests = n.parse().unwrap_or(0),
            (Some("Non-2xx"), _) => r.errors += t.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0),
            (Some("Socket"), Some("errors:")) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                r.errors += t
                    .split(',')
                    .filter_map(|p| p.split_whitespace().last().and_then(|n| n.parse::<u64>().ok()))
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    if r.requests == 0 {
        return Err(format!("could not read wrk's output:\n{out}"));
    }
    Ok(r)
}

fn wrk(url: &str, script: &Path, secs: u64, conns: u64) -> Result<WrkResult, String> {
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{conns}"), &format!("-d{secs}s"), "--latency", "--timeout", "5s", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk ({e}): install Debian's `wrk` package"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    parse_wrk(&text)
}

/// A Lua script requesting the given paths in turn with a browser agent.
fn write_script(path: &Path, paths: &[String]) -> std::io::Result<()> {
    let mut lua = String::from("local paths = {\n");
    for p in paths {
        let _ = writeln!(lua, "  \"{p}\",");
    }
    let _ = write!(
        lua,
        "}}\nlocal i = 0\nwrk.headers[\"User-Agent\"] = \"{UA}\"\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n"
    );
    std::fs::write(path, lua)
}

/// nginx with its own config in a temp dir; stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path) -> Result<Nginx, String> {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("nginx not found: install Debian's `nginx-light` (or `nginx`) package")?;
        let port = StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        std::fs::create_dir_all(dir.join("www")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("www/pixel.gif"), winback::http::pages::PIXEL_GIF).map_err(|e| e.to_string())?;
        let user =
            Command::new("id").arg("-un").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        // As root, nginx would switch its workers to `nobody`; keep them ours.
        let user_line = match user.as_deref() {
            Ok("root") => "user root;",
            _ => "",
        };
        let d = dir.display();
        let conf = format!(
            r#"{user_line}
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location /o/ {{ default_type image/gif; add_header Cache-Control "no-store"; try_files /pixel.gif =404; }}
    location /c/ {{ return 302 {LINK}; }}
  }}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["-p", &d.to_string(), "-c"])
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let ng = Nginx { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx did not start: {log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(ng)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master stops its workers too.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// Events recorded so far (opens and clicks, any origin).
fn recorded(store: &Store) -> i64 {
    store.read().and_then(|r| r.counts()).map(|c| c.with_prefix("events").map(|(_, v)| v).sum()).unwrap_or(-1)
}

/// The recorded count once it has stopped moving (the journal's folder
/// done), waiting at most 30 s.
fn settled(store: &Store) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = recorded(store);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = recorded(store);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let secs = env_num("BENCH_SECS", 10);
    let conn_list: Vec<u64> = std::env::var("BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "64,256".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let messages = env_num("BENCH_MESSAGES", 2000);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let toml =
        format!("state_dir = \"{}/state\"\n[sender]\npublic_base_url = \"http://127.0.0.1\"\n", dir.path().display());
    let cfg = Arc::new(Config::from_toml("bench", &toml).map_err(|e| e.to_string())?);
    let store = Store::open(&cfg.state_dir).map_err(|e| e.to_string())?;
    let keys = Keys::from_secret([5; 32]);
    let clock = rt.block_on(async { Clock::system() });
    let now = clock.now();
    let ids = store
        .write(|w| {
            (0..messages)
                .map(|i| {
                    let email = format!("bench{i}@example.com");
                    w.put_contact(None, &Contact::new(email.as_str(), now - 86_400_000))?;
                    let id = w.next_id("message")?;
                    w.put_message(
                        None,
                        &MessageRecord {
                            id,
                            email,
                            sequence: "winback".into(),
                            step: 0,
                            created_at: now - 7_200_000,
                            state: MessageState::Sent,
                            attempts: 1,
                            first_attempt_at: Some(now - 3_600_000),
                            sent_at: Some(now - 3_600_000),
                            message_id: None,
                            last_reply: None,
                            links: vec![LINK.to_string()],
                            variant: None,
                        },
                    )?;
                    Ok(id)
                })
                .collect::<Result<Vec<u64>, _>>()
        })
        .map_err(|e| e.to_string())?;
    let opens: Vec<String> = ids.iter().map(|&id| format!("/o/{}.gif", keys.sign(Purpose::Open, id, 0))).collect();
    let clicks: Vec<String> = ids.iter().map(|&id| format!("/c/{}", keys.sign(Purpose::Click, id, 0))).collect();
    let open_lua = dir.path().join("open.lua");
    let click_lua = dir.path().join("click.lua");
    write_script(&open_lua, &opens).map_err(|e| e.to_string())?;
    write_script(&click_lua, &clicks).map_err(|e| e.to_string())?;

    let cancel = CancellationToken::new();
    let (addr, server) = rt.block_on(async {
        let committer = store.committer(4096);
        let (journal, folder) =
            winback::engine::journal(&store, committer.clone(), cfg.clone(), 4096).map_err(|e| e.to_string())?;
        tokio::spawn(folder);
        let state = HttpState::new(cfg.clone(), store.clone(), committer, journal, keys.clone(), clock);
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (c, http) = (cancel.clone(), cfg.http.clone());
        let task = tokio::spawn(async move { serve(listener, router(state), &http, c).await });
        Ok::<_, String>((addr, task))
    })?;
    let nginx = Nginx::start(&dir.path().join("nginx"))?;

    println!(
        "http benchmark: wrk -t1 -d{secs}s on loopback, {messages} messages rotated, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?")
    );
    let mut rows = Vec::new();
    for &conns in &conn_list {
        for (name, script) in [("open pixel", &open_lua), ("click redirect", &click_lua)] {
            let before = recorded(&store);
            let ours = wrk(&format!("http://{addr}"), script, secs, conns)?;
            // Requests still in flight when wrk stopped are recorded too;
            // the store catches up with the event journal within moments.
            let events = settled(&store) - before;
            let theirs = wrk(&format!("http://127.0.0.1:{}", nginx.port), script, secs, conns)?;
            rows.push((name, conns, ours, events, theirs));
        }
    }
    drop(nginx);
    cancel.cancel();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), server).await })
        .map_err(|_| "server did not stop".to_string())?
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;

    println!(
        "{:<15} {:>5} {:>12} {:>9} {:>9} {:>14} {:>7} | {:>10} {:>9} {:>9} | {:>7}",
        "endpoint",
        "conns",
        "winback rps",
        "p50 ms",
        "p99 ms",
        "events",
        "errors",
        "nginx rps",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    for (name, conns, o, events, n) in &rows {
        println!(
            "{name:<15} {conns:>5} {:>12.0} {:>9.2} {:>9.2} {:>14} {:>7} | {:>10.0} {:>9.2} {:>9.2} | {:>6.1}%",
            o.rps,
            o.p50_ms,
            o.p99_ms,
            format!("{events}/{}", o.requests),
            o.errors,
            n.rps,
            n.p50_ms,
            n.p99_ms,
            100.0 * o.rps / n.rps
        );
    }
    println!("events = recorded in the store / requests wrk completed (in-flight ones at the end are recorded too)");
    println!("target: >= 20000 rps, p99 <= 20 ms, every request recorded");
    Ok(())
}
