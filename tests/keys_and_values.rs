//! The real binary: token keys rotated and listed offline and through the
//! running daemon, key files readable by others refused at start, event
//! values bounded in `winback events`, and `status`/`report` usable over a
//! store holding huge values written before values were checked.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::daemon::{ONE_MESSAGE, Winback, smtp_config};
use winback::domain::{Event, Origin};
use winback::store::{Reactivation, Store};

fn config() -> String {
    // Port 9 (discard): nothing is ever due to be sent here.
    smtp_config(9, "10/s", ONE_MESSAGE)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn key_ids(wb: &Winback) -> Vec<(u64, bool)> {
    let list: serde_json::Value = serde_json::from_str(&wb.ok(&["keys", "list", "--json"])).expect("keys JSON");
    list.as_array()
        .expect("array")
        .iter()
        .map(|k| (k["id"].as_u64().expect("id"), k["signing"].as_bool().expect("signing")))
        .collect()
}

#[test]
fn keys_rotate_offline_and_through_the_daemon() {
    let mut wb = Winback::new(&config());
    assert_eq!(key_ids(&wb), [(0, true)], "key 0 is made on first use");
    let out = wb.ok(&["keys", "rotate"]);
    assert!(out.contains("key 1 now signs"), "{out}");
    wb.start();
    let out = wb.ok(&["keys", "rotate"]);
    assert!(out.contains("key 2 now signs"), "{out}");
    let text = wb.ok(&["keys", "list"]);
    assert_eq!(text.matches("verifying").count(), 2, "{text}");
    assert!(wb.log().contains("token signing key rotated"), "the daemon rotated its own keys");
    assert!(wb.stop());
    assert_eq!(key_ids(&wb), [(0, false), (1, false), (2, true)], "the rotation is on disk");
}

#[test]
fn a_secret_file_others_may_read_is_refused_at_start() {
    let mut wb = Winback::new(&config());
    wb.ok(&["keys", "list"]);
    let secret = wb.path("var/secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = wb.cli(&["serve"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("chmod 600 {}", secret.display())), "{err}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    wb.start();
    assert!(wb.stop());
}

#[test]
fn huge_values_are_refused_by_the_cli_naming_the_field() {
    let wb = Winback::new(&config());
    wb.import(&["ann@example.com"]);
    for v in ["1e308", "inf", "NaN", "1000000001"] {
        let out = wb.cli(&["events", "add", "ann@example.com", "purchase", "--value", v]);
        assert_eq!(out.status.code(), Some(65), "{v}: {}", stderr(&out));
        assert!(stderr(&out).contains("--value"), "{v}: {}", stderr(&out));
    }
    std::fs::write(
        wb.path("events.csv"),
        "email,kind,value\nann@example.com,purchase,10\nann@example.com,purchase,1e308\n",
    )
    .unwrap();
    let out = wb.cli(&["events", "import", "events.csv"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("line 3, column 3 (`value`)"), "{}", stderr(&out));
    wb.ok(&["events", "add", "ann@example.com", "purchase", "--value", "49.90"]);
    let events = Store::open(&wb.path("var")).expect("store").read().expect("read").events_of("ann@example.com");
    let values: Vec<Option<f64>> = events.expect("events").iter().map(|e| e.value).collect();
    assert_eq!(values, [Some(49.9)], "only the good event");
}

#[test]
fn status_and_report_work_over_stored_huge_values() {
    let mut wb = Winback::new(&config());
    wb.ok(&["keys", "list"]);
    {
        let store = Store::open(&wb.path("var")).expect("store");
        store
            .write(|w| {
                let at = 1_700_000_000_000;
                w.add_reactivation(&Reactivation {
                    email: "big@example.com".into(),
                    sequence: "wb".into(),
                    after_step: 1,
                    at,
                    control: false,
                })?;
                for v in [1e308, 1e308, f64::INFINITY, f64::NAN] {
                    w.add_event(&Event {
                        email: "big@example.com".into(),
                        kind: "purchase".into(),
                        at: at + 1,
                        origin: Origin::Human,
                        value: Some(v),
                        reference: None,
                        message: None,
                    })?;
                }
                Ok(())
            })
            .expect("write old values");
    }
    let check = |wb: &Winback| {
        let report: serde_json::Value = serde_json::from_str(&wb.ok(&["report", "--json"])).expect("report JSON");
        assert_eq!(report["sequences"][0]["revenue"].as_f64(), Some(f64::MAX), "{report}");
        let status = wb.status();
        assert_eq!(status["kpis"]["sequences"][0]["revenue"].as_f64(), Some(f64::MAX));
        assert!(wb.ok(&["report"]).contains("revenue 1.798e308"));
    };
    check(&wb);
    wb.start();
    check(&wb);
    assert!(wb.stop());
}
