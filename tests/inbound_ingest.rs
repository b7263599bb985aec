//! `winback ingest` as an MTA pipe calls it: a message on stdin lands in
//! the spool; exit codes follow sysexits.

use std::io::Write;
use std::process::{Command, Stdio};

use winback::inbound::config::SpoolLimits;
use winback::inbound::spool::Spool;

fn run_ingest(config: &std::path::Path, input: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_winback"))
        .args(["--config", config.to_str().unwrap(), "ingest", "--recipient", "bounces+abcdefghijklmnop@b.example.org"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("winback runs");
    // winback may exit before reading (configuration errors): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn ingest_spools_and_maps_failures_to_sysexits() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = dir.path().join("winback.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = {:?}\n[sender]\nfrom = \"News <news@example.org>\"\nbounce_domain = \"b.example.org\"\n[inbound]\nmax_message_size = \"1KB\"\nspool_max_messages = 1\n",
            state.display().to_string()
        ),
    )
    .unwrap();
    let (code, err) = run_ingest(&cfg, b"From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\nhi\r\n");
    assert_eq!(code, 0, "{err}");
    let spool = Spool::open(state.join("inbound"), SpoolLimits::default()).unwrap();
    let ids = spool.list().unwrap();
    assert_eq!(ids.len(), 1);
    let stored = spool.claim(&ids[0]).unwrap();
    assert_eq!(stored.envelope, vec!["bounces+abcdefghijklmnop@b.example.org"], "the envelope from --recipient");
    assert_eq!(stored.raw, b"From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\nhi\r\n", "as given");
    spool.remove(&ids[0]).unwrap();
    let (code, err) = run_ingest(&cfg, b"From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\nhi\r\n");
    assert_eq!(code, 0, "{err}");

    let (code, err) = run_ingest(&cfg, b"Subject: second\r\n\r\nx\r\n");
    assert_eq!(code, 75, "spool full is a temporary failure: {err}");
    assert!(err.contains("full"), "{err}");
    let (code, _) = run_ingest(&cfg, b"");
    assert_eq!(code, 65, "empty input is unusable data");
    let (code, _) = run_ingest(&cfg, &vec![b'x'; 2048]);
    assert_eq!(code, 65, "too large is unusable data");

    std::fs::write(&cfg, "[inbound]\nlisten = \"nowhere\"\n").unwrap();
    let (code, err) = run_ingest(&cfg, b"Subject: x\r\n\r\nx\r\n");
    assert_eq!(code, 64, "configuration errors exit 64: {err}");
    assert!(err.contains("[inbound] listen"), "{err}");
}
