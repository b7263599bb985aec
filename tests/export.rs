//! Exports for BI tools through the real binary: `winback export events`
//! as CSV and JSON Lines, on the store while no daemon runs and through
//! the admin socket while one does (same rows either way), over more
//! events than one page; `--since` filters; awkward references survive
//! CSV quoting; `winback report --csv` has a row per sequence, control
//! group and step that agrees with `report --json`.

mod support;

use serde_json::Value;
use support::daemon::{Winback, maildir_config};

/// More than two pages of the export.
const N: usize = 2_345;
const AWKWARD: &str = "order \"7\", line 1; =SUM(A1)";

fn rows(csv_text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().expect("header").iter().map(String::from).collect();
    let rows = r.records().map(|rec| rec.expect("a CSV record").iter().map(String::from).collect()).collect();
    (header, rows)
}

#[test]
fn events_stream_out_as_csv_and_jsonl_with_or_without_the_daemon() {
    let cfg = maildir_config("", "").replace("name = \"wb\"\n", "name = \"wb\"\nholdout = \"30%\"\n");
    let mut wb = Winback::new(&cfg);
    let emails = ["ann@example.net", "bob@example.net", "cy@example.net"];
    wb.import(&emails);
    let mut input = String::from("email,kind,at,value,ref\n");
    for i in 0..N {
        // One event a minute from 2026-01-01T00:00Z; every tenth a purchase.
        let (kind, value, reference) = if i % 10 == 0 { ("purchase", "9.5", AWKWARD) } else { ("visit", "", "") };
        let at = 1_767_225_600 + 60 * i as i64;
        let at = chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339();
        let reference = format!("\"{}\"", reference.replace('"', "\"\""));
        input += &format!("{},{kind},{at},{value},{reference}\n", emails[i % 3]);
    }
    std::fs::write(wb.path("events.csv"), input).unwrap();
    let out = wb.ok(&["events", "import", "events.csv"]);
    assert!(out.contains(&format!("{N} event(s): {N} recorded")), "{out}");

    // No daemon: the export reads the store.
    let offline = wb.ok(&["export", "events"]);
    let (header, all) = rows(&offline);
    assert_eq!(header, ["id", "at", "email", "kind", "origin", "value", "ref", "message"]);
    let imported: Vec<&Vec<String>> = all.iter().filter(|r| r[3] == "visit" || r[3] == "purchase").collect();
    assert_eq!(imported.len(), N, "every event once");
    let ids: Vec<u64> = all.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "recording order, no repeats");
    let purchases: Vec<&&Vec<String>> = imported.iter().filter(|r| r[3] == "purchase").collect();
    assert_eq!(purchases.len(), N.div_ceil(10));
    assert!(purchases.iter().all(|r| r[5] == "9.5" && r[6] == AWKWARD), "{:?}", purchases[0]);
    assert_eq!((imported[0][1].as_str(), imported[0][2].as_str()), ("2026-01-01T00:00:00Z", "ann@example.net"));
    assert!(offline.contains("\"order \"\"7\"\", line 1; =SUM(A1)\""), "quoted, quotes doubled");

    // --since: the last 100 minutes only.
    let since = chrono::DateTime::from_timestamp(1_767_225_600 + 60 * (N as i64 - 100), 0).unwrap().to_rfc3339();
    let (_, recent) = rows(&wb.ok(&["export", "events", "--since", &since]));
    assert_eq!(recent.iter().filter(|r| r[3] == "visit" || r[3] == "purchase").count(), 100);
    let bad = wb.cli(&["export", "events", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since `last tuesday`"));

    let jsonl = wb.ok(&["export", "events", "--format", "jsonl"]);
    let objects: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect();
    assert_eq!(objects.len(), all.len());
    assert_eq!(objects[0]["id"].as_u64(), Some(ids[0]));
    let first_purchase = objects.iter().find(|o| o["kind"] == "purchase").unwrap();
    assert_eq!((first_purchase["value"].as_f64(), first_purchase["ref"].as_str()), (Some(9.5), Some(AWKWARD)));

    // With the daemon running (it holds the store), through the socket.
    wb.start();
    let online = wb.ok(&["export", "events"]);
    let (_, through_daemon) = rows(&online);
    assert!(through_daemon.len() >= all.len());
    assert_eq!(&through_daemon[..all.len()], &all[..], "the same rows either way");

    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());

    // The report as CSV agrees with the JSON one (at rest, so both see the same store).
    let report: Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let (header, table) = rows(&wb.ok(&["report", "--csv"]));
    assert_eq!(&header[..3], ["sequence", "group", "step"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let s = &report["sequences"][0];
    let mailed = table.iter().find(|r| r[1] == "mailed").expect("a mailed row");
    assert_eq!(mailed[col("entered")], s["entered"].to_string());
    assert_eq!(mailed[col("reactivated")], s["reactivated"].to_string());
    let step = table.iter().find(|r| r[1] == "step" && r[2] == "1").expect("a step row");
    assert_eq!(step[col("sent")], s["steps"][0]["sent"].to_string());
    if s["control"]["entered"].as_u64() > Some(0) {
        let control = table.iter().find(|r| r[1] == "control").expect("a control row");
        assert_eq!(control[col("entered")], s["control"]["entered"].to_string());
    }
    assert!(wb.cli(&["report", "--csv", "--json"]).status.code() != Some(0), "one format at a time");
}
