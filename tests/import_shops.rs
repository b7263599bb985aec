//! Imports as shops write them, through the real binary: a Shopify
//! customer and order export (offsets like `+0100`, one row per line
//! item), a WooCommerce report (local times, read in `[import]
//! time_zone`), a European spreadsheet (`;`, `15.01.2025`, `1.234,50`),
//! and the errors: a date layout that needs `--date-format` or is
//! ambiguous refuses the whole file and imports nothing; a bad row names
//! its line and column.

mod support;

use serde_json::Value;
use support::daemon::{Winback, config_with};

/// 2025-01-15T09:22:33Z.
const T: i64 = 1_736_932_953_000;

fn winback(extra: &str) -> Winback {
    Winback::new(&config_with("kind = \"maildir\"\nmaildir = \"{dir}/outbox\"", extra))
}

fn write(wb: &Winback, name: &str, text: &str) -> String {
    std::fs::write(wb.path(name), text).unwrap();
    name.to_string()
}

fn export(wb: &Winback, email: &str) -> Value {
    let text = wb.ok(&["contacts", "export", email]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs a command that must fail with `code`; returns stderr.
fn fails(wb: &Winback, args: &[&str], code: i32) -> String {
    let out = wb.cli(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: stdout {} stderr {err}", String::from_utf8_lossy(&out.stdout));
    err
}

#[test]
fn a_shopify_customer_and_order_export() {
    let wb = winback("");
    let customers = write(
        &wb,
        "customers_export.csv",
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Total Spent,Total Orders,Tags\n\
         7001,Ann,Lee,Ann.Lee@Example.com,yes,59.90,1,vip\n\
         7002,Bob,,bob@example.com,no,0.00,0,\n",
    );
    let out = wb.ok(&["contacts", "import", &customers]);
    assert!(out.contains("`Email` -> email") && out.contains("`Total Orders` -> orders_count"), "{out}");
    assert!(out.contains("imported: 2 new contact(s)"), "{out}");
    let ann = export(&wb, "ann.lee@example.com");
    assert_eq!(ann["contact"]["name"], "Ann Lee");
    assert_eq!(ann["contact"]["fields"]["total_spent"], "59.90");
    assert_eq!(ann["contact"]["fields"]["customer_id"], "7001");

    let orders = write(
        &wb,
        "orders_export.csv",
        "Name,Email,Financial Status,Paid at,Total,Lineitem name,Created at\n\
         #1001,ann.lee@example.com,paid,2025-01-15 10:30:00 +0100,59.90,Mug,2025-01-15 10:22:33 +0100\n\
         #1001,ann.lee@example.com,,,,Plate,2025-01-15 10:22:33 +0100\n\
         #1002,bob@example.com,paid,,\"1,200.00\",Lamp,2025-01-15T09:22:33Z\n",
    );
    let out = wb.ok(&["events", "import", &orders, "--kind", "purchase"]);
    assert!(out.contains("1 row(s) were further lines of the order"), "{out}");
    assert!(out.contains("2 event(s): 2 recorded"), "{out}");
    let events = &export(&wb, "ann.lee@example.com")["events"];
    let purchases: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "purchase").collect();
    assert_eq!(purchases.len(), 1, "one order, not one per line item: {events:#}");
    assert_eq!((purchases[0]["at"].as_i64(), purchases[0]["value"].as_f64()), (Some(T), Some(59.9)));
    assert_eq!(purchases[0]["ref"], "#1001");
    let bob = &export(&wb, "bob@example.com")["events"][0];
    assert_eq!((bob["at"].as_i64(), bob["value"].as_f64()), (Some(T), Some(1200.0)));
}

#[test]
fn a_woocommerce_report_in_the_shops_time_zone() {
    let wb = winback("[import]\ntime_zone = \"Europe/Berlin\"\n");
    let file = write(
        &wb,
        "customers.csv",
        "Name,Username,Last active,Date registered,Email,Orders,Total spend,AOV,Country / Region\n\
         Cy Young,cy,2025-01-15 10:22:33,2023-03-01 08:00:00,cy@example.com,3,120.00,40.00,DE\n",
    );
    let out = wb.ok(&["contacts", "import", &file]);
    assert!(out.contains("`Last active` -> last_engaged_at"), "{out}");
    let cy = export(&wb, "cy@example.com");
    assert_eq!(cy["contact"]["last_engaged_at"].as_i64(), Some(T), "10:22:33 in Berlin is 09:22:33 UTC");
    assert_eq!(cy["contact"]["fields"]["orders_count"], "3");
    assert_eq!(cy["contact"]["fields"]["date_registered"], "2023-03-01 08:00:00", "other columns keep their names");
}

#[test]
fn a_european_spreadsheet_needs_its_date_format_and_then_imports() {
    let wb = winback("");
    let file = write(
        &wb,
        "kunden.csv",
        "\u{feff}E-Mail-Adresse;Vorname;Nachname;Letzte Bestellung;Umsatz\r\n\
         dora@example.de;Dora;Berg;15.01.2025;\"1.234,50\"\r\n\
         emil@example.de;Emil;Kurz;;12,00\r\n",
    );
    let err = fails(&wb, &["contacts", "import", &file], 65);
    assert!(
        err.contains("kunden.csv: line 2, column 4 (`Letzte Bestellung`): `15.01.2025` is not ISO; it reads as day.month.year: pass --date-format '%d.%m.%Y'"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(err.matches("nothing was imported").count(), 1, "said once: {err}");
    assert_eq!(wb.status()["contacts_total"], 0, "nothing imported");

    let out = wb.ok(&["contacts", "import", &file, "--date-format", "%d.%m.%Y"]);
    assert!(out.contains("imported: 2 new contact(s)"), "{out}");
    let dora = export(&wb, "dora@example.de");
    assert_eq!(dora["contact"]["name"], "Dora Berg");
    assert_eq!(dora["contact"]["last_purchase_at"].as_i64(), Some(1_736_899_200_000));
    assert_eq!(dora["contact"]["fields"]["total_spent"], "1.234,50");

    // Orders from the same shop, amounts with a decimal comma.
    let orders = write(
        &wb,
        "bestellungen.csv",
        "E-Mail-Adresse;Bestelldatum;Betrag;Bestellnummer\ndora@example.de;15.01.2025;\"1.234,50\";B-7\n",
    );
    let out = wb.ok(&["events", "import", &orders, "--kind", "purchase", "--date-format", "%d.%m.%Y"]);
    assert!(out.contains("1 event(s): 1 recorded"), "{out}");
    let e = &export(&wb, "dora@example.de")["events"][0];
    assert_eq!((e["value"].as_f64(), e["ref"].as_str()), (Some(1234.5), Some("B-7")));
}

#[test]
fn an_ambiguous_date_is_an_error_never_a_guess() {
    let wb = winback("");
    let file = write(&wb, "us.csv", "email,last_order_date\nfay@example.com,01/15/2025\ngus@example.com,01/02/2025\n");
    let err = fails(&wb, &["contacts", "import", &file], 65);
    assert!(err.contains("line 2, column 2 (`last_order_date`): `01/15/2025`"), "{err}");
    assert!(err.contains("--date-format '%m/%d/%Y'"), "{err}");
    let with_one_day_first = write(&wb, "eu.csv", "email,last_order_date\ngus@example.com,01/02/2025\n");
    let err = fails(&wb, &["contacts", "import", &with_one_day_first], 65);
    assert!(
        err.contains("`01/02/2025` is ambiguous") && err.contains("'%d/%m/%Y' (day first) or '%m/%d/%Y' (month first)"),
        "{err}"
    );
    assert_eq!(wb.status()["contacts_total"], 0);
    wb.ok(&["contacts", "import", &file, "--date-format", "%m/%d/%Y"]);
    assert_eq!(
        export(&wb, "gus@example.com")["contact"]["last_purchase_at"].as_i64(),
        Some(1_735_776_000_000),
        "month first: 2 January"
    );
}

#[test]
fn bad_rows_name_line_and_column_and_lose_nothing() {
    let wb = winback("");
    let contacts = write(
        &wb,
        "c.csv",
        "email;last_engaged_at\nhal@example.com;2025-01-15\nnot-an-address;\nivy@example.com;2025-02-30\n",
    );
    let out = wb.ok(&["contacts", "import", &contacts]);
    assert!(out.contains("line 3: not-an-address: invalid"), "{out}");
    assert!(out.contains("line 4: ivy@example.com: bad_field: column 2 `last_engaged_at`"), "{out}");
    assert!(out.contains("imported: 1 new contact(s)"), "{out}");

    let events = write(
        &wb,
        "e.csv",
        "email\tkind\tat\tvalue\nhal@example.com\tpurchase\t2025-01-15\t10\nhal@example.com\tpurchase\tsoon\t10\nhal@example.com\tpurchase\t2025-01-16\tten\n",
    );
    let err = fails(&wb, &["events", "import", &events], 65);
    assert!(err.contains("e.csv: line 3, column 3 (`at`): `soon` is not a date"), "{err}");
    assert!(err.contains("e.csv: line 4, column 4 (`value`): `ten` is not an amount"), "{err}");
    assert!(err.contains("2 bad row(s); nothing was recorded"), "{err}");
    assert!(export(&wb, "hal@example.com")["events"].as_array().unwrap().is_empty(), "nothing recorded");
}
