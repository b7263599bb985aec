//! The customer model through the real binary, on order histories
//! imported with `winback events import`:
//! - in `cadence` mode, weekly, monthly and yearly buyers silent for the
//!   same 120 days: the weekly and monthly ones lapse and are mailed, the
//!   yearly ones wait;
//! - two `[[segment]]`s taken by two sequences with their own templates,
//!   which see the segment, the scores, CLV, the last order date and the
//!   days since; `winback customers refresh`, `winback customers --json`
//!   and `contacts show` agree with figures computed here from the orders.

mod support;

use std::time::Duration;

use support::daemon::{ONE_MESSAGE, Winback, config_with};
use support::outbox::{header, sent};

const DAY: i64 = 86_400_000;

fn today() -> i64 {
    chrono::Utc::now().timestamp_millis() / DAY * DAY
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t).unwrap().format("%Y-%m-%d").to_string()
}

fn maildir(extra: &str) -> String {
    config_with("kind = \"maildir\"\nmaildir = \"{dir}/outbox\"", extra)
}

fn show(wb: &Winback, email: &str) -> serde_json::Value {
    serde_json::from_str(&wb.ok(&["contacts", "show", email, "--json"])).unwrap()
}

#[test]
fn cadence_lapses_weekly_and_monthly_buyers_but_not_yearly_ones() {
    let lapse = "[lapse]\nmode = \"cadence\"\nfactor = 3\nmin = \"3d\"\nmax = \"400d\"\ninactive_after = \"90d\"\n";
    let mut wb = Winback::new(&maildir(&format!("{lapse}{ONE_MESSAGE}")));
    let last = today() - 120 * DAY;
    let mut csv = String::from("email,kind,at,value\n");
    for (who, gap, orders) in [("weekly", 7, 40), ("monthly", 30, 20), ("yearly", 365, 4)] {
        for i in 0..3 {
            for k in 0..orders {
                csv += &format!("{who}{i}@example.net,purchase,{},10\n", date(last - k * gap * DAY));
            }
        }
    }
    std::fs::write(wb.path("orders.csv"), csv).unwrap();
    wb.ok(&["events", "import", "orders.csv", "--create"]);

    // The summary is the history's: 4 yearly orders, 3 gaps of 365 days.
    let y = show(&wb, "yearly0@example.net");
    let p = &y["contact"]["customer"]["purchases"];
    assert_eq!((p["orders"].as_i64(), p["days"].as_i64()), (Some(4), Some(4)), "{y:#}");
    assert_eq!(p["first"].as_i64(), Some(last - 3 * 365 * DAY));
    assert_eq!(p["last"].as_i64(), Some(last));
    assert_eq!(p["total"].as_f64(), Some(40.0));

    wb.start();
    let mails = sent(&wb, 6);
    let mut to: Vec<String> = mails.iter().map(|(r, _)| r.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        ["monthly0", "monthly1", "monthly2", "weekly0", "weekly1", "weekly2"].map(|w| format!("{w}@example.net"))
    );
    // The yearly buyers are not lapsed: 3 typical gaps is over the 400-day
    // bound, so they wait until 400 days after their last order.
    for i in 0..3 {
        let y = show(&wb, &format!("yearly{i}@example.net"));
        assert_eq!(y["contact"]["state"]["state"], "idle", "{y:#}");
        assert_eq!(y["contact"]["due_at"].as_i64(), Some(last + 400 * DAY), "{y:#}");
    }
    let o: serde_json::Value = serde_json::from_str(&wb.ok(&["customers", "--json"])).unwrap();
    assert_eq!(o["buyers"]["customers"], 9, "{o:#}");
    assert_eq!(o["buyers"]["revenue"].as_f64(), Some(10.0 * 3.0 * (40.0 + 20.0 + 4.0)), "{o:#}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}

const TWO_SEQUENCES: &str = r#"
[lapse]
inactive_after = "30d"
[customers]
unit = "weeks"
[[segment]]
name = "big"
when = "average_order >= 20"
[[segment]]
name = "small"
when = "average_order < 20 and orders >= 1"

[[sequence]]
name = "vip"
segments = ["big"]
grace = "1h"
[[sequence.step]]
after = "0s"
subject = "For our best customers"
template = "vip"
final = true

[[sequence]]
name = "std"
segments = ["small"]
grace = "1h"
[[sequence.step]]
after = "0s"
subject = "A little something"
template = "std"
final = true
"#;

/// P(alive) of the BG/NBD (Fader, Hardie & Lee 2005, eq. 13), written out.
fn p_alive(p: &serde_json::Value, x: f64, t_x: f64, t: f64) -> f64 {
    let f = |k: &str| p[k].as_f64().unwrap();
    let (r, alpha, a, b) = (f("r"), f("alpha"), f("a"), f("b"));
    1.0 / (1.0 + a / (b + x - 1.0) * ((alpha + t) / (alpha + t_x)).powf(r + x))
}

/// A small deterministic generator (xorshift64*), uniform in (0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// One buyer's orders: (day, value), oldest first.
struct Buyer {
    orders: Vec<(i64, i64)>,
}

impl Buyer {
    fn last(&self) -> i64 {
        self.orders.last().unwrap().0
    }
    fn total(&self) -> i64 {
        self.orders.iter().map(|o| o.1).sum()
    }
}

/// 60 buyers with random rhythms (mean gaps 5 to 65 days), 2 to 9 orders,
/// silent for 40 to 240 days; the first 30 spend about 40 an order, the
/// others about 5.
fn buyers(now: i64) -> Vec<Buyer> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..60)
        .map(|i| {
            let mean_gap = 5.0 + 60.0 * rng.next();
            let n = 2 + (8.0 * rng.next()) as usize;
            let mut day = now - (40 + (200.0 * rng.next()) as i64) * DAY;
            let base = if i < 30 { 40.0 } else { 5.0 };
            let mut orders = Vec::new();
            for _ in 0..n {
                orders.push((day, (base * (0.6 + 0.8 * rng.next())).round() as i64));
                day -= (1.0 - mean_gap * rng.next().ln()).round() as i64 * DAY;
            }
            orders.reverse();
            Buyer { orders }
        })
        .collect()
}

/// The quintile score of `v` among `all`: 1 + ⌊5 · share strictly below⌋.
fn quintile(all: &[i64], v: i64) -> i64 {
    1 + 5 * all.iter().filter(|x| **x < v).count() as i64 / all.len() as i64
}

#[test]
fn two_segments_get_two_sequences_with_their_own_templates() {
    let mut wb = Winback::new(&maildir(TWO_SEQUENCES));
    let body = "{{ segment }}|{{ rfm_segment }}|r{{ r }}f{{ f }}m{{ m }}|clv {{ clv }}|p {{ p_alive }}|orders {{ orders }}|last {{ last_order_date }}|days {{ days_since_order }}\n";
    for (name, tag) in [("vip", "VIP"), ("std", "STD")] {
        let dir = wb.path("config/templates");
        std::fs::write(dir.join(format!("{name}.txt")), format!("{tag} {body}")).unwrap();
        std::fs::write(dir.join(format!("{name}.html")), format!("<p>{tag} {body}</p>")).unwrap();
    }
    let now = today();
    let buyers = buyers(now);
    let mut csv = String::from("email,kind,at,value\n");
    for (i, b) in buyers.iter().enumerate() {
        for (day, value) in &b.orders {
            csv += &format!("c{i}@example.net,purchase,{},{value}\n", date(*day));
        }
    }
    std::fs::write(wb.path("orders.csv"), csv).unwrap();
    wb.ok(&["events", "import", "orders.csv", "--create"]);

    // Scores before the daemon starts, so every message sees them.
    let r: serde_json::Value = serde_json::from_str(&wb.ok(&["customers", "refresh", "--json"])).unwrap();
    assert_eq!((r["contacts"].as_i64(), r["buyers"].as_i64()), (Some(60), Some(60)), "{r:#}");
    let params = &r["bgnbd"]["params"];
    assert!(params["r"].as_f64().is_some() && r["gamma_gamma"]["params"]["p"].as_f64().is_some(), "{r:#}");

    // P(alive) computed here from the fitted parameters, in weeks.
    let week = 7.0 * DAY as f64;
    for (i, b) in buyers.iter().enumerate() {
        let c = show(&wb, &format!("c{i}@example.net"));
        let s = &c["contact"]["customer"]["scores"];
        let (first, last) = (b.orders[0].0, b.last());
        let x = (b.orders.len() - 1) as f64;
        let t = (r["at"].as_i64().unwrap() - first) as f64 / week;
        let expected = p_alive(params, x, (last - first) as f64 / week, t);
        assert!((s["p_alive"].as_f64().unwrap() - expected).abs() < 1e-9, "c{i}: {s:#} vs {expected}");
        assert!(s["clv"].as_f64().is_some_and(|v| v > 0.0 && v < 1e5), "c{i}: {s:#}");
    }
    let status = wb.status();
    assert_eq!(status["customers"]["buyers"]["customers"], 60, "status shows the last refresh: {status:#}");
    let text = wb.ok(&["contacts", "show", "c3@example.net"]);
    assert!(text.contains("P(alive):") && text.contains("typical gap:"), "{text}");

    wb.start();
    // Bodies are quoted-printable: soft line breaks joined.
    let mails: Vec<(String, String)> =
        sent(&wb, 60).into_iter().map(|(r, m)| (r, m.replace("=\n", "").replace("=3D", "="))).collect();
    let lasts: Vec<i64> = buyers.iter().map(Buyer::last).collect();
    let counts: Vec<i64> = buyers.iter().map(|b| b.orders.len() as i64).collect();
    let totals: Vec<i64> = buyers.iter().map(Buyer::total).collect();
    for (i, b) in buyers.iter().enumerate() {
        let rcpt = format!("c{i}@example.net");
        let msg = &mails.iter().find(|(r, _)| *r == rcpt).unwrap_or_else(|| panic!("nothing to {rcpt}")).1;
        if i < 30 {
            assert_eq!(header(msg, "Subject"), "For our best customers");
            assert!(msg.contains("VIP big|"), "{msg}");
        } else {
            assert_eq!(header(msg, "Subject"), "A little something");
            assert!(msg.contains("STD small|"), "{msg}");
        }
        let (r, f, m) = (quintile(&lasts, b.last()), quintile(&counts, counts[i]), quintile(&totals, totals[i]));
        assert!(msg.contains(&format!("|r{r}f{f}m{m}|")), "scores r{r}f{f}m{m}: {msg}");
        let days = (today() - b.last()) / DAY;
        let tail = format!("|orders {}|last {}|days {days}", b.orders.len(), date(b.last()));
        assert!(msg.contains(&tail), "{tail}: {msg}");
        assert!(!msg.contains("|clv |"), "CLV known: {msg}");
    }
    let o: serde_json::Value = serde_json::from_str(&wb.ok(&["customers", "--json"])).unwrap();
    let seg = |name: &str| o["segments"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    assert_eq!(seg("big")["customers"], 30, "{o:#}");
    assert_eq!(seg("small")["customers"], 30, "{o:#}");
    let revenue: i64 = totals[..30].iter().sum();
    assert_eq!(seg("big")["revenue"].as_f64(), Some(revenue as f64), "{o:#}");
    assert!(seg("big")["average_clv"].as_f64().unwrap() > seg("small")["average_clv"].as_f64().unwrap());
    let rfm_total: i64 = o["rfm"].as_array().unwrap().iter().map(|s| s["customers"].as_i64().unwrap()).sum();
    assert_eq!(rfm_total, 60, "every buyer has a named RFM segment: {o:#}");
    let status = wb.wait_for(Duration::from_secs(20), "60 in their sequences", |s| {
        s["sequences"]
            .as_array()
            .is_some_and(|q| q.iter().map(|x| x["in_grace"].as_i64().unwrap_or(0)).sum::<i64>() == 60)
    });
    assert_eq!(status["idle"], 0, "{status:#}");

    // Purchases bring c0, c1 (big) and c40 (small) back: the report
    // shows their predicted CLV and revenue under their segments.
    let clv =
        |i: usize| show(&wb, &format!("c{i}@example.net"))["contact"]["customer"]["scores"]["clv"].as_f64().unwrap();
    for (i, value) in [(0, "25"), (1, "10"), (40, "7")] {
        let out = wb.ok(&["events", "add", &format!("c{i}@example.net"), "purchase", "--value", value]);
        assert!(out.contains("reactivated"), "{out}");
    }
    let report: serde_json::Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let seq = |name: &str| report["sequences"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let (vip, std) = (seq("vip")["customers"].clone(), seq("std")["customers"].clone());
    assert_eq!(vip["clv_known"], 2, "{vip:#}");
    assert!((vip["clv_total"].as_f64().unwrap() - (clv(0) + clv(1))).abs() < 1e-6, "{vip:#}");
    assert_eq!(
        vip["segments"],
        serde_json::json!([{"segment": "big", "reactivated": 2, "revenue": 35.0, "clv_total": vip["clv_total"]}])
    );
    assert_eq!(std["segments"][0]["segment"], "small", "{std:#}");
    assert_eq!(
        (std["segments"][0]["reactivated"].as_i64(), std["segments"][0]["revenue"].as_f64()),
        (Some(1), Some(7.0))
    );
    let text = wb.ok(&["report"]);
    assert!(text.contains("segment big") && text.contains("predicted CLV"), "{text}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
