//! A running daemon that sends one message per contact into a Maildir
//! outbox, with its SMTP listener and a watched bounce Maildir: what the
//! inbound tests need to read real VERP and mailto addresses from what
//! winback sent, and to hand reports back through `winback ingest`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::daemon::{Winback, maildir_config};

/// A daemon sending one message to each of `contacts` into a Maildir
/// outbox, with the SMTP listener on `smtp_port` and `bounces/` watched.
pub fn daemon(contacts: &[&str], smtp_port: u16) -> Winback {
    let mut wb = Winback::new(&config(smtp_port));
    wb.import(contacts);
    wb.start();
    wb
}

/// The configuration of [`daemon`] (paths with `{dir}`).
pub fn config(smtp_port: u16) -> String {
    let inbound = format!(
        "listen = \"127.0.0.1:{smtp_port}\"\nmaildir_watch = \"{{dir}}/bounces\"\nmaildir_interval = \"100ms\""
    );
    maildir_config("", &inbound)
}

/// Waits until every contact has a message in the outbox; returns them
/// by recipient.
pub fn sent(wb: &Winback, n: usize) -> Vec<(String, String)> {
    wb.maildir_messages("outbox/new", n).into_iter().map(|text| (header(&text, "Delivered-To"), text)).collect()
}

/// A header of `msg`, unfolded.
pub fn header(msg: &str, name: &str) -> String {
    let head = msg.split("\n\n").next().unwrap_or(msg).replace("\n ", " ").replace("\n\t", " ");
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} header in:\n{msg}"))
}

pub fn message_to<'a>(sent: &'a [(String, String)], rcpt: &str) -> &'a str {
    &sent.iter().find(|(r, _)| r == rcpt).unwrap_or_else(|| panic!("nothing sent to {rcpt}")).1
}

/// The mailto address of `List-Unsubscribe`.
pub fn mailto(msg: &str) -> String {
    let v = header(msg, "List-Unsubscribe");
    let start = v.find("<mailto:").expect("a mailto entry") + "<mailto:".len();
    v[start..].split('>').next().unwrap().to_string()
}

/// Runs `winback ingest --recipient RECIPIENT` with `input` on stdin, as a
/// Postfix pipe transport does; asserts it succeeded.
pub fn ingest(config: &Path, recipient: &str, input: &[u8]) {
    let mut child = Command::new(super::daemon::bin())
        .args(["--config", config.to_str().unwrap(), "ingest", "--recipient", recipient])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("winback ingest runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "ingest failed: {}", String::from_utf8_lossy(&out.stderr));
}
