//! Unsubscribe: a GET (what link scanners do) changes nothing; an RFC 8058
//! one-click POST suppresses at once with 200 and no redirect; replays are
//! harmless; anything else is refused; and a real browser can press the
//! button on the confirmation page.

mod http_support;
mod support;

use http_support::{CHROME, FORM, ONE_CLICK, Server};
use support::browser::Browser;
use winback::token::Purpose;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn a_get_shows_the_page_and_changes_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("jane.doe@example.com", &[], HOUR);
    let path = format!("/u/{}", s.token(Purpose::Unsubscribe, id, 0));
    for _ in 0..3 {
        let r = s.get(&path, "Mozilla/5.0 (compatible; Barracuda Sentinel)").await;
        assert_eq!(r.status, 200);
        let page = r.text();
        assert!(page.contains("<form method=\"post\""), "{page}");
        assert!(page.contains("j•••••e@example.com"), "address shown masked: {page}");
        assert!(!page.contains("jane.doe"), "full address not shown");
        assert!(!page.contains("<script"), "works without JavaScript");
        assert!(r.header("content-security-policy").is_some_and(|c| c.contains("form-action 'self'")));
    }
    assert_eq!(s.suppression("jane.doe@example.com"), None);
    assert!(s.events("jane.doe@example.com").is_empty());
}

#[tokio::test]
async fn a_one_click_post_suppresses_at_once_without_redirect_and_replays_change_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("kim@example.com", &[], HOUR);
    let path = format!("/u/{}", s.token(Purpose::Unsubscribe, id, 0));
    let r = s.request("POST", &path, &[FORM], ONE_CLICK).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("location").is_none());
    assert_eq!(s.suppression("kim@example.com").as_deref(), Some("unsubscribed"));
    let first = s.store.read().unwrap().suppression("kim@example.com").unwrap().unwrap();

    // Replayed (the provider retries, the person presses again).
    for _ in 0..2 {
        assert_eq!(s.request("POST", &path, &[FORM], ONE_CLICK).await.status, 200);
    }
    let again = s.store.read().unwrap().suppression("kim@example.com").unwrap().unwrap();
    assert_eq!(again, first, "the first suppression stands");
    let unsub: Vec<_> =
        s.events("kim@example.com").into_iter().filter(|e| e.kind == winback::domain::EventKind::Unsubscribe).collect();
    assert_eq!(unsub.len(), 1, "counted once");
    assert_eq!(unsub[0].message, Some(id));
    // The page now says so.
    assert!(s.get(&path, CHROME).await.text().contains("You are unsubscribed"));
}

#[tokio::test]
async fn multipart_one_click_is_accepted() {
    let s = Server::start("").await;
    let id = s.add_message("lee@example.com", &[], HOUR);
    let body =
        "--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0undary--\r\n";
    let r = s
        .request(
            "POST",
            &format!("/u/{}", s.token(Purpose::Unsubscribe, id, 0)),
            &[("Content-Type", "multipart/form-data; boundary=b0undary")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.suppression("lee@example.com").as_deref(), Some("unsubscribed"));
}

#[tokio::test]
async fn wrong_bodies_and_bad_tokens_suppress_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("max@example.com", &[], HOUR);
    let path = format!("/u/{}", s.token(Purpose::Unsubscribe, id, 0));
    assert_eq!(s.request("POST", &path, &[FORM], b"").await.status, 400);
    assert_eq!(s.request("POST", &path, &[FORM], b"List-Unsubscribe=Maybe").await.status, 400);
    assert_eq!(s.request("POST", &path, &[("Content-Type", "application/json")], ONE_CLICK).await.status, 400);
    let big = vec![b'a'; 9 * 1024];
    assert_eq!(s.request("POST", &path, &[FORM], &big).await.status, 413);
    // A click token, a truncated token, a forged one.
    for bad in [s.token(Purpose::Click, id, 0), path[3..path.len() - 1].to_string(), "a".repeat(34)] {
        assert_eq!(s.request("POST", &format!("/u/{bad}"), &[FORM], ONE_CLICK).await.status, 404, "{bad}");
    }
    assert_eq!(s.suppression("max@example.com"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_presses_the_button_and_the_contact_is_suppressed() {
    let s = Server::start("").await;
    let id = s.add_message("nia@example.com", &[], HOUR);
    let url = format!("http://{}/u/{}", s.addr, s.token(Purpose::Unsubscribe, id, 0));
    let (before, after) = tokio::task::spawn_blocking(move || -> Result<(String, String), String> {
        let mut b = Browser::launch()?;
        b.navigate(&url)?;
        let before = b.eval("document.body.innerText")?.as_str().unwrap_or_default().to_string();
        b.click_and_wait("#unsubscribe")?;
        let after = b.eval("document.body.innerText")?.as_str().unwrap_or_default().to_string();
        Ok((before, after))
    })
    .await
    .expect("browser task")
    .unwrap_or_else(|e| panic!("browser: {e}"));
    assert!(before.contains("Stop all mail from us"), "{before}");
    assert!(after.contains("You are unsubscribed"), "{after}");
    assert_eq!(s.suppression("nia@example.com").as_deref(), Some("unsubscribed"));
}
