//! Event files: shop order exports, separators, line items, amounts, and
//! every bad row named with its line and column.

use super::*;

const NOW: Millis = 1_750_000_000_000;

fn opts<'a>(import: &'a ImportConfig, kind: Option<&str>) -> EventOptions<'a> {
    EventOptions { import, kind: kind.map(EventKind::parse), max_value: 1e9, now: NOW }
}

fn read(text: &str, import: &ImportConfig, kind: Option<&str>) -> Vec<EventRow> {
    let reader = EventReader::new(text.as_bytes(), opts(import, kind)).unwrap_or_else(|e| panic!("{e}"));
    reader.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// `(line, email, at, value, ref)` of an event row.
type Seen<'a> = (u64, &'a str, Millis, Option<f64>, Option<&'a str>);

fn events(rows: &[EventRow]) -> Vec<Seen<'_>> {
    rows.iter()
        .filter_map(|r| match r {
            EventRow::Event { line, event } => {
                Some((*line, event.email.as_str(), event.at, event.value, event.reference.as_deref()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn reads_a_shopify_order_export_with_line_items() {
    let text = "Name,Email,Financial Status,Paid at,Total,Lineitem name,Created at\n\
                #1001,Ann@Example.com,paid,2025-01-15 10:30:00 +0100,59.90,Mug,2025-01-15 10:22:33 +0100\n\
                #1001,ann@example.com,,,,Plate,2025-01-15 10:22:33 +0100\n\
                #1002,bob@example.com,paid,,12.00,Cup,2025-02-01 08:00:00 -0500\n";
    let rows = read(text, ImportConfig::builtin(), Some("purchase"));
    assert_eq!(
        events(&rows),
        [
            (2, "ann@example.com", 1_736_932_953_000, Some(59.9), Some("#1001")),
            (4, "bob@example.com", 1_738_414_800_000, Some(12.0), Some("#1002")),
        ]
    );
    assert_eq!(rows.get(1), Some(&EventRow::LineItem { line: 3 }));
}

#[test]
fn reads_woocommerce_and_european_files_in_the_configured_zone() {
    let berlin = super::super::config::validate(
        "t",
        toml::from_str("time_zone = \"Europe/Berlin\"").unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let woo = "Order ID,Billing Email,Order Date,Order Total\n7,ann@example.com,2025-01-15 11:22:33,19.99\n";
    assert_eq!(
        events(&read(woo, &berlin, Some("purchase"))),
        [(2, "ann@example.com", 1_736_936_553_000, Some(19.99), Some("7"))]
    );
    let de =
        "E-Mail-Adresse;Bestelldatum;Betrag;Bestellnummer\r\nann@example.com;2025-01-15 11:22:33;\"1.234,50\";A-1\r\n";
    assert_eq!(
        events(&read(de, &berlin, Some("purchase"))),
        [(2, "ann@example.com", 1_736_936_553_000, Some(1234.5), Some("A-1"))]
    );
    let tabs = "email\tkind\tat\nann@example.com\tlogin\t2025-01-15T10:22:33Z\n";
    let rows = read(tabs, &berlin, None);
    assert!(matches!(&rows[..], [EventRow::Event { event, .. }] if event.kind == EventKind::App("login".into())));
}

#[test]
fn bad_rows_name_line_column_and_fix_and_the_rest_is_read() {
    let text = "email;kind;at;value\n\
                ann@example.com;purchase;2025-01-15;12,50\n\
                not-an-address;purchase;;\n\
                bob@example.com;Pur chase;;\n\
                cy@example.com;purchase;2025-13-40;\n\
                dee@example.com;purchase;;1,234\n\
                eve@example.com;purchase\n\
                fay@example.com;;;\n";
    let rows = read(text, ImportConfig::builtin(), None);
    let bad: Vec<String> =
        rows.iter().filter_map(|r| if let EventRow::Bad(b) = r { Some(b.to_string()) } else { None }).collect();
    assert_eq!(bad.len(), 6, "{bad:#?}");
    assert!(bad[0].starts_with("line 3, column 1 (`email`): `not-an-address`"), "{}", bad[0]);
    assert!(bad[1].starts_with("line 4, column 2 (`kind`): event kind"), "{}", bad[1]);
    assert!(bad[2].starts_with("line 5, column 3 (`at`): `2025-13-40` is not a date"), "{}", bad[2]);
    assert!(bad[3].starts_with("line 6, column 4 (`value`): `1,234` could be"), "{}", bad[3]);
    assert!(
        bad[4].starts_with("line 7: 2 fields where the header has 4") && bad[4].contains("semicolon"),
        "{}",
        bad[4]
    );
    assert!(bad[5].starts_with("line 8, column 2 (`kind`): no kind"), "{}", bad[5]);
    assert_eq!(events(&rows), [(2, "ann@example.com", 1_736_899_200_000, Some(12.5), None)]);
}

#[test]
fn a_date_layout_without_a_format_fails_the_file_and_a_format_reads_it() {
    let text = "email,kind,at\nann@example.com,purchase,15.01.2025\n";
    let mut reader =
        EventReader::new(text.as_bytes(), opts(ImportConfig::builtin(), None)).unwrap_or_else(|e| panic!("{e}"));
    let err = reader.next().map(|r| r.map_err(|e| e.to_string()));
    assert!(
        matches!(&err, Some(Err(m)) if m.starts_with("line 2, column 3 (`at`): `15.01.2025` is not ISO") && m.contains("--date-format '%d.%m.%Y'")),
        "{err:?}"
    );
    let mut dmy = ImportConfig::default();
    dmy.dates = dmy.dates.with_format("%d.%m.%Y").unwrap_or_default();
    assert_eq!(events(&read(text, &dmy, None)), [(2, "ann@example.com", 1_736_899_200_000, None, None)]);
}

#[test]
fn the_header_needs_email_and_a_kind() {
    let err = |text: &str, kind| {
        EventReader::new(text.as_bytes(), opts(ImportConfig::builtin(), kind)).map(|_| ()).unwrap_err().to_string()
    };
    assert!(err("Order ID,Total\n1,2\n", Some("purchase")).contains("needs an `email` column"));
    assert!(err("email,Total\na@x.com,2\n", None).contains("--kind purchase"));
}

#[test]
fn amounts_as_shops_write_them() {
    let ok = |t: &str| amount(t, 1e9).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok("12.50"), 12.5);
    assert_eq!(ok("12,5"), 12.5);
    assert_eq!(ok("1,234.56"), 1234.56);
    assert_eq!(ok("1.234,56"), 1234.56);
    assert_eq!(ok("€ 12,50"), 12.5);
    assert_eq!(ok("$1,000,000"), 1_000_000.0);
    assert_eq!(ok("12.50 EUR"), 12.5);
    assert_eq!(ok("-3.00"), -3.0);
    assert_eq!(ok("1'234.50"), 1234.5);
    for bad in ["1,234", "1.234", "abc", "", "12.5.3x", "1e5"] {
        assert!(amount(bad, 1e9).is_err(), "{bad}");
    }
    assert!(amount("2000", 1000.0).is_err_and(|e| e.contains("max_event_value")));
}
