//! CSV import: header mapping, row checks, merging, line numbers on every
//! kind of line ending, whole-file errors, verdicts and the report.

use super::*;
use crate::domain::suppression::SuppressionReason;

fn cfg() -> HygieneConfig {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    HygieneConfig {
        role_accounts: set(&["postmaster", "noreply", "info"]),
        disposable_domains: set(&["mailinator.com"]),
        ..HygieneConfig::default()
    }
}

fn plan(csv: &str) -> ImportPlan {
    ImportPlan::read(csv.as_bytes(), &cfg()).unwrap_or_else(|e| panic!("import failed: {e}"))
}

fn error(csv: &[u8]) -> String {
    match ImportPlan::read(csv, &cfg()) {
        Ok(p) => panic!("expected a whole-file error, got {p:?}"),
        Err(e) => e.to_string(),
    }
}

/// `(line, kind)` of every report row.
fn kinds(p: &ImportPlan) -> Vec<(u64, IssueKind)> {
    p.issues.iter().map(|i| (i.line, i.kind)).collect()
}

fn emails(p: &ImportPlan) -> Vec<&str> {
    p.contacts.iter().map(|c| c.email.as_str()).collect()
}

fn assert_balanced(s: &Summary) {
    assert_eq!(s.rows_read, s.contacts + s.duplicates_merged + s.rejected(), "{s:?}");
}

#[test]
fn maps_known_columns_and_keeps_the_rest_as_fields() {
    let p = plan(
        "Email,Name,Last Engaged At,last_purchase_at,First Name,Loyalty-Tier,2FA\n\
         Bob@Example.com, Bob Smith ,2024-05-01T12:00:00Z,2024-04-01,Bob,gold,\n",
    );
    let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["email", "name", "last_engaged_at", "last_purchase_at", "first_name", "loyalty_tier", "_2fa"]);
    let c = &p.contacts[0];
    assert_eq!(c.line, 2);
    assert_eq!(c.email, "bob@example.com");
    assert_eq!(c.name.as_deref(), Some("Bob Smith"));
    assert_eq!(c.last_engaged_at, Some(1_714_564_800_000));
    assert_eq!(c.last_purchase_at, Some(1_711_929_600_000));
    let fields: Vec<(&str, &str)> = c.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(fields, [("first_name", "Bob"), ("loyalty_tier", "gold")]);
    assert!(c.enroll && !c.role && !c.disposable);
    assert!(p.issues.is_empty());
}

#[test]
fn header_errors_name_the_line_and_the_fix() {
    let e = error(b"\n\nname,city\nBob,Paris\n");
    assert!(e.starts_with("line 3: no `email` column"), "{e}");
    assert!(e.contains("`name`, `city`"), "{e}");
    let e = error(b"bob@example.com,Bob\n");
    assert!(e.contains("no header line"), "{e}");
    let e = error(b"email,First Name,first_name\n");
    assert_eq!(
        e,
        "line 1: columns 2 (`First Name`) and 3 (`first_name`) both become `first_name`; rename or delete one"
    );
    let e = error(b"email,EMAIL\n");
    assert!(e.contains("both become `email`"), "{e}");
    let e = error(b"email,name,\n");
    assert!(e.starts_with("line 1, column 3 (``): the header is empty"), "{e}");
    let e = error(b"email,???\n");
    assert!(e.contains("column 2 (`???`)"), "{e}");
    let e = error(b"email,caf\xe9\n");
    assert!(e.contains("column 2: the header is not valid UTF-8"), "{e}");
    assert_eq!(error(b""), ImportError::Empty.to_string());
    assert_eq!(error(b"\n\r\n\n"), ImportError::Empty.to_string());
}

#[test]
fn a_header_alone_is_an_empty_import() {
    let p = plan("email,name\n");
    assert!(p.contacts.is_empty() && p.issues.is_empty());
    assert_eq!(p.summary, Summary::default());
}

#[test]
fn bad_dates_reject_the_row_naming_column_and_line() {
    let p = plan(
        "email,last_engaged_at,last_purchase_at\na@x.com,yesterday,\nb@x.com,,2024-13-01\nc@x.com, 2024-01-02 ,\n",
    );
    assert_eq!(emails(&p), ["c@x.com"]);
    assert_eq!(p.contacts[0].last_engaged_at, Some(1_704_153_600_000));
    assert_eq!(kinds(&p), [(2, IssueKind::BadField), (3, IssueKind::BadField)]);
    assert_eq!(
        p.issues[0].reason,
        "column 2 `last_engaged_at`: `yesterday` is not a date: write 2025-01-15, 2025-01-15 10:22:33 (optionally with an offset like +01:00), or name the layout with --date-format; not imported"
    );
    assert!(p.issues[1].reason.starts_with("column 3 `last_purchase_at`: `2024-13-01`"));
    assert_eq!(p.summary.bad_field, 2);
    assert_balanced(&p.summary);
}

#[test]
fn duplicates_merge_later_values_and_latest_dates() {
    let p = plan(
        "email,name,last_engaged_at,last_purchase_at,city,tier\n\
         bob@example.com,Bob,2024-03-01,2024-06-01,Paris,\n\
         carol@example.com,Carol,,,,\n\
         BOB@EXAMPLE.COM,,2024-05-01,2024-01-01,,gold\n\
         bob@Example.com,Robert,2024-04-01,,Lyon,\n",
    );
    assert_eq!(emails(&p), ["bob@example.com", "carol@example.com"]);
    let bob = &p.contacts[0];
    assert_eq!(bob.line, 2);
    assert_eq!(bob.name.as_deref(), Some("Robert"));
    assert_eq!(bob.last_engaged_at, crate::clock::parse_time("2024-05-01"));
    assert_eq!(bob.last_purchase_at, crate::clock::parse_time("2024-06-01"));
    assert_eq!(bob.fields.get("city").map(String::as_str), Some("Lyon"));
    assert_eq!(bob.fields.get("tier").map(String::as_str), Some("gold"));
    assert_eq!(kinds(&p), [(4, IssueKind::Duplicate), (5, IssueKind::Duplicate)]);
    assert_eq!(p.issues[0].reason, "duplicate of line 2, merged");
    assert_eq!(p.issues[1].address, "bob@example.com");
    assert_eq!(p.summary.duplicates_merged, 2);
    assert_eq!(p.summary.contacts, 2);
    assert_balanced(&p.summary);
}

#[test]
fn invalid_addresses_are_reported_as_written() {
    let p = plan("email,name\nbo..b@x.com,B\n,Nobody\n\"Bob <bob@x.com>\",Bob\nok@x.com,Ok\n");
    assert_eq!(emails(&p), ["ok@x.com"]);
    assert_eq!(kinds(&p), [(2, IssueKind::Invalid), (3, IssueKind::Invalid), (4, IssueKind::Invalid)]);
    assert_eq!(
        p.issues[0].to_string(),
        "line 2: bo..b@x.com: invalid: two dots in a row in the local part; not imported"
    );
    assert_eq!(p.issues[1].to_string(), "line 3: (no address): invalid: the address is empty; not imported");
    assert_eq!(p.issues[2].address, "Bob <bob@x.com>");
    assert_eq!(p.summary.invalid, 3);
}

#[test]
fn wrong_field_counts_are_rejected_rows() {
    let p = plan("email,name,city\na@x.com,A\nb@x.com,Smith, Bob,Paris\nc@x.com,C,Rome\n");
    assert_eq!(emails(&p), ["c@x.com"]);
    assert_eq!(kinds(&p), [(2, IssueKind::Malformed), (3, IssueKind::Malformed)]);
    assert!(p.issues[0].reason.starts_with("2 fields where the header has 3"), "{}", p.issues[0].reason);
    assert!(p.issues[1].reason.starts_with("4 fields where the header has 3"), "{}", p.issues[1].reason);
    assert_eq!(p.summary.malformed, 2);
}

#[test]
fn an_unclosed_quote_fails_the_whole_file_at_its_line() {
    let e = error(b"email,name\na@x.com,A\nb@x.com,\"B\nc@x.com,C\nd@x.com,D\n");
    assert_eq!(
        e,
        "line 3: a quoted value opened here is never closed, so lines 3-5 would be read as one value; close the quote (a quote inside a value is written \"\")"
    );
    assert!(matches!(
        scan_domains(&b"email\n\"a@x.com\nb@x.com\n"[..]),
        Err(ImportError::UnclosedQuote { line: 2, .. })
    ));
}

#[test]
fn a_stray_quote_mid_file_shows_the_lines_it_swallowed() {
    // The quote opened on line 3 closes on line 5: lines 3-5 are one record.
    let p = plan("email,name\na@x.com,A\nb@x.com,\"B\nc@x.com,C\nd@x.com,D\"x,extra\ne@x.com,E\n");
    assert_eq!(emails(&p), ["a@x.com", "e@x.com"]);
    assert_eq!(kinds(&p), [(3, IssueKind::Malformed)]);
    assert!(p.issues[0].reason.contains("the row runs over lines 3-5"), "{}", p.issues[0].reason);
    assert_eq!(p.contacts[1].line, 6);
}

#[test]
fn quoted_fields_may_hold_commas_quotes_and_line_breaks() {
    let p = plan("email,name,note\n\"a@x.com\",\"Smith, \"\"Al\"\"\",\"two\nlines\"\nb@x.com,B,\n");
    assert_eq!(p.contacts[0].name.as_deref(), Some("Smith, \"Al\""));
    // A line break inside a value is read, then cleaned (it would reach messages).
    assert_eq!(p.contacts[0].fields.get("note").map(String::as_str), Some("two lines"));
    assert_eq!(p.contacts[1].line, 4);
    assert_eq!(kinds(&p), [(2, IssueKind::ControlChars)]);
}

#[test]
fn invalid_utf8_in_a_field_rejects_the_row() {
    let p =
        ImportPlan::read(&b"email,name\na@x.com,Ren\xe9\nb@x.com,B\n"[..], &cfg()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(emails(&p), ["b@x.com"]);
    assert_eq!(kinds(&p), [(2, IssueKind::Malformed)]);
    assert_eq!(
        p.issues[0].reason,
        "column `name` is not valid UTF-8 (byte 4 of the value); save the file as UTF-8; not imported"
    );
    let p = ImportPlan::read(&b"email\na\xff@x.com\n"[..], &cfg()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kinds(&p), [(2, IssueKind::Malformed)]);
    assert_eq!(p.issues[0].address, "a\u{fffd}@x.com");
}

#[test]
fn bom_crlf_cr_and_blank_lines_keep_true_line_numbers() {
    for (eol, label) in [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")] {
        let text = ["\u{feff}email,name", "a@x.com,A", "", "", "bad@", ",", "b@x.com,B", ""].join(eol);
        let p = plan(&text);
        assert_eq!(p.columns[0].name, "email", "{label}");
        assert_eq!(emails(&p), ["a@x.com", "b@x.com"], "{label}");
        assert_eq!(p.contacts[1].line, 7, "{label}");
        assert_eq!(kinds(&p), [(5, IssueKind::Malformed)], "{label}: {:?}", p.issues);
        assert_eq!(p.summary.blank_rows, 1, "{label}");
        assert_eq!(p.summary.rows_read, 3, "{label}");
    }
}

#[test]
fn role_and_disposable_are_imported_but_not_enrolled() {
    let p = plan("email\nPostmaster+ops@x.com\nbob@eu.mailinator.com\ninfo@mailinator.com\njane@x.com\n");
    let flags: Vec<(bool, bool, bool)> = p.contacts.iter().map(|c| (c.role, c.disposable, c.enroll)).collect();
    assert_eq!(flags, [(true, false, false), (false, true, false), (true, true, false), (false, false, true)]);
    assert_eq!(
        kinds(&p),
        [(2, IssueKind::Role), (3, IssueKind::Disposable), (4, IssueKind::Role), (4, IssueKind::Disposable)]
    );
    assert_eq!(
        p.issues[0].reason,
        "role account; imported but not enrolled (set [hygiene] enroll_role_accounts = true to enroll)"
    );
    assert!(p.issues[1].reason.starts_with("disposable-mailbox domain `eu.mailinator.com`"));
    assert_eq!((p.summary.role, p.summary.disposable, p.summary.contacts, p.summary.enrolled), (2, 2, 4, 1));

    let mut c = cfg();
    c.enroll_role_accounts = true;
    let p = ImportPlan::read(&b"email\npostmaster@x.com\n"[..], &c).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.contacts[0].enroll);
    assert_eq!(p.issues[0].reason, "role account; enrolled because [hygiene] enroll_role_accounts = true");
}

#[test]
fn domain_verdicts_reject_or_flag_contacts() {
    let text = "email\na@dead.example\ninfo@nullmx.example\nb@flaky.example\nc@ok.example\nA@dead.example\n";
    let mut p = plan(text);
    assert_eq!(
        p.domains().into_iter().collect::<Vec<_>>(),
        ["dead.example", "flaky.example", "nullmx.example", "ok.example"]
    );
    let mut asked = Vec::new();
    p.apply_domain_verdicts(|d| {
        asked.push(d.to_string());
        match d {
            "dead.example" => Verdict::NoMailDomain { detail: "NXDOMAIN".into() },
            "nullmx.example" => Verdict::NullMx,
            "flaky.example" => Verdict::TempFail { detail: "timed out".into() },
            _ => Verdict::Deliverable,
        }
    });
    assert_eq!(asked.len(), 4, "one question per domain");
    assert_eq!(emails(&p), ["b@flaky.example", "c@ok.example"]);
    assert_eq!(
        kinds(&p),
        [(2, IssueKind::NoMailDomain), (3, IssueKind::NullMx), (4, IssueKind::DnsTempFail), (6, IssueKind::Duplicate)]
    );
    assert_eq!(
        p.issues[0].reason,
        "domain `dead.example` has no MX and no A/AAAA record (NXDOMAIN): mail to it cannot be delivered; not imported"
    );
    assert!(p.issues[1].reason.contains("null MX (RFC 7505)"));
    let s = p.summary;
    assert_eq!((s.contacts, s.enrolled, s.role, s.no_mail_domain, s.null_mx, s.dns_unverified), (2, 2, 0, 1, 1, 1));
    assert_balanced(&s);
}

#[test]
fn streaming_with_verdicts_matches_the_plan() {
    let text = "email,name\na@dead.example,A\nb@ok.example,B\nB@ok.example,Bee\nbad,X\n";
    let c = cfg();
    let verdict = |d: &str| {
        if d == "dead.example" { Verdict::NoMailDomain { detail: "no records".into() } } else { Verdict::Deliverable }
    };
    let mut reader = ImportReader::new(text.as_bytes(), &c).unwrap_or_else(|e| panic!("{e}")).with_verdicts(verdict);
    let rows: Vec<Row> = reader.by_ref().map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect();
    assert!(matches!(&rows[0], Row::Rejected(i) if i.kind == IssueKind::NoMailDomain && i.line == 2));
    assert!(matches!(&rows[1], Row::Contact { contact, notes } if contact.email == "b@ok.example" && notes.is_empty()));
    assert!(
        matches!(&rows[2], Row::Duplicate { first_line: 3, contact, .. } if contact.name.as_deref() == Some("Bee"))
    );
    assert!(matches!(&rows[3], Row::Rejected(i) if i.kind == IssueKind::Invalid));
    let streamed = *reader.summary();
    assert_balanced(&streamed);

    let mut p = plan(text);
    p.apply_domain_verdicts(verdict);
    assert_eq!(p.summary, streamed);
    assert_eq!(p.contacts[0].name.as_deref(), Some("Bee"));
}

#[test]
fn scan_domains_lists_distinct_valid_domains() {
    let d = scan_domains(&b"email,x\na@One.example,1\nb@one.example,2\nc@two.example,3\nbad,4\nd@three.example\n"[..]);
    let d = d.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.into_iter().collect::<Vec<_>>(), ["one.example", "two.example"]);
    assert!(matches!(scan_domains(&b"name\nx\n"[..]), Err(ImportError::NoEmailColumn { line: 1, .. })));
}

#[test]
fn suppressed_contacts_get_a_row_and_stay_in_the_plan() {
    let mut p = plan("email\na@x.com\nb@x.com\n");
    p.mark_suppressed(|e| (e == "b@x.com").then_some(SuppressionReason::Complaint));
    assert_eq!(emails(&p), ["a@x.com", "b@x.com"]);
    assert_eq!(p.issues[0].to_string(), "line 3: b@x.com: suppressed: suppressed (complaint); kept suppressed");
    assert_eq!(p.summary.suppressed, 1);
}

#[test]
fn summary_counts_every_row_once() {
    let p = plan(
        "email,last_engaged_at\n\
         a@x.com,\n\
         A@x.com,\n\
         noreply@x.com,\n\
         z@mailinator.com,\n\
         broken,\n\
         d@x.com,nope\n\
         e@x.com\n\
         ,\n",
    );
    let s = p.summary;
    assert_eq!(s.rows_read, 7);
    assert_eq!(s.blank_rows, 1);
    assert_eq!((s.contacts, s.enrolled, s.duplicates_merged), (3, 1, 1));
    assert_eq!((s.invalid, s.bad_field, s.malformed, s.role, s.disposable), (1, 1, 1, 1, 1));
    assert_eq!(s.rejected(), 3);
    assert_balanced(&s);
    let text = p.report().to_string();
    assert!(text.contains("  1: `email` -> email"), "{text}");
    assert!(text.contains("  line 3: a@x.com: duplicate: duplicate of line 2, merged"), "{text}");
    assert!(text.contains("rows read:          7 (1 blank rows skipped)"), "{text}");
    assert!(text.contains("contacts:           3 (1 to enroll, 2 not enrolled)"), "{text}");
}

#[test]
fn plan_and_report_serialize() {
    let p = plan("email,name\nnoreply@x.com,N\nbad,B\n");
    let json = serde_json::to_value(p.report()).unwrap_or_default();
    assert_eq!(json["summary"]["role"], 1);
    assert_eq!(json["issues"][0]["kind"], "role");
    assert_eq!(json["issues"][1]["kind"], "invalid");
    assert_eq!(json["columns"][1]["name"], "name");
    let back: ImportPlan =
        serde_json::from_str(&serde_json::to_string(&p).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, p);
    let v = serde_json::to_value(Verdict::TempFail { detail: "x".into() }).unwrap_or_default();
    assert_eq!(v["verdict"], "temp_fail");
}

#[test]
fn contacts_convert_and_update_stored_contacts() {
    let p = plan("email,name,last_engaged_at,city\nnoreply@x.com,N,2024-01-01,Oslo\n");
    let c = p.contacts[0].clone().into_contact(5);
    assert_eq!((c.email.as_str(), c.name.as_deref(), c.created_at), ("noreply@x.com", Some("N"), 5));
    assert!(c.role && !c.enrolled);
    assert_eq!(c.last_engaged_at, crate::clock::parse_time("2024-01-01"));

    let mut stored = Contact::new("noreply@x.com", 1);
    stored.name = Some("Old".into());
    stored.last_engaged_at = crate::clock::parse_time("2025-01-01");
    stored.fields.insert("tier".into(), "gold".into());
    p.contacts[0].clone().update(&mut stored);
    assert_eq!(stored.name.as_deref(), Some("N"));
    assert_eq!(stored.last_engaged_at, crate::clock::parse_time("2025-01-01"), "an older date does not win");
    assert_eq!(stored.fields.len(), 2);
    assert_eq!(stored.created_at, 1);
}

#[test]
fn control_characters_in_names_and_fields_are_cleaned_and_reported() {
    let p = plan(
        "email,name,tier,city\n\
         a@x.com,\"Ann\r\nBcc: victim@x.com\",gold,Oslo\n\
         b@x.com,Bob,\"si\0lver\x1b\",\"New\tYork\"\n\
         c@x.com,Cy,bronze,Rome\n",
    );
    assert_eq!(emails(&p), ["a@x.com", "b@x.com", "c@x.com"]);
    assert_eq!(p.contacts[0].name.as_deref(), Some("Ann Bcc: victim@x.com"));
    assert_eq!(p.contacts[1].fields["tier"], "silver");
    assert_eq!(p.contacts[1].fields["city"], "New York");
    // The quoted line break makes the file's lines 2-3 one row; b is on line 4.
    assert_eq!(kinds(&p), [(2, IssueKind::ControlChars), (4, IssueKind::ControlChars)]);
    assert!(p.issues[0].reason.contains("`name`"), "{}", p.issues[0]);
    assert!(p.issues[1].reason.contains("`tier`, `city`"), "{}", p.issues[1]);
    assert_eq!(p.summary.control_chars, 2);
    assert_eq!(p.summary.contacts, 3);
    assert!(!IssueKind::ControlChars.rejects());
    assert_balanced(&p.summary);
    assert!(p.report().to_string().contains("control characters: 2 (cleaned)"));
}

#[test]
fn european_semicolon_files_with_shop_headers_import() {
    let text = "\u{feff}E-Mail-Adresse;Vorname;Nachname;Letzte Bestellung;Umsatz\r\n\
                anna@example.de;Anna;Schmidt;2025-01-15 10:22:33;\"1.234,50\"\r\n\
                ben@example.de;Ben;;;12\r\n";
    let p = plan(text);
    let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["email", "first_name", "last_name", "last_purchase_at", "total_spent"]);
    assert_eq!(emails(&p), ["anna@example.de", "ben@example.de"]);
    assert_eq!(p.contacts[0].name.as_deref(), Some("Anna Schmidt"), "first and last name make the name");
    assert_eq!(p.contacts[1].name.as_deref(), Some("Ben"));
    assert_eq!(p.contacts[0].last_purchase_at, Some(1_736_936_553_000));
    assert_eq!(p.contacts[0].fields.get("total_spent").map(String::as_str), Some("1.234,50"));
    let p = plan("email;name\na@x.com;A;extra\nb@x.com;B\n");
    assert_eq!(kinds(&p), [(2, IssueKind::Malformed)]);
    assert!(
        p.issues[0].reason.contains("a value containing a semicolon must be in double quotes"),
        "{}",
        p.issues[0].reason
    );
}

#[test]
fn a_date_layout_that_needs_a_format_fails_the_whole_file() {
    let e = error(b"email,last_engaged_at\na@x.com,2024-01-01\nb@x.com,01/02/2024\n");
    assert!(e.starts_with("line 3, column 2 (`last_engaged_at`): `01/02/2024` is ambiguous"), "{e}");
    assert!(e.contains("%d/%m/%Y") && e.contains("%m/%d/%Y") && e.ends_with("nothing was imported"), "{e}");
    let err = scan_domains(&b"email,Last Order Date\na@x.com,15.01.2025\n"[..]).map(|_| ()).map_err(|e| e.to_string());
    assert!(matches!(&err, Err(m) if m.contains("--date-format '%d.%m.%Y'")), "{err:?}");
    let mut dmy = ImportConfig::default();
    dmy.dates = dmy.dates.with_format("%d.%m.%Y").unwrap_or_default();
    let hygiene = cfg();
    let reader = ImportReader::with_config(&b"email;Last Order Date\na@x.com;15.01.2025\n"[..], &hygiene, &dmy);
    let p = ImportPlan::from_reader(reader.unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.contacts[0].last_purchase_at, Some(1_736_899_200_000));
}
