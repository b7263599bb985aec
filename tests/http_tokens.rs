//! Tokens on the open pixel and the click redirect: genuine ones record an
//! event and answer; forged, truncated, altered, cross-purpose and
//! tampered-index ones get 404 and record nothing, and so does every other
//! spelling of a genuine token; a token of a retired key works during the
//! key overlap and not after; replays are recorded as what they are; the
//! redirect never goes anywhere the request names.

mod http_support;

use http_support::{CHROME, FORM, ONE_CLICK, Server};
use winback::domain::Origin;
use winback::token::Purpose;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn genuine_open_serves_the_pixel_and_records_a_human_open() {
    let s = Server::start("").await;
    let id = s.add_message("ann@example.com", &[], HOUR);
    let r = s.get(&format!("/o/{}.gif", s.token(Purpose::Open, id, 0)), CHROME).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/gif"));
    assert!(r.header("cache-control").unwrap_or("").contains("no-store"));
    assert!(r.body.starts_with(b"GIF89a"));
    let ev = s.events("ann@example.com");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].kind.as_str(), ev[0].origin, ev[0].message), ("open", Origin::Human, Some(id)));
}

#[tokio::test]
async fn forged_truncated_altered_and_cross_purpose_tokens_get_404_and_record_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("bob@example.com", &["https://shop.example/a"], HOUR);
    let open = s.token(Purpose::Open, id, 0);
    let click = s.token(Purpose::Click, id, 0);
    let other_secret = winback::token::Keys::from_secret([9; 32]).sign(Purpose::Open, id, 0);
    let mut altered = open.clone().into_bytes();
    altered[4] = if altered[4] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    let paths = [
        format!("/o/{}.gif", &open[..open.len() - 1]),
        format!("/o/{}.gif", &open[..10]),
        format!("/o/{altered}.gif"),
        format!("/o/{other_secret}.gif"),
        format!("/o/{open}"),
        format!("/o/{click}.gif"),
        format!("/c/{open}"),
        format!("/u/{click}"),
        format!("/c/{}", &click[..click.len() - 2]),
        "/o/.gif".to_string(),
        "/c/%00%ff".to_string(),
        format!("/c/{}", "a".repeat(5000)),
    ];
    for p in &paths {
        let r = s.get(p, CHROME).await;
        assert_eq!(r.status, 404, "{p}: {}", r.text());
        assert!(r.header("location").is_none(), "{p}");
    }
    // A valid token for a message the store does not have.
    let r = s.get(&format!("/o/{}.gif", s.token(Purpose::Open, id + 1000, 0)), CHROME).await;
    assert_eq!(r.status, 404);
    assert!(s.events("bob@example.com").is_empty());
}

#[tokio::test]
async fn clicks_redirect_only_to_the_recorded_link_and_a_tampered_index_is_refused() {
    let s = Server::start("").await;
    let links = ["https://shop.example/a", "https://shop.example/b?x=1&y=2"];
    let id = s.add_message("cy@example.com", &links, HOUR);
    let r = s.get(&format!("/c/{}?url=https://evil.example/", s.token(Purpose::Click, id, 1)), CHROME).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some(links[1]), "the query string names nothing");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));

    // Index 2 does not exist: a token signed for it is refused, and so is
    // a token whose index bytes were changed after signing.
    let r = s.get(&format!("/c/{}", s.token(Purpose::Click, id, 2)), CHROME).await;
    assert_eq!(r.status, 404);
    let genuine = s.token(Purpose::Click, id, 0);
    let tampered = tamper_index(&genuine, 1);
    assert_ne!(tampered, genuine);
    let r = s.get(&format!("/c/{tampered}"), CHROME).await;
    assert_eq!(r.status, 404, "tampered index");
    let ev = s.events("cy@example.com");
    assert_eq!(ev.len(), 1, "only the genuine click: {ev:?}");
    assert_eq!((ev[0].kind.as_str(), ev[0].reference.as_deref()), ("click", Some(links[1])));
}

/// Re-encodes a click token with another link index but the old tag.
fn tamper_index(token: &str, index: u16) -> String {
    let mut bits: Vec<u8> = token
        .bytes()
        .flat_map(|c| {
            let v = if c.is_ascii_lowercase() { c - b'a' } else { c - b'2' + 26 };
            (0..5).rev().map(move |i| (v >> i) & 1)
        })
        .collect();
    // Layout: purpose (8 bits) | message (64) | extra (16) | tag.
    for i in 0..16 {
        bits[72 + i] = ((index >> (15 - i)) & 1) as u8;
    }
    bits.chunks(5)
        .map(|ch| {
            let v = ch.iter().fold(0u8, |acc, b| (acc << 1) | b) << (5 - ch.len());
            b"abcdefghijklmnopqrstuvwxyz234567"[v as usize] as char
        })
        .collect()
}

#[tokio::test]
async fn replayed_tokens_record_each_request_as_what_it_is() {
    let s = Server::start("").await;
    let id = s.add_message("dee@example.com", &["https://shop.example/a", "https://shop.example/b"], HOUR);
    let open = format!("/o/{}.gif", s.token(Purpose::Open, id, 0));
    for _ in 0..3 {
        assert_eq!(s.get(&open, CHROME).await.status, 200);
    }
    // The same token replayed by a scanner is recorded, but as a machine.
    assert_eq!(s.get(&open, "curl/8.5.0").await.status, 200);
    // A link checker replaying both links within the same second.
    for link in [0, 1] {
        let r = s.get(&format!("/c/{}", s.token(Purpose::Click, id, link)), CHROME).await;
        assert_eq!(r.status, 302);
    }
    let ev = s.events("dee@example.com");
    let origins: Vec<(&str, Origin)> = ev.iter().map(|e| (e.kind.as_str(), e.origin)).collect();
    assert_eq!(
        origins,
        [
            ("open", Origin::Human),
            ("open", Origin::Human),
            ("open", Origin::Human),
            ("open", Origin::Machine),
            ("click", Origin::Human),
            ("click", Origin::Machine),
        ]
    );
}

#[tokio::test]
async fn head_requests_answer_but_record_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("eve@example.com", &["https://shop.example/a"], HOUR);
    let r = s.request("HEAD", &format!("/c/{}", s.token(Purpose::Click, id, 0)), &[], b"").await;
    assert_eq!((r.status, r.header("location")), (302, Some("https://shop.example/a")));
    let r = s.request("HEAD", &format!("/o/{}.gif", s.token(Purpose::Open, id, 0)), &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(s.events("eve@example.com").is_empty());
}

#[tokio::test]
async fn opens_right_after_sending_and_apple_proxy_opens_are_machine() {
    // Loopback is a trusted proxy here, so X-Forwarded-For is believed.
    let s = Server::start("trusted_proxies = [\"127.0.0.0/8\"]").await;
    let fresh = s.add_message("fay@example.com", &[], 0);
    let old = s.add_message("fay@example.com", &[], HOUR);
    s.get(&format!("/o/{}.gif", s.token(Purpose::Open, fresh, 0)), CHROME).await;
    let r = s
        .request(
            "GET",
            &format!("/o/{}.gif", s.token(Purpose::Open, old, 0)),
            &[("User-Agent", CHROME), ("X-Forwarded-For", "17.58.1.9")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    // Without the proxy address the same open is a person's.
    s.get(&format!("/o/{}.gif", s.token(Purpose::Open, old, 0)), CHROME).await;
    let origins: Vec<Origin> = s.events("fay@example.com").iter().map(|e| e.origin).collect();
    assert_eq!(origins, [Origin::Machine, Origin::Machine, Origin::Human]);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let s = Server::start("").await;
    let id = s.add_message("gus@example.com", &[], HOUR);
    s.request(
        "GET",
        &format!("/o/{}.gif", s.token(Purpose::Open, id, 0)),
        &[("User-Agent", CHROME), ("X-Forwarded-For", "17.58.1.9")],
        b"",
    )
    .await;
    assert_eq!(s.events("gus@example.com")[0].origin, Origin::Human);
}

/// Spellings of `t` a lenient decoder would accept: the spare bits of the
/// last character set, a character added, one removed, upper case.
fn other_spellings(t: &str) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let (head, last) = t.split_at(t.len() - 1);
    let v = ALPHABET.iter().position(|&a| a == last.as_bytes()[0]).unwrap();
    // 34 characters carry 168 bits (2 spare), 37 carry 184 (1 spare).
    let spare = t.len() * 5 % 8;
    let mut out: Vec<String> =
        (1..1usize << spare).map(|bits| format!("{head}{}", ALPHABET[v ^ bits] as char)).collect();
    out.extend([format!("{t}a"), format!("{t}q"), head.to_string()]);
    out.push(t.to_ascii_uppercase());
    out.push(format!("{}{}", head.to_ascii_uppercase(), last));
    out
}

/// Asserts every other spelling of the three tokens of message `id` gets
/// 404 on /o/, /c/ and /u/ (GET and one-click POST).
async fn other_spellings_get_404(s: &Server, id: u64) {
    let open = s.token(Purpose::Open, id, 0);
    let click = s.token(Purpose::Click, id, 0);
    let unsub = s.token(Purpose::Unsubscribe, id, 0);
    let mut tried = 0;
    for (o, (c, u)) in other_spellings(&open).iter().zip(other_spellings(&click).iter().zip(other_spellings(&unsub))) {
        for p in [format!("/o/{o}.gif"), format!("/c/{c}"), format!("/u/{u}")] {
            let r = s.get(&p, CHROME).await;
            assert_eq!(r.status, 404, "{p}: {}", r.text());
            assert!(r.header("location").is_none(), "{p}");
        }
        let r = s.request("POST", &format!("/u/{u}"), &[FORM], ONE_CLICK).await;
        assert_eq!(r.status, 404, "POST /u/{u}");
        tried += 1;
    }
    assert!(tried >= 5, "{tried} spellings");
}

#[tokio::test]
async fn every_other_spelling_of_a_genuine_token_gets_404_and_records_nothing() {
    let s = Server::start("").await;
    let id = s.add_message("hal@example.com", &["https://shop.example/a"], HOUR);
    other_spellings_get_404(&s, id).await;
    // And the same for tokens of a rotated key (the longer layout).
    s.keys.rotate().expect("rotate");
    assert_eq!(s.token(Purpose::Open, id, 0).len(), 37);
    other_spellings_get_404(&s, id).await;
    assert!(s.events("hal@example.com").is_empty());
    assert_eq!(s.suppression("hal@example.com"), None);
    // The genuine spellings still work.
    let r = s.get(&format!("/c/{}", s.token(Purpose::Click, id, 0)), CHROME).await;
    assert_eq!(r.status, 302);
    assert_eq!(s.events("hal@example.com").len(), 1);
}

#[tokio::test]
async fn a_retired_key_verifies_during_the_overlap() {
    let s = Server::start("").await;
    let id = s.add_message("ida@example.com", &[], HOUR);
    let old = s.token(Purpose::Open, id, 0);
    let old_unsub = s.token(Purpose::Unsubscribe, id, 0);
    s.keys.rotate().expect("rotate");
    let new = s.token(Purpose::Open, id, 0);
    assert_ne!(old, new);
    for t in [&old, &new] {
        assert_eq!(s.get(&format!("/o/{t}.gif"), CHROME).await.status, 200, "{t}");
    }
    assert_eq!(s.events("ida@example.com").len(), 2);
    // The unsubscribe link of mail sent before the rotation still works.
    let r = s.request("POST", &format!("/u/{old_unsub}"), &[FORM], ONE_CLICK).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.suppression("ida@example.com").as_deref(), Some("unsubscribed"));
}

#[tokio::test]
async fn a_retired_key_stops_verifying_when_its_overlap_is_over() {
    // A zero overlap: the retired key is over at once (how a leaked key is revoked).
    let s = Server::start("[tokens]\nkey_overlap = \"0s\"").await;
    let id = s.add_message("jo@example.com", &[], HOUR);
    let old = s.token(Purpose::Open, id, 0);
    let old_unsub = s.token(Purpose::Unsubscribe, id, 0);
    assert_eq!(s.get(&format!("/o/{old}.gif"), CHROME).await.status, 200, "before the rotation");
    s.keys.rotate().expect("rotate");
    assert_eq!(s.get(&format!("/o/{old}.gif"), CHROME).await.status, 404);
    assert_eq!(s.request("POST", &format!("/u/{old_unsub}"), &[FORM], ONE_CLICK).await.status, 404);
    assert_eq!(s.get(&format!("/o/{}.gif", s.token(Purpose::Open, id, 0)), CHROME).await.status, 200);
    assert_eq!(s.events("jo@example.com").len(), 2, "the open before the rotation and the new token's");
    assert_eq!(s.suppression("jo@example.com"), None);
}
