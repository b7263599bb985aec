//! `winback bounce classify` as an operator runs it on a folder: files
//! classified in parallel come out in file order, one TSV line per
//! recipient whatever the diagnostic holds, mbox files yield every message,
//! files that are not messages give no rows, and JSON Lines carry the same
//! verdicts.

use std::path::Path;
use std::process::Command;

/// A DSN for `rcpt` whose diagnostic is `diagnostic`.
fn dsn(rcpt: &str, diagnostic: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.a.example\nTo: news@example.org\nSubject: Undelivered Mail Returned to Sender\n\
MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nI'm sorry to have to inform you that your message could not be delivered.\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.a.example\n\n\
Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; {diagnostic}\n\n--B--\n"
    )
}

fn classify(format: &str, path: &Path) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_winback"))
        .args(["bounce", "classify", "--format", format])
        .arg(path)
        .output()
        .expect("winback runs");
    (
        String::from_utf8(out.stdout).expect("output is UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn a_folder_comes_out_in_file_order_one_clean_line_per_recipient() {
    let dir = tempfile::tempdir().unwrap();
    // More files than one worker's batch, so that several threads share them.
    let n = 300;
    for i in 0..n {
        let diag = match i % 3 {
            0 => "550 5.1.1 <u@b.example>: Recipient address rejected: User unknown".to_string(),
            // A NUL (quoted-printable "=00" decodes to one), a tab and an escape.
            1 => "550 5.1.1 user unknown\0 see\tLinkId\u{1b}(B".to_string(),
            _ => "550 5.1.1 no such user".to_string(),
        };
        std::fs::write(dir.path().join(format!("m{i:04}.eml")), dsn(&format!("u{i}@b.example"), &diag)).unwrap();
    }
    // An mbox file of two messages; a message saved under another name is
    // read; files that are not messages (a corpus's notes and labels) give
    // no rows; hidden files are skipped.
    let mbox = format!(
        "From MAILER-DAEMON Mon Jan  1 00:00:00 2026\n{}\nFrom MAILER-DAEMON Mon Jan  1 00:00:01 2026\n{}",
        dsn("x1@b.example", "550 5.1.1 user unknown"),
        dsn("x2@b.example", "550 5.1.1 user unknown")
    );
    std::fs::create_dir_all(dir.path().join("box/cur")).unwrap();
    std::fs::write(dir.path().join("box/cur/1700000000.M1.host:2,S"), mbox).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "Bounces from the spring run.\nUser unknown\n").unwrap();
    std::fs::write(dir.path().join("labels.tsv"), "file\trecipient\nm0000.eml\tu0@b.example\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "# Bounces\n\nFrom: the spring run.\n").unwrap();
    std::fs::write(dir.path().join("zz-saved.msg"), dsn("saved@b.example", "550 5.1.1 user unknown")).unwrap();
    std::fs::write(dir.path().join(".hidden.eml"), dsn("hidden@b.example", "550 user unknown")).unwrap();

    let (tsv, err, code) = classify("tsv", dir.path());
    assert_eq!(code, 0, "{err}");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("a header line").split('\t').collect();
    assert_eq!((header.len(), header[0], header[1], header[11]), (12, "file", "recipient", "decided_by"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    for r in &rows {
        assert_eq!(r.len(), 12, "one line of 12 fields per recipient: {r:?}");
        assert!(r.iter().all(|f| !f.chars().any(char::is_control)), "control character in {r:?}");
        assert_eq!((r[3], r[4]), ("userunknown", "1"), "{r:?}");
    }
    let got: Vec<String> = rows.iter().map(|r| r[1].to_string()).collect();
    // Folder entries sort by name: "box" before "m0000.eml".
    let mut want = vec!["x1@b.example".to_string(), "x2@b.example".to_string()];
    want.extend((0..n).map(|i| format!("u{i}@b.example")));
    want.push("saved@b.example".to_string());
    assert_eq!(got, want);
    assert!(rows[3][10].contains("user unknown") && rows[3][10].contains("see LinkId"), "{:?}", rows[3]);

    let (json, err, code) = classify("json", dir.path());
    assert_eq!(code, 0, "{err}");
    let recipients: Vec<String> = json
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            v["report"]["recipients"]
                .as_array()
                .expect("recipients")
                .iter()
                .map(|x| x["recipient"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(recipients, want);
}

#[test]
fn an_unreadable_path_is_reported_and_the_rest_still_classified() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.eml");
    std::fs::write(&file, dsn("u@b.example", "550 5.1.1 user unknown")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_winback"))
        .args(["bounce", "classify"])
        .arg(dir.path().join("missing.eml"))
        .arg(&file)
        .output()
        .expect("winback runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "EX_IOERR; stderr: {stderr}");
    assert!(stderr.contains("missing.eml"), "the error names the path: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "header and the readable file's row: {stdout}");
    assert!(stdout.contains("u@b.example\t5.1.1\tuserunknown\t1"), "{stdout}");
}
