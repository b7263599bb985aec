//! The composer's HTML hook and the server agree: every rewritten link of
//! an instrumented message redirects to its original URL, the pixel
//! records an open, and the unsubscribe link is left as it was.

mod http_support;

use http_support::{CHROME, Server};
use winback::http::instrument::unsubscribe_url;
use winback::http::{InstrumentOptions, instrument_html};

#[tokio::test]
async fn instrumented_links_and_pixel_resolve_on_the_server() {
    let s = Server::start("").await;
    // Create the message first (its id goes into the tokens), then store
    // the links the hook returns, as the composer does.
    let id = s.add_message("ola@example.com", &[], 3_600_000);
    let base = format!("http://{}", s.addr);
    let unsub = unsubscribe_url(&s.keys, id, &base);
    let html = format!(
        r#"<html><body><a href="https://shop.example/new?a=1&amp;b=2">New</a>
<a href="https://shop.example/sale">Sale</a><a href="mailto:help@shop.example">Help</a>
<a href="{unsub}">Unsubscribe</a></body></html>"#
    );
    let (out, links) =
        instrument_html(&html, InstrumentOptions { opens: true, clicks: true, text_links: true }, &s.keys, id, &base);
    assert_eq!(links, ["https://shop.example/new?a=1&b=2", "https://shop.example/sale"]);
    assert!(out.contains(&format!("href=\"{unsub}\"")), "unsubscribe link untouched");
    assert!(out.contains("href=\"mailto:help@shop.example\""));
    s.store
        .write(|w| {
            let old = w.message(id)?.expect("message");
            let mut new = old.clone();
            new.links = links.clone();
            w.put_message(Some(&old), &new)
        })
        .unwrap();

    let hrefs: Vec<&str> = out
        .split("href=\"")
        .skip(1)
        .filter_map(|p| p.split('"').next())
        .filter(|h| h.starts_with(&format!("{base}/c/")))
        .collect();
    assert_eq!(hrefs.len(), 2);
    for (href, original) in hrefs.iter().zip(&links) {
        let r = s.get(&href[base.len()..], CHROME).await;
        assert_eq!((r.status, r.header("location")), (302, Some(original.as_str())), "{href}");
    }
    let pixel = out.split("<img src=\"").nth(1).and_then(|p| p.split('"').next()).expect("pixel");
    assert_eq!(s.get(&pixel[base.len()..], CHROME).await.status, 200);
    let kinds: Vec<String> = s.events("ola@example.com").into_iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["click", "click", "open"]);
}
