//! Bounds: overload answers 503 at once, slow requests time out (408),
//! clients slow to send headers or idle on a kept-alive connection are
//! disconnected, and shutdown lets requests in flight finish.

mod http_support;

use std::time::{Duration, Instant};

use http_support::{API_TOKEN, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a connection and sends an events request whose body is only
/// partly sent: the request holds its concurrency slot until finished.
async fn slow_post(s: &Server, body: &str, sent: usize) -> TcpStream {
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&body.as_bytes()[..sent]).await.unwrap();
    c
}

async fn read_all(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut out)).await.expect("answer in time");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn over_the_concurrency_limit_requests_get_503_at_once() {
    let s = Server::start("max_concurrency = 1").await;
    s.add_contact("ann@example.com");
    let body = r#"{"email":"ann@example.com","kind":"login"}"#;
    let mut slow = slow_post(&s, body, 5).await;
    // Let the slow request take the only slot.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = s.request("GET", "/healthz", &[], b"").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(started.elapsed() < Duration::from_secs(2), "shed at once, not queued");
    // The slow request still completes.
    slow.write_all(&body.as_bytes()[5..]).await.unwrap();
    let answer = read_all(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(s.request("GET", "/healthz", &[], b"").await.status, 200, "slot free again");
    assert_eq!(s.events("ann@example.com").len(), 1);
}

#[tokio::test]
async fn a_request_slower_than_the_deadline_gets_408() {
    let s = Server::start("request_timeout = \"500ms\"").await;
    let mut slow = slow_post(&s, r#"{"email":"a@example.com","kind":"login"}"#, 3).await;
    let started = Instant::now();
    let answer = read_all(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let s = Server::start("header_timeout = \"500ms\"").await;
    // Headers never finished.
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let _ = read_all(&mut c).await;
    assert!(started.elapsed() < Duration::from_secs(5), "closed after the header timeout");

    // A kept-alive connection that goes quiet after one request.
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let answer = read_all(&mut c).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "idle connection closed");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes_requests_in_flight() {
    let mut s = Server::start("").await;
    s.add_contact("bo@example.com");
    let body = r#"{"email":"bo@example.com","kind":"login"}"#;
    let mut slow = slow_post(&s, body, 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.cancel.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(TcpStream::connect(s.addr).await.is_err(), "no longer accepting");
    slow.write_all(&body.as_bytes()[5..]).await.unwrap();
    let answer = read_all(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s.stop().await;
    assert_eq!(s.events("bo@example.com").len(), 1, "recorded before the answer");
}
