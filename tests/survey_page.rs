//! The reasons-for-leaving survey through the real binary: a sequence
//! whose template carries `{{ survey_url }}` mails lapsed contacts; the
//! link from the sent mail shows the question on GET and records nothing
//! (link scanners open every link), a POST records the answer as
//! engagement (the contact is reactivated), a `suppress` choice suppresses
//! with reason `left`, `report --json` counts the answers per choice, and a
//! real headless Chromium answers the page as a person would.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::browser::Browser;
use support::daemon::{Winback, config_with};

const PEOPLE: [&str; 4] = ["ann@example.com", "ben@example.com", "cy@example.com", "dee@example.com"];

fn daemon() -> Winback {
    let extra = r#"
[survey]
question = "Why did you stop shopping with us?"
other_max_chars = 120
[[survey.choice]]
key = "too_many_emails"
label = "Too many emails"
controllable = true
[[survey.choice]]
key = "moved_away"
label = "I moved away"
suppress = true
[[survey.choice]]
key = "other"
label = "Something else"
other = true

[[sequence]]
name = "wb"
grace = "30d"
[[sequence.step]]
after = "0s"
subject = "We miss you"
template = "ask"
final = true
"#;
    let mut wb = Winback::new(&config_with("kind = \"maildir\"\nmaildir = \"{dir}/outbox\"", extra));
    let templates = wb.path("config/templates");
    std::fs::write(templates.join("ask.txt"), "Hello,\n\nwhy did you leave? Tell us:\n{{ survey_url }}\n").unwrap();
    std::fs::write(templates.join("ask.html"), "<p>Why did you leave? <a href=\"{{ survey_url }}\">Tell us</a></p>\n")
        .unwrap();
    wb.import(&PEOPLE);
    wb.start();
    wb
}

/// The daemon's HTTP address, from its log.
fn http_addr(wb: &Winback) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = wb.log();
        let found = log.lines().filter(|l| l.contains("http listening")).find_map(|l| {
            let at = l.find("127.0.0.1:")?;
            let port: String = l[at + 10..].chars().take_while(char::is_ascii_digit).collect();
            (!port.is_empty()).then(|| format!("127.0.0.1:{port}"))
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(Instant::now() < deadline, "no `http listening` in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The survey path (`/s/TOKEN`) of each person, from the mail sent to them.
fn survey_paths(wb: &Winback) -> Vec<(String, String)> {
    let messages = wb.maildir_messages("outbox/new", PEOPLE.len());
    PEOPLE
        .iter()
        .map(|p| {
            let msg =
                messages.iter().find(|m| m.contains(&format!("To: {p}"))).unwrap_or_else(|| panic!("no mail to {p}"));
            let at = msg.find("/s/").unwrap_or_else(|| panic!("no survey link in:\n{msg}"));
            let token: String = msg[at + 3..].chars().take_while(char::is_ascii_alphanumeric).collect();
            (p.to_string(), format!("/s/{token}"))
        })
        .collect()
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Mozilla/5.0 (compatible; LinkScanner)\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn state(wb: &Winback, email: &str) -> Value {
    json(&wb.ok(&["contacts", "export", email]))["contact"]["state"].clone()
}

fn survey_events(wb: &Winback, email: &str) -> Vec<Value> {
    let export = json(&wb.ok(&["contacts", "export", email]));
    export["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "survey").cloned().collect()
}

fn answers(wb: &Winback) -> Value {
    json(&wb.ok(&["report", "--json"]))["sequences"][0]["survey"].clone()
}

fn count(survey: &Value, choice: &str) -> u64 {
    survey["choices"].as_array().unwrap().iter().find(|c| c["choice"] == choice).unwrap()["answers"].as_u64().unwrap()
}

#[test]
fn get_records_nothing_post_records_engagement_and_a_suppress_choice_suppresses() {
    let wb = daemon();
    let addr = http_addr(&wb);
    let paths = survey_paths(&wb);
    let (ann, ben) = (&paths[0], &paths[1]);

    // Link scanners and people opening the page: nothing recorded.
    for _ in 0..3 {
        let (status, page) = http(&addr, "GET", &ann.1, "");
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<legend>Why did you stop shopping with us?</legend>"), "{page}");
        assert!(page.contains(r#"<label for="choice-moved_away">I moved away</label>"#), "{page}");
        assert!(!page.contains("<script") && !page.contains("src="), "no script, nothing loaded: {page}");
    }
    assert!(survey_events(&wb, &ann.0).is_empty());
    assert_eq!(state(&wb, &ann.0)["state"], "active", "a GET is not engagement");
    assert_eq!(answers(&wb)["answers"], 0);

    // A wrong answer is refused with the form again, and records nothing.
    let (status, page) = http(&addr, "POST", &ann.1, "choice=bogus");
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(survey_events(&wb, &ann.0).is_empty());

    // Ann answers: recorded, and engagement (reactivated).
    let (status, page) = http(&addr, "POST", &ann.1, "choice=too_many_emails");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Thank you"), "{page}");
    let events = survey_events(&wb, &ann.0);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["ref"], "too_many_emails");
    assert_eq!(state(&wb, &ann.0)["state"], "reactivated");
    assert!(wb.ok(&["suppress", "list"]).lines().all(|l| !l.contains(&ann.0)), "not suppressed");

    // Ben moved away: suppressed with reason `left`.
    let (status, page) = http(&addr, "POST", &ben.1, "choice=moved_away");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("will not send you any more mail"), "{page}");
    assert_eq!(wb.suppression(&ben.0)["reason"], "left");

    let survey = answers(&wb);
    assert_eq!((survey["answers"].as_u64(), survey["controllable"].as_u64()), (Some(2), Some(1)), "{survey:#}");
    assert_eq!((count(&survey, "too_many_emails"), count(&survey, "moved_away"), count(&survey, "other")), (1, 1, 0));
    let text = wb.ok(&["report"]);
    assert!(text.contains("survey: 2 answer(s), 1 the shop can act on"), "{text}");
}

#[test]
fn a_person_answers_in_a_real_browser() {
    let wb = daemon();
    let addr = http_addr(&wb);
    let paths = survey_paths(&wb);
    let (cy, dee) = (paths[2].clone(), paths[3].clone());
    let (url_cy, url_dee) = (format!("http://{addr}{}", cy.1), format!("http://{addr}{}", dee.1));
    let (shown, done_cy, done_dee) = std::thread::spawn(move || -> Result<(String, String, String), String> {
        let mut b = Browser::launch()?;
        b.navigate(&url_cy)?;
        let shown = b.eval("document.body.innerText")?.as_str().unwrap_or_default().to_string();
        // Choose "Something else" by its label, type the reason, send.
        b.click_and_wait_none("label[for=choice-other]")?;
        b.click_and_wait_none("#other_text")?;
        b.call("Input.insertText", serde_json::json!({ "text": "The shipping got too slow" }))?;
        b.click_and_wait("#send")?;
        let done_cy = b.eval("document.body.innerText")?.as_str().unwrap_or_default().to_string();
        b.navigate(&url_dee)?;
        b.click_and_wait_none("label[for=choice-moved_away]")?;
        b.click_and_wait("#send")?;
        let done_dee = b.eval("document.body.innerText")?.as_str().unwrap_or_default().to_string();
        Ok((shown, done_cy, done_dee))
    })
    .join()
    .expect("browser thread")
    .unwrap_or_else(|e| panic!("browser: {e}"));
    assert!(shown.contains("Why did you stop shopping with us?") && shown.contains("Something else"), "{shown}");
    assert!(done_cy.contains("Thank you for telling us"), "{done_cy}");
    assert!(done_dee.contains("will not send you any more mail"), "{done_dee}");

    let events = survey_events(&wb, &cy.0);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["ref"], "other: The shipping got too slow");
    assert_eq!(state(&wb, &cy.0)["state"], "reactivated");
    assert_eq!(wb.suppression(&dee.0)["reason"], "left");
    let survey = answers(&wb);
    assert_eq!(survey["texts"][0], "The shipping got too slow", "{survey:#}");
    assert_eq!((count(&survey, "other"), count(&survey, "moved_away")), (1, 1));
}
