//! The events API: authentication (401), validation naming the field
//! (400), size limits (413), per-item reports for unknown addresses,
//! optional creation of contacts, and the contact lookup.

mod http_support;

use http_support::{API_TOKEN, Server};
use winback::domain::Origin;

#[tokio::test]
async fn without_a_valid_token_nothing_is_recorded() {
    let s = Server::start("").await;
    s.add_contact("ann@example.com");
    let body = br#"{"email":"ann@example.com","kind":"login"}"#;
    for auth in [None, Some("Bearer wrong-token-0123456789"), Some("Basic dXNlcjpwYXNz"), Some("Bearer ")] {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let r = s.request("POST", "/api/v1/events", &headers, body).await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
        assert!(r.json()["error"].is_string());
    }
    let r = s.request("GET", "/api/v1/contacts/ann@example.com", &[], b"").await;
    assert_eq!(r.status, 401);
    assert!(s.events("ann@example.com").is_empty());
}

#[tokio::test]
async fn an_api_without_a_token_file_refuses_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("state_dir = \"{}/state\"", dir.path().display());
    let cfg = std::sync::Arc::new(winback::config::Config::from_toml("t", &toml).unwrap());
    let s = Server::start_with(cfg, dir).await;
    let auth = format!("Bearer {API_TOKEN}");
    let r = s.request("POST", "/api/v1/events", &[("Authorization", &auth)], b"{}").await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap().contains("api_token_file"));
}

#[tokio::test]
async fn events_are_recorded_and_unknown_addresses_reported_per_item() {
    let s = Server::start("").await;
    s.add_contact("bob@example.com");
    let r = s
        .post_events(
            r#"[{"email":" Bob@Example.com ","kind":"purchase","value":49.9,"ref":"A-17","at":"2024-01-02T03:04:05Z"},
                {"email":"nobody@example.com","kind":"login"},
                {"email":"bob@example.com","kind":"visit"}]"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!((j["recorded"].as_u64(), j["unknown"].as_u64()), (Some(2), Some(1)), "{j}");
    assert_eq!(j["results"][1]["status"], "unknown_contact");
    assert_eq!(j["results"][1]["email"], "nobody@example.com");
    assert_eq!(j["results"][0]["status"], "recorded");
    let ev = s.events("bob@example.com");
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].kind.as_str(), ev[0].value, ev[0].reference.as_deref(), ev[0].origin),
        ("purchase", Some(49.9), Some("A-17"), Origin::Human)
    );
    assert_eq!(ev[0].at, winback::clock::parse_time("2024-01-02T03:04:05Z").unwrap());
    assert!(s.store.read().unwrap().contact("nobody@example.com").unwrap().is_none(), "not created");
}

#[tokio::test]
async fn unknown_addresses_become_contacts_when_configured() {
    let s = Server::start("create_unknown_contacts = true\nevent_kinds = [\"trial\"]").await;
    let r = s.post_events(r#"{"email":"new@example.com","kind":"trial"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["results"][0]["status"], "recorded");
    assert!(s.store.read().unwrap().contact("new@example.com").unwrap().is_some());
    // The contact lookup shows it.
    let auth = format!("Bearer {API_TOKEN}");
    let r = s.request("GET", "/api/v1/contacts/NEW@example.com", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["email"], "new@example.com");
    assert_eq!(j["contact"]["state"]["state"], "idle");
    assert_eq!(j["events"][0]["kind"], "trial");
    assert!(j["suppression"].is_null());
    let r = s.request("GET", "/api/v1/contacts/ghost@example.com", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["field"], "email");
}

#[tokio::test]
async fn bad_events_get_400_naming_the_field_and_nothing_is_recorded() {
    let s = Server::start("").await;
    s.add_contact("cy@example.com");
    let cases = [
        (r#"{"kind":"login"}"#, "email"),
        (r#"{"email":"not-an-address","kind":"login"}"#, "email"),
        (r#"{"email":"cy@example.com","kind":"teleport"}"#, "kind"),
        (r#"{"email":"cy@example.com","kind":"open"}"#, "kind"),
        (r#"{"email":"cy@example.com","kind":"login","at":"soon"}"#, "at"),
        (r#"{"email":"cy@example.com","kind":"login","value":"lots"}"#, "value"),
        (r#"{"email":"cy@example.com","kind":"login","extra":1}"#, "extra"),
        (r#"[{"email":"cy@example.com","kind":"login"},{"email":"cy@example.com"}]"#, "[1].kind"),
        (r#"[{"email":"cy@example.com","kind":"purchase","value":1e308}]"#, "[0].value"),
        (r#"{"email":"cy@example.com","kind":"purchase","value":-1e308}"#, "value"),
        (
            r#"[{"email":"cy@example.com","kind":"purchase","value":1},{"email":"cy@example.com","kind":"purchase","value":1000000000.5}]"#,
            "[1].value",
        ),
    ];
    for (body, field) in cases {
        let r = s.post_events(body).await;
        assert_eq!(r.status, 400, "{body}");
        let j = r.json();
        assert_eq!(j["field"], field, "{body}: {j}");
        assert!(j["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    for body in ["", "{", "42", "[]"] {
        let r = s.post_events(body).await;
        assert_eq!(r.status, 400, "{body:?}");
        assert!(r.json()["error"].is_string());
    }
    assert!(s.events("cy@example.com").is_empty(), "a batch with one bad item records nothing");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let s = Server::start("max_body = \"2KB\"\nmax_batch = 2").await;
    let item = r#"{"email":"dee@example.com","kind":"login","ref":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let big = format!("[{}]", vec![item; 40].join(","));
    assert!(big.len() > 2048);
    let r = s.post_events(&big).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("2048"));
    // Without a Content-Length (chunked), the limit holds while reading.
    let auth = format!("Bearer {API_TOKEN}");
    let mut raw = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in big.as_bytes().chunks(500) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(s.raw(&raw).await.status, 413);
    // Too many items is a 400 on the body as a whole.
    let r = s.post_events(&format!("[{item},{item},{item}]")).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("at most 2"));
}

#[tokio::test]
async fn healthz_answers() {
    let s = Server::start("").await;
    let r = s.request("GET", "/healthz", &[], b"").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
}

#[tokio::test]
async fn metrics_are_not_on_the_public_listener_but_on_their_own() {
    let s = Server::start("").await;
    s.add_contact("kim@example.com");
    let auth = format!("Bearer {API_TOKEN}");
    for headers in [vec![], vec![("Authorization", auth.as_str())]] {
        let r = s.request("GET", "/metrics", &headers, b"").await;
        assert_eq!(r.status, 404, "{}", r.text());
        assert!(!r.text().contains("winback_"));
    }
    let r = s.get_metrics("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("winback_contacts_total 1"), "{}", r.text());
    // The metrics listener serves nothing public.
    assert_eq!(s.get_metrics("/api/v1/contacts/kim@example.com").await.status, 404);
}

#[tokio::test]
async fn the_bound_on_values_is_configured() {
    let s = Server::start("max_event_value = 100.0").await;
    s.add_contact("lu@example.com");
    let r = s.post_events(r#"{"email":"lu@example.com","kind":"purchase","value":100.5}"#).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("value")));
    assert!(r.json()["error"].as_str().unwrap().contains("max_event_value"));
    let r = s.post_events(r#"{"email":"lu@example.com","kind":"purchase","value":99.5}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.events("lu@example.com")[0].value, Some(99.5));
}

#[tokio::test]
async fn a_contact_shows_its_fifty_latest_events_across_requests() {
    let s = Server::start("").await;
    s.add_contact("dee@example.com");
    s.add_contact("eli@example.com");
    // Three requests of 20, another contact's event between them: the
    // contact's history is three separate runs.
    for batch in 0..3 {
        let items: Vec<String> = (1..=20)
            .map(|i| format!(r#"{{"email":"dee@example.com","kind":"visit","ref":"E-{}"}}"#, batch * 20 + i))
            .collect();
        let r = s.post_events(&format!("[{}]", items.join(","))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = s.post_events(r#"{"email":"eli@example.com","kind":"visit","ref":"other"}"#).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let auth = format!("Bearer {API_TOKEN}");
    let r = s.request("GET", "/api/v1/contacts/dee@example.com", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let refs: Vec<String> =
        r.json()["events"].as_array().unwrap().iter().map(|e| e["ref"].as_str().unwrap().to_string()).collect();
    let want: Vec<String> = (11..=60).map(|i| format!("E-{i}")).collect();
    assert_eq!(refs, want, "the 50 latest, oldest first, none of another contact's");
}
