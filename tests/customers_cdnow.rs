//! The customer models against the published results on the CDNOW sample
//! (`tests/data/cdnow/README.md`): the BG/NBD of Fader, Hardie & Lee
//! (2005) fitted on the 39-week calibration period and checked on the
//! 39-week holdout, the Gamma–Gamma of Fader & Hardie (2013) on the repeat
//! buyers' order values; then the same through the real binary, with the
//! transactions imported by `winback events import` and fitted by
//! `winback customers model`.

mod support;

use std::collections::BTreeMap;

use support::daemon::Winback;
use support::outbox::config;
use support::smtp_sink::free_port;
use winback::customers::bgnbd::{self, BgNbd, Rft};
use winback::customers::gamma_gamma::{self, GammaGamma, Spend};
use winback::customers::{self, Purchase, Unit};

/// The published BG/NBD estimates and log-likelihood.
const BGNBD: BgNbd = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const BGNBD_LL: f64 = -9582.4;
/// The published Gamma–Gamma estimates.
const GG: GammaGamma = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };

/// One transaction: customer, date (`YYYYMMDD`), value.
struct Transaction {
    id: u32,
    date: String,
    value: f64,
}

fn transactions() -> Vec<Transaction> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cdnow/transactions.csv");
    let text = std::fs::read_to_string(path).expect("CDNOW sample");
    let rows: Vec<Transaction> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "{l}");
            Transaction { id: f[0].parse().expect("id"), date: f[1].to_string(), value: f[2].parse().expect("value") }
        })
        .collect();
    assert_eq!(rows.len(), 6_919);
    rows
}

/// Midnight UTC of a `YYYYMMDD` date.
fn millis(yyyymmdd: &str) -> i64 {
    let d = chrono::NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d").expect("date");
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()
}

fn email(id: u32) -> String {
    format!("c{id}@example.net")
}

fn purchases() -> Vec<Purchase> {
    transactions().iter().map(|t| Purchase { email: email(t.id), at: millis(&t.date), value: Some(t.value) }).collect()
}

/// The end of the calibration period (week 39) and of the holdout (78).
const AS_OF: &str = "19970930";
const UNTIL: &str = "19980630";

/// Relative difference.
fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

#[test]
fn calibration_summary_is_the_papers() {
    let ts = transactions();
    let days: std::collections::BTreeSet<(u32, &str)> = ts.iter().map(|t| (t.id, t.date.as_str())).collect();
    assert_eq!(ts.len() - days.len(), 223, "transactions on a day the customer already bought");
    let hs = customers::histories(&purchases(), millis(AS_OF), Unit::Weeks);
    assert_eq!(hs.len(), 2_357);
    let rft: Vec<Rft> = hs.iter().map(|h| h.rft).collect();
    assert_eq!(rft.iter().filter(|c| c.x > 0.0).count(), 946);
    // Repeat purchases counted by day, as the paper does.
    assert_eq!(rft.iter().map(|c| c.x).sum::<f64>(), 2_457.0);
    // The paper's example customer (ID 1): x 2, tₓ 30.43, T 38.86.
    let one = &hs.iter().find(|h| h.email == email(1)).expect("customer 1").rft;
    assert_eq!(one.x, 2.0);
    assert!((one.t_x - 30.43).abs() < 0.005 && (one.t - 38.86).abs() < 0.005, "{one:?}");
}

#[test]
fn bgnbd_reaches_the_published_estimates() {
    let hs = customers::histories(&purchases(), millis(AS_OF), Unit::Weeks);
    let rft: Vec<Rft> = hs.iter().map(|h| h.rft).collect();
    let fit = bgnbd::fit(&rft, customers::MIN_REPEAT_BUYERS).expect("a fit");
    let p = fit.params;
    println!("BG/NBD: r {:.4} alpha {:.4} a {:.4} b {:.4} LL {:.3}", p.r, p.alpha, p.a, p.b, fit.log_likelihood);
    // The published figures have three decimals: each within 1%, the
    // log-likelihood within 0.5.
    for (name, got, want) in
        [("r", p.r, BGNBD.r), ("alpha", p.alpha, BGNBD.alpha), ("a", p.a, BGNBD.a), ("b", p.b, BGNBD.b)]
    {
        assert!(rel(got, want) < 0.01, "{name}: {got} vs published {want}");
    }
    assert!((fit.log_likelihood - BGNBD_LL).abs() < 0.5, "log-likelihood {}", fit.log_likelihood);
    // And it is the maximum: no lower than at the published (rounded) values.
    let at_published: f64 = rft.iter().map(|c| BGNBD.log_likelihood(c)).sum();
    assert!(fit.log_likelihood >= at_published - 1e-6, "{} < {at_published}", fit.log_likelihood);
}

#[test]
fn holdout_predictions_against_actual_purchases() {
    let r = customers::model(&purchases(), millis(AS_OF), millis(UNTIL), Unit::Weeks, 52.0, 0.1);
    let h = r.holdout.expect("a holdout");
    assert!((h.length - 39.0).abs() < 1e-9, "{}", h.length);
    println!("holdout (weeks 40-78): predicted {:.1}, actual {}", h.predicted, h.actual);
    for g in &h.by_frequency {
        println!(
            "  x={:<3} {:>5} customers  predicted {:.3}  actual {:.3}",
            g.frequency, g.customers, g.predicted, g.actual
        );
    }
    // Actual: purchase days after week 39, counted from the data.
    assert_eq!(h.actual, 1_882);
    // Predicted: the sum of the conditional expectations (equation 10)
    // over the 2,357 customers, 1,653.4 at the fitted parameters by an
    // independent evaluation of the series (1,653.9 at the published
    // ones); the model under-predicts this holdout by about 12%.
    assert!(rel(h.predicted, 1_653.4) < 0.005, "predicted {}", h.predicted);
    // By calibration repeat purchases: customers, actual total, predicted
    // mean (the same independent evaluation).
    let want: [(&str, usize, u64, f64); 8] = [
        ("0", 1_411, 334, 0.2251),
        ("1", 439, 306, 0.5231),
        ("2", 214, 298, 1.0441),
        ("3", 100, 156, 1.5203),
        ("4", 62, 157, 2.1639),
        ("5", 38, 112, 2.6538),
        ("6", 29, 112, 3.5040),
        ("7+", 64, 407, 6.1572),
    ];
    assert_eq!(h.by_frequency.len(), want.len());
    for (g, (x, n, actual, predicted)) in h.by_frequency.iter().zip(want) {
        assert_eq!((g.frequency.as_str(), g.customers), (x, n));
        assert!((g.actual * n as f64 - actual as f64).abs() < 1e-6, "x={x}: {}", g.actual);
        assert!(rel(g.predicted, predicted) < 0.01, "x={x}: predicted {}", g.predicted);
    }
}

/// The Gamma–Gamma data as the paper defines it: for each customer with a
/// repeat purchase in calibration, x repeat purchase days and the mean of
/// their values (each day's transactions summed, the first day left out).
fn repeat_spend(ts: &[Transaction]) -> Vec<Spend> {
    let mut days: BTreeMap<u32, BTreeMap<&str, f64>> = BTreeMap::new();
    for t in ts.iter().filter(|t| t.date.as_str() <= AS_OF) {
        *days.entry(t.id).or_default().entry(t.date.as_str()).or_default() += t.value;
    }
    days.values()
        .filter(|d| d.len() > 1)
        .map(|d| {
            let repeat: Vec<f64> = d.values().skip(1).copied().collect();
            Spend { n: repeat.len() as f64, mean: repeat.iter().sum::<f64>() / repeat.len() as f64 }
        })
        .collect()
}

#[test]
fn gamma_gamma_reaches_the_published_estimates() {
    let spends = repeat_spend(&transactions());
    assert_eq!(spends.len(), 946);
    // The paper's customer 1: two repeat days, 29.73 and 14.96.
    assert!((spends[0].mean - 22.345).abs() < 1e-9 && spends[0].n == 2.0, "{:?}", spends[0]);
    let fit = gamma_gamma::fit_spends(&spends, customers::MIN_SPENDERS).expect("a fit");
    let p = fit.params;
    println!("Gamma-Gamma: p {:.4} q {:.4} gamma {:.4} LL {:.3}", p.p, p.q, p.gamma, fit.log_likelihood);
    assert_eq!((fit.customers, fit.pooled_mean), (946, None));
    // Published with two decimals: each within 1%.
    for (name, got, want) in [("p", p.p, GG.p), ("q", p.q, GG.q), ("gamma", p.gamma, GG.gamma)] {
        assert!(rel(got, want) < 0.01, "{name}: {got} vs published {want}");
    }
    let at_published: f64 = spends.iter().map(|s| GG.log_likelihood(s)).sum();
    assert!(fit.log_likelihood >= at_published - 1e-6, "{} < {at_published}", fit.log_likelihood);
}

#[test]
fn the_binary_fits_the_published_estimates_on_the_imported_log() {
    let wb = Winback::new(&config(free_port()));
    let mut csv = String::from("email,kind,at,value\n");
    for t in transactions() {
        let d = &t.date;
        csv += &format!("{},purchase,{}-{}-{},{:.2}\n", email(t.id), &d[..4], &d[4..6], &d[6..], t.value);
    }
    std::fs::write(wb.path("cdnow.csv"), csv).expect("write the import");
    wb.ok(&["events", "import", "cdnow.csv", "--create"]);
    let args = ["customers", "model", "--as-of", "1997-09-30", "--until", "1998-06-30", "--unit", "weeks"];
    let out = wb.ok(&[&args[..], &["--json"]].concat());
    let r: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((r["buyers"].as_u64(), r["repeat_buyers"].as_u64()), (Some(2_357), Some(946)), "{r:#}");
    let bg = &r["bgnbd"];
    for (name, want) in [("r", BGNBD.r), ("alpha", BGNBD.alpha), ("a", BGNBD.a), ("b", BGNBD.b)] {
        let got = bg["params"][name].as_f64().expect(name);
        assert!(rel(got, want) < 0.01, "{name}: {got} vs published {want}");
    }
    let ll = bg["log_likelihood"].as_f64().expect("log-likelihood");
    assert!((ll - BGNBD_LL).abs() < 0.5, "log-likelihood {ll}");
    let h = &r["holdout"];
    assert_eq!(h["actual"], 1_882, "{h:#}");
    assert!((h["length"].as_f64().expect("length") - 39.0).abs() < 1e-9, "{h:#}");
    assert!(rel(h["predicted"].as_f64().expect("predicted"), 1_653.4) < 0.005, "{h:#}");
    // Gamma–Gamma on the repeat purchase days, as the paper defines the
    // spend: the published estimates.
    let gg = &r["gamma_gamma"];
    assert!(gg["pooled_mean"].is_null(), "{gg:#}");
    assert_eq!(gg["customers"], 946, "{gg:#}");
    for (name, want) in [("p", GG.p), ("q", GG.q), ("gamma", GG.gamma)] {
        let got = gg["params"][name].as_f64().expect(name);
        assert!(rel(got, want) < 0.01, "{name}: {got} vs published {want}");
    }
    // The refresh's spend comes from each contact's purchase summary,
    // kept order by order; the model's from the events. On the whole log
    // they are the same data, so the same fit.
    let refreshed: serde_json::Value =
        serde_json::from_str(&wb.ok(&["customers", "refresh", "--json"])).expect("refresh JSON");
    let whole: serde_json::Value = serde_json::from_str(&wb.ok(&["customers", "model", "--json"])).expect("model JSON");
    assert_eq!(refreshed["gamma_gamma"]["customers"], whole["gamma_gamma"]["customers"], "{refreshed:#}");
    for name in ["p", "q", "gamma"] {
        let (a, b) = (&refreshed["gamma_gamma"]["params"][name], &whole["gamma_gamma"]["params"][name]);
        assert!(rel(a.as_f64().expect(name), b.as_f64().expect(name)) < 1e-9, "{name}: {a} vs {b}");
    }
    let text = wb.ok(&args);
    println!("{text}");
    assert!(text.contains("BG/NBD: r 0.24") && text.contains("predicted 1653"), "{text}");
    let before = wb.cli(&["customers", "model", "--as-of", "1997-09-30", "--until", "1997-06-30"]);
    assert!(!before.status.success(), "--until before --as-of is refused");
    assert!(String::from_utf8_lossy(&before.stderr).contains("--until must not be before --as-of"), "{before:?}");
}
