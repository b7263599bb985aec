//! The dashboard through the real binary and a real headless Chromium:
//! 60 lapsed contacts enter a sequence with `holdout = "20%"` and two
//! variants; some buy, one opens, one is suppressed by hand. Every page
//! answers 200 on the dashboard's own listener (and 404 on the public
//! one), renders in Chromium with its heading, fetches nothing, gives every
//! chart a title and a description, and shows exactly the figures of
//! `winback report --json`. A screenshot of every page is written under
//! the test's output directory (`$CARGO_TARGET_TMPDIR/dashboard`). The
//! daemon then stops cleanly with the browser still connected.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::browser::Browser;
use support::daemon::{Winback, config_with};

const N: usize = 60;

const PAGES: [(&str, &str); 5] = [
    ("/", "Overview"),
    ("/variants", "Variants"),
    ("/activity", "Revenue and reactivations"),
    ("/reputation", "Reputation"),
    ("/hygiene", "Suppressions and DNS"),
];

fn daemon() -> Winback {
    let extra = r#"
[dashboard]
listen = "127.0.0.1:0"
refresh = "0s"
days = 30

[[sequence]]
name = "wb"
grace = "30d"
holdout = "20%"
[[sequence.step]]
after = "0s"
subject = "We miss you"
template = "miss-you"
final = true
[[sequence.step.variant]]
name = "a"
[[sequence.step.variant]]
name = "b"
subject = "Something new for you"
"#;
    let mut wb = Winback::new(&config_with("kind = \"maildir\"\nmaildir = \"{dir}/outbox\"", extra));
    let emails: Vec<String> = (0..N).map(|i| format!("d{i}@example.net")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    wb.import(&refs);
    wb.start();
    wb
}

/// The address a log line `… listening` names.
fn addr_of(wb: &Winback, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = wb.log();
        let found = log.lines().filter(|l| l.contains(what)).find_map(|l| {
            let at = l.find("127.0.0.1:")?;
            let port: String = l[at + 10..].chars().take_while(char::is_ascii_digit).collect();
            (!port.is_empty()).then(|| format!("127.0.0.1:{port}"))
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(Instant::now() < deadline, "no `{what}` in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET `path`; the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string()))
}

/// The report value a `data-k` key names: a dotted path into the JSON,
/// where `*` sums over the array at that place.
fn lookup(v: &Value, path: &[&str]) -> Option<f64> {
    let Some((first, rest)) = path.split_first() else { return v.as_f64() };
    if *first == "*" {
        return Some(v.as_array()?.iter().filter_map(|x| lookup(x, rest)).sum());
    }
    let next = match first.parse::<usize>() {
        Ok(i) => v.get(i)?,
        Err(_) => v.get(*first)?,
    };
    if next.is_null() {
        return None;
    }
    lookup(next, rest)
}

#[test]
fn every_page_renders_the_report_figures_in_chromium() {
    let mut wb = daemon();
    let dash = addr_of(&wb, "dashboard listening");
    let status = wb.wait_for(Duration::from_secs(60), "every contact entered and mailed", |s| {
        let seq = &s["sequences"][0];
        let (grace, control) = (seq["in_grace"].as_i64().unwrap_or(0), seq["control"].as_i64().unwrap_or(0));
        grace + control == N as i64 && s["messages"]["sent"].as_i64() == Some(grace)
    });
    let control = status["sequences"][0]["control"].as_i64().unwrap() as usize;
    assert!(control > 0 && control < N, "{control} of {N} in control");

    // Some mailed and some control contacts buy, one opens, one is suppressed.
    let mailed: Vec<String> = (0..N)
        .map(|i| format!("d{i}@example.net"))
        .filter(|e| {
            let show: Value = serde_json::from_str(&wb.ok(&["contacts", "show", e, "--json"])).unwrap();
            !show["messages"].as_array().unwrap().is_empty()
        })
        .collect();
    let unmailed: Vec<String> = (0..N).map(|i| format!("d{i}@example.net")).filter(|e| !mailed.contains(e)).collect();
    for (i, e) in mailed.iter().take(6).enumerate() {
        wb.ok(&["events", "add", e, "purchase", "--value", &format!("{}.50", 20 + i)]);
    }
    wb.ok(&["events", "add", &unmailed[0], "purchase", "--value", "15"]);
    wb.ok(&["events", "add", &mailed[7], "open"]);
    wb.ok(&["suppress", "add", &mailed[8], "--note", "asked by phone"]);
    let report: Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    assert_eq!(report["sequences"][0]["reactivated"], 7, "{report:#}");
    assert_eq!(report["sequences"][0]["control"]["reactivated"], 1, "{report:#}");

    // Never on the public listener; every page on the dashboard's.
    let public = addr_of(&wb, "http listening");
    let public = if public == dash {
        // Both lines say `http listening`; the public one is the other.
        wb.log()
            .lines()
            .filter(|l| l.contains("http listening"))
            .filter_map(|l| {
                l.find("127.0.0.1:").map(|at| l[at..].chars().take_while(|c| *c != ' ').collect::<String>())
            })
            .map(|a| a.trim_end_matches(|c: char| !c.is_ascii_digit()).to_string())
            .find(|a| *a != dash)
            .expect("the public listener's address")
    } else {
        public
    };
    for (path, _) in PAGES {
        if path != "/" {
            assert_eq!(get(&public, path).0, 404, "{path} must not be on the public listener");
        }
        let (code, body) = get(&dash, path);
        assert_eq!(code, 200, "{path}: {body}");
        assert!(!body.contains("<script"), "{path} carries no script");
    }

    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&out).unwrap();
    let mut b = Browser::launch().expect("headless Chromium");
    let mut compared = 0;
    for (path, name) in PAGES {
        b.navigate(&format!("http://{dash}{path}")).unwrap();
        let h1 = b.eval("document.querySelector('h1') && document.querySelector('h1').innerText").unwrap();
        assert_eq!(h1, name, "{path} renders its heading");
        // Nothing fetched: no image, style sheet or script from anywhere.
        // Chromium's own request for /favicon.ico (made by the browser, not
        // the page) shows up in the page's timings on some loads: not counted.
        let fetched = b
            .eval(
                "performance.getEntriesByType('resource').map(e => e.name) \
                 .filter(n => new URL(n).pathname !== '/favicon.ico').join(' ')",
            )
            .unwrap();
        assert_eq!(fetched, "", "{path} fetched something");
        // Every chart has a title and a description it is labelled by.
        let unlabelled = b
            .eval(
                "Array.from(document.querySelectorAll('svg')).filter(s => s.getAttribute('role') !== 'img' \
                 || !s.querySelector('title') || !s.querySelector('title').textContent \
                 || !s.querySelector('desc') || !s.getAttribute('aria-labelledby')).length",
            )
            .unwrap();
        assert_eq!(unlabelled, 0, "{path}: every chart needs role=img, a title and a description");
        let charts = b.eval("document.querySelectorAll('svg').length").unwrap().as_u64().unwrap();
        if path != "/variants" {
            assert!(charts > 0, "{path} draws charts");
        }
        // The figures shown are the report's.
        let figs = b
            .eval("Array.from(document.querySelectorAll('[data-k]')).map(e => [e.dataset.k, e.dataset.v, e.innerText])")
            .unwrap();
        for f in figs.as_array().unwrap() {
            let (k, v, text) = (f[0].as_str().unwrap(), f[1].as_str().unwrap(), f[2].as_str().unwrap());
            let want = lookup(&report, &k.split('.').collect::<Vec<_>>());
            match want {
                None => assert_eq!(v, "", "{path}: {k} shows {text:?}, the report has none"),
                Some(want) => {
                    let got: f64 = v.parse().unwrap_or_else(|_| panic!("{path}: {k} = {v:?}"));
                    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{path}: {k} = {got}, report {want}");
                    if !text.contains(['.', '%', '–', '+']) {
                        assert_eq!(text, format!("{want}"), "{path}: {k} is written as the count");
                    }
                }
            }
            compared += 1;
        }
        let file = out.join(format!("{}.png", if path == "/" { "overview" } else { &path[1..] }));
        b.screenshot(&file, 1200).unwrap();
        assert!(std::fs::metadata(&file).unwrap().len() > 10_000, "{} is a real screenshot", file.display());
    }
    assert!(compared >= 30, "only {compared} figures compared");

    // Figures the pages show as text match the report too.
    b.navigate(&format!("http://{dash}/variants")).unwrap();
    let text = b.eval("document.body.innerText").unwrap().as_str().unwrap().to_string();
    for v in report["sequences"][0]["steps"][0]["variants"]["variants"].as_array().unwrap() {
        assert!(text.contains(v["name"].as_str().unwrap()), "{text}");
    }
    b.navigate(&format!("http://{dash}/hygiene")).unwrap();
    let text = b.eval("document.body.innerText").unwrap().as_str().unwrap().to_string();
    assert!(text.contains("manual"), "the manual suppression is listed: {text}");
    b.navigate(&format!("http://{dash}/activity")).unwrap();
    let rows = b.eval("document.body.textContent").unwrap().as_str().unwrap().to_string();
    // The daily rollup holds the day's revenue: 20.5 + … + 25.5 mailed and 15 control.
    let total: f64 = (0..6).map(|i| 20.5 + f64::from(i)).sum::<f64>() + 15.0;
    assert!(rows.contains(&format!("{total:.2}")), "revenue per day {total:.2} in:\n{rows}");
    println!("screenshots in {}", out.display());

    // The dashboard listener drains with the rest: a clean stop, even with
    // the browser's connection still open.
    let code = wb.stop_code(Duration::from_secs(30));
    assert_eq!(code, Some(0), "clean stop; log:\n{}", wb.log());
    assert!(wb.log().contains("dashboard listening"));
    drop(b);
}
