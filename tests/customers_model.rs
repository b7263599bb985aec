//! `winback customers model` through the real binary on an order history
//! imported with `winback events import`: 60 buyers with weekly, monthly
//! and quarterly rhythms over two years. Fitted on the first year, the
//! model's predicted purchases for the second year are compared with the
//! purchases that were actually imported; with too few buyers it says so
//! and fits nothing; with order values that do not differ between
//! customers it says so and values everyone at the population mean.

mod support;

use support::daemon::Winback;
use support::outbox::config;
use support::smtp_sink::free_port;

const DAY: i64 = 86_400_000;

#[test]
fn the_model_is_fitted_and_checked_against_the_holdout_year() {
    let wb = Winback::new(&config(free_port()));
    // Starting two years ago, so every date is in the past.
    let start = chrono::Utc::now().timestamp_millis() / DAY * DAY - 730 * DAY;
    let (mut csv, mut after_as_of) = (String::from("email,kind,at,value\n"), 0);
    let as_of = start + 365 * DAY;
    for i in 0..60i64 {
        // Every third buyer stops after a while: gaps of 7, 30 or 90 days.
        let gap = [7, 30, 90][(i % 3) as usize];
        let stop = if i % 4 == 0 { start + (100 + i * 3) * DAY } else { start + 730 * DAY };
        let mut t = start + (i % 20) * DAY;
        while t < stop {
            csv += &format!(
                "c{i}@example.net,purchase,{},{}.50\n",
                chrono::DateTime::from_timestamp_millis(t).unwrap().format("%Y-%m-%d"),
                20 + i % 7
            );
            if t > as_of {
                after_as_of += 1;
            }
            t += (gap + (i % 5)) * DAY;
        }
    }
    std::fs::write(wb.path("orders.csv"), csv).unwrap();
    wb.ok(&["events", "import", "orders.csv", "--create"]);
    let date = chrono::DateTime::from_timestamp_millis(as_of).unwrap().format("%Y-%m-%d").to_string();
    let out = wb.ok(&["customers", "model", "--as-of", &date, "--json"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["buyers"], 60, "{r:#}");
    let bg = &r["bgnbd"]["params"];
    for p in ["r", "alpha", "a", "b"] {
        assert!(bg[p].as_f64().is_some_and(|v| v > 0.0 && v.is_finite()), "{p}: {r:#}");
    }
    assert!(r["gamma_gamma"]["params"]["p"].as_f64().is_some(), "{r:#}");
    assert!(r["mean_clv"].as_f64().is_some_and(|v| v > 0.0), "{r:#}");
    let h = &r["holdout"];
    assert_eq!(h["actual"], after_as_of, "actual purchases after the calibration date: {h:#}");
    let predicted = h["predicted"].as_f64().unwrap();
    println!("holdout: predicted {predicted:.1}, actual {after_as_of}");
    assert!(predicted > 0.0);
    let text = wb.ok(&["customers", "model", "--as-of", &date]);
    assert!(text.contains("BG/NBD: r ") && text.contains("holdout ("), "{text}");

    // A shop with five buyers: nothing is fitted, and it says why.
    let small = Winback::new(&config(free_port()));
    std::fs::write(
        small.path("orders.csv"),
        "email,kind,at\na@example.net,purchase,2025-01-01\na@example.net,purchase,2025-02-01\n",
    )
    .unwrap();
    small.ok(&["events", "import", "orders.csv", "--create"]);
    let r: serde_json::Value = serde_json::from_str(&small.ok(&["customers", "model", "--json"])).unwrap();
    assert!(r["bgnbd"].is_null() && r["mean_clv"].is_null(), "{r:#}");
    assert!(r["notes"][0].as_str().unwrap().contains("BG/NBD not fitted"), "{r:#}");
}

#[test]
fn order_values_without_spread_between_customers_are_reported_as_such() {
    let wb = Winback::new(&config(free_port()));
    let start = chrono::Utc::now().timestamp_millis() / DAY * DAY - 400 * DAY;
    // 300 buyers, 2 to 13 orders each, every value 5 to 100 whoever buys
    // (a fixed pseudo-random sequence), as in benches/customers.rs.
    let (mut csv, mut seed, mut orders, mut total) = (String::from("email,kind,at,value\n"), 7u64, 0u64, 0i64);
    let mut next = |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    for i in 0..300 {
        let n = 2 + next(12);
        let mut t = start + next(60) as i64 * DAY;
        for k in 0..n {
            let value = 5 + next(96) as i64;
            let day = chrono::DateTime::from_timestamp_millis(t).unwrap().format("%Y-%m-%d");
            csv += &format!("s{i}@example.net,purchase,{day},{value}\n");
            // The model takes the repeat purchase days (one order a day
            // here): every order but each buyer's first.
            if k > 0 {
                (orders, total) = (orders + 1, total + value);
            }
            t += (1 + next(25) as i64) * DAY;
        }
    }
    std::fs::write(wb.path("orders.csv"), csv).unwrap();
    wb.ok(&["events", "import", "orders.csv", "--create"]);
    let r: serde_json::Value = serde_json::from_str(&wb.ok(&["customers", "model", "--json"])).unwrap();
    let pooled = r["gamma_gamma"]["pooled_mean"].as_f64().unwrap_or_else(|| panic!("no spread detected: {r:#}"));
    // The mean of every repeat order (all buyers have two or more orders).
    assert!((pooled - total as f64 / orders as f64).abs() < 1e-6, "{pooled} vs {total}/{orders}");
    let notes: Vec<&str> = r["notes"].as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("no spread in average order value")), "{r:#}");
    let text = wb.ok(&["customers", "model"]);
    assert!(
        text.contains(&format!("Gamma-Gamma: no spread between customers; population mean order value {pooled:.2}")),
        "{text}"
    );
    assert!(text.contains("expected order value is the population mean"), "{text}");
}
