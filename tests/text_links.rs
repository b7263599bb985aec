//! Links in the plain-text part through the real binary: the shipped
//! template's shop link arrives as a click redirect in the text part, the
//! unsubscribe link does not, and following the redirect sends the reader
//! to the shop and records a click on that message.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;
use support::daemon::{Winback, maildir_config};
use support::smtp_sink::free_port;

const CHROME: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// A plain GET; returns the status line and the headers.
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the tracking listener");
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer.split("\r\n\r\n").next().unwrap_or_default().to_string()
}

fn text_part(raw: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a parsable message");
    m.body_text(0).expect("a text part").replace("\r\n", "\n")
}

#[test]
fn a_text_part_link_is_a_redirect_and_its_click_counts() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let cfg = maildir_config("", "")
        .replace("public_base_url = \"http://127.0.0.1:1\"", &format!("public_base_url = \"{base}\""))
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""));
    let mut wb = Winback::new(&cfg);
    wb.import(&["tess@example.net"]);
    wb.start();
    let raw = wb.maildir_messages("outbox/new", 1).remove(0);
    let text = text_part(&raw);
    assert!(!text.contains("https://shop.example/"), "the shop link is rewritten:\n{text}");
    let click = text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{base}/c/")))
        .unwrap_or_else(|| panic!("no click redirect in the text part:\n{text}"));
    let unsub = text.split_whitespace().filter(|w| w.starts_with(&format!("{base}/u/"))).count();
    assert_eq!(unsub, 1, "the unsubscribe link stays as it is:\n{text}");

    // The file is in the Maildir before the outcome (with the link list)
    // is committed: wait for the record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while
        serde_json::from_str::<Value>(&wb.ok(&["contacts", "show", "tess@example.net", "--json"])).unwrap()["messages"]
            [0]["links"]
            .as_array()
            .is_none_or(|l| l.is_empty())
    {
        assert!(std::time::Instant::now() < deadline, "the message's links were never recorded; log:\n{}", wb.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let answer = get(port, &click[base.len()..]);
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        answer.lines().any(|l| l.eq_ignore_ascii_case("location: https://shop.example/?utm_campaign=winback")),
        "{answer}"
    );
    let show: Value = serde_json::from_str(&wb.ok(&["contacts", "show", "tess@example.net", "--json"])).unwrap();
    let message = show["messages"][0]["id"].as_u64().expect("a message id");
    let clicks: Vec<&Value> = show["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "click").collect();
    assert_eq!(clicks.len(), 1, "{show:#}");
    assert_eq!(clicks[0]["message"], message);
    let report: Value = serde_json::from_str(&wb.ok(&["report", "--json"])).unwrap();
    let step = &report["sequences"][0]["steps"][0];
    let machine = clicks[0]["origin"] == "machine";
    assert_eq!(step["clicks"], u64::from(!machine), "a person's click counts in the report: {report:#}");
    assert!(wb.stop(), "graceful stop; log:\n{}", wb.log());
}
