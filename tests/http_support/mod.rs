//! In-process harness for the HTTP tests: a temp store, the real routers
//! (public and metrics) served on loopback ports picked by the kernel, and a minimal HTTP/1.1
//! client speaking raw bytes (so tests can send what a browser would not:
//! forged tokens, slow bodies, oversized bodies).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use winback::clock::{Clock, Millis};
use winback::config::Config;
use winback::domain::{Contact, Event};
use winback::http::{HttpState, metrics_router, router, serve};
use winback::store::{MessageRecord, MessageState, Store};
use winback::token::{Keys, Purpose};

/// The API token tests use.
pub const API_TOKEN: &str = "test-token-0123456789abcdef";

/// The content type of a one-click unsubscribe POST.
pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
/// The body of a one-click unsubscribe POST (RFC 8058).
pub const ONE_CLICK: &[u8] = b"List-Unsubscribe=One-Click";

/// A browser-like agent.
pub const CHROME: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// A running server over a temp store.
pub struct Server {
    pub addr: SocketAddr,
    /// The metrics listener.
    pub metrics_addr: SocketAddr,
    pub store: Store,
    pub keys: Keys,
    pub cfg: Arc<Config>,
    pub clock: Clock,
    pub cancel: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts with `extra` TOML added to a config whose state dir and API
    /// token file live in a temp dir (`{dir}` in `extra` names it).
    pub async fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("api-token"), format!("{API_TOKEN}\n")).expect("token file");
        let extra = extra.replace("{dir}", &d);
        // `extra` goes right after `[http]`: its leading keys are `[http]`
        // keys, and it may open other tables after them.
        let toml = format!(
            "state_dir = \"{d}/state\"\n[sender]\npublic_base_url = \"http://127.0.0.1:1\"\n[http]\napi_token_file = \"{d}/api-token\"\n{extra}\n"
        );
        let cfg = Arc::new(Config::from_toml("test", &toml).unwrap_or_else(|e| panic!("test config: {e}\n{toml}")));
        Self::start_with(cfg, dir).await
    }

    /// Starts with a ready config (its state dir is used).
    pub async fn start_with(cfg: Arc<Config>, dir: tempfile::TempDir) -> Server {
        let store = Store::open(&cfg.state_dir).expect("store");
        let clock = Clock::system();
        let keys = Keys::open(&cfg.state_dir, &cfg.tokens, clock).expect("keys");
        let committer = store.committer(1024);
        let (journal, folder) =
            winback::engine::journal(&store, committer.clone(), cfg.clone(), 1024).expect("journal");
        tokio::spawn(folder);
        let state = HttpState::new(cfg.clone(), store.clone(), committer, journal, keys.clone(), clock);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cancel = CancellationToken::new();
        let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind metrics");
        let metrics_addr = metrics_listener.local_addr().expect("metrics addr");
        let (app, c, http_cfg) = (metrics_router(state.clone()), cancel.clone(), cfg.http.clone());
        tokio::spawn(async move { serve(metrics_listener, app, &http_cfg, c).await });
        let app = router(state);
        let (c, http_cfg) = (cancel.clone(), cfg.http.clone());
        let task = tokio::spawn(async move { serve(listener, app, &http_cfg, c).await.expect("http accept loop") });
        Server { addr, metrics_addr, store, keys, cfg, clock, cancel, task: Some(task), dir }
    }

    /// Stops the server and waits for it.
    pub async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t).await.expect("server stops").expect("server task");
        }
    }

    /// Adds a contact and a sent message to it (sent `sent_ago_ms` ago);
    /// returns the message id.
    pub fn add_message(&self, email: &str, links: &[&str], sent_ago_ms: Millis) -> u64 {
        let now = self.clock.now();
        self.store
            .write(|w| {
                if w.contact(email)?.is_none() {
                    w.put_contact(None, &Contact::new(email, now - 86_400_000))?;
                }
                let id = w.next_id("message")?;
                let m = MessageRecord {
                    id,
                    email: email.to_string(),
                    sequence: "winback".into(),
                    step: 0,
                    created_at: now - sent_ago_ms - 1_000,
                    state: MessageState::Sent,
                    attempts: 1,
                    first_attempt_at: Some(now - sent_ago_ms),
                    sent_at: Some(now - sent_ago_ms),
                    message_id: None,
                    last_reply: None,
                    links: links.iter().map(|s| s.to_string()).collect(),
                    variant: None,
                };
                w.put_message(None, &m)?;
                Ok(id)
            })
            .expect("add message")
    }

    /// Adds a contact only.
    pub fn add_contact(&self, email: &str) {
        let now = self.clock.now();
        self.store.write(|w| w.put_contact(None, &Contact::new(email, now))).expect("add contact");
    }

    /// A token for a message.
    pub fn token(&self, purpose: Purpose, id: u64, extra: u16) -> String {
        self.keys.sign(purpose, id, extra)
    }

    /// The events recorded for an address.
    pub fn events(&self, email: &str) -> Vec<Event> {
        self.store.read().expect("read").events_of(email).expect("events")
    }

    /// Whether an address is suppressed, and why.
    pub fn suppression(&self, email: &str) -> Option<String> {
        self.store.read().expect("read").suppression(email).expect("suppression").map(|s| s.reason.to_string())
    }

    /// Sends one request (Connection: close) and reads the answer.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (k, v) in headers {
            raw += &format!("{k}: {v}\r\n");
        }
        if !body.is_empty() || method == "POST" {
            raw += &format!("Content-Length: {}\r\n", body.len());
        }
        raw += "\r\n";
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes).await
    }

    /// Sends raw bytes to the public listener ([`raw_to`]).
    pub async fn raw(&self, bytes: &[u8]) -> Resp {
        raw_to(self.addr, bytes).await
    }

    /// `GET path` on the metrics listener.
    pub async fn get_metrics(&self, path: &str) -> Resp {
        raw_to(self.metrics_addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
    }

    /// `GET` with a user agent.
    pub async fn get(&self, path: &str, user_agent: &str) -> Resp {
        self.request("GET", path, &[("User-Agent", user_agent)], b"").await
    }

    /// `POST /api/v1/events` with the test token.
    pub async fn post_events(&self, json: &str) -> Resp {
        let auth = format!("Bearer {API_TOKEN}");
        self.request(
            "POST",
            "/api/v1/events",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A parsed answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    fn parse(raw: &[u8]) -> Resp {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in answer: {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line: {head}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Resp { status, headers, body }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// Sends raw bytes to `addr`, reads until the server closes, parses the
/// answer. A server may answer early (413) and close while bytes are still
/// unread, which resets the connection: what arrived before counts.
pub async fn raw_to(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await.expect("answer in time");
    if let Err(e) = read {
        assert!(!out.is_empty(), "connection failed before any answer: {e}");
    }
    Resp::parse(&out)
}
