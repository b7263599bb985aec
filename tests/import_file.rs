//! The import as the CLI drives it, through the public API only: a CSV file
//! on disk with Windows line endings and a BOM, the shipped hygiene lists,
//! a domain scan, DNS verdicts, streaming, and the same result in memory.

use std::io::Write;

use winback::config::Config;
use winback::domain::import::{ImportPlan, ImportReader, IssueKind, Row, Verdict, scan_domains};

const FILE: &str = "\u{feff}E-Mail Address,Email,Name,Last Engaged At,Plan\r\n\
                    x,Bob@Example.com,Bob,2024-01-05,pro\r\n\
                    \r\n\
                    y,noreply@shop.example,,,\r\n\
                    z,user@bücher.example,Jürgen,2023-12-24T18:00:00+01:00,free\r\n\
                    w,someone@sub.mailinator.com,,,\r\n\
                    v,gone@dead.example,,,\r\n\
                    u,BOB@example.com,,2024-02-01,\r\n";

fn verdict(domain: &str) -> Verdict {
    match domain {
        "dead.example" => Verdict::NoMailDomain { detail: "NXDOMAIN".into() },
        _ => Verdict::Deliverable,
    }
}

#[test]
fn imports_a_file_from_disk_in_two_passes() {
    let cfg = match Config::from_toml("<embedded>", winback::config::EMBEDDED_DEFAULT) {
        Ok(c) => c.hygiene,
        Err(e) => panic!("embedded config: {e}"),
    };
    let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("temp file: {e}"));
    file.write_all(FILE.as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
    let open = || std::fs::File::open(file.path()).unwrap_or_else(|e| panic!("open: {e}"));

    let domains = scan_domains(open()).unwrap_or_else(|e| panic!("scan: {e}"));
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    assert_eq!(domains, ["dead.example", "example.com", "shop.example", "sub.mailinator.com", "xn--bcher-kva.example"]);

    let reader = ImportReader::new(open(), &cfg).unwrap_or_else(|e| panic!("header: {e}")).with_verdicts(verdict);
    let names: Vec<String> = reader.columns().iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, ["e_mail_address", "email", "name", "last_engaged_at", "plan"]);
    let mut stored = Vec::new();
    let mut report = Vec::new();
    for row in reader {
        match row.unwrap_or_else(|e| panic!("row: {e}")) {
            Row::Contact { contact, notes } => {
                report.extend(notes.into_iter().map(|n| (n.line, n.kind)));
                stored.push(contact.into_contact(0));
            }
            Row::Duplicate { contact, first_line, issue } => {
                report.push((issue.line, issue.kind));
                assert_eq!(first_line, 2);
                if let Some(c) = stored.iter_mut().find(|c| c.email == contact.email) {
                    contact.update(c);
                }
            }
            Row::Rejected(issue) => report.push((issue.line, issue.kind)),
        }
    }
    let emails: Vec<&str> = stored.iter().map(|c| c.email.as_str()).collect();
    assert_eq!(
        emails,
        ["bob@example.com", "noreply@shop.example", "user@xn--bcher-kva.example", "someone@sub.mailinator.com"]
    );
    assert_eq!(
        report,
        [(4, IssueKind::Role), (6, IssueKind::Disposable), (7, IssueKind::NoMailDomain), (8, IssueKind::Duplicate)]
    );
    assert_eq!(stored[0].last_engaged_at, winback::clock::parse_time("2024-02-01"));
    assert_eq!(stored[0].fields.get("plan").map(String::as_str), Some("pro"));
    // The later duplicate (line 8) overrides non-empty fields.
    assert_eq!(stored[0].fields.get("e_mail_address").map(String::as_str), Some("u"));
    assert_eq!(stored[2].name.as_deref(), Some("Jürgen"));
    assert!(!stored[1].enrolled && !stored[3].enrolled && stored[0].enrolled);

    let mut plan = ImportPlan::read(open(), &cfg).unwrap_or_else(|e| panic!("plan: {e}"));
    plan.apply_domain_verdicts(verdict);
    assert_eq!(plan.contacts.len(), stored.len());
    let text = plan.report().to_string();
    assert!(text.contains("line 7: gone@dead.example: no_mail_domain: domain `dead.example`"), "{text}");
    assert!(text.contains("contacts:           4 (2 to enroll, 2 not enrolled)"), "{text}");
}
