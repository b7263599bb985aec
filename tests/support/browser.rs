//! A real headless Chromium driven over the DevTools protocol, with a
//! minimal blocking WebSocket client (RFC 6455 text frames, client
//! masking, ping/pong, fragmentation): enough to open a page, read it and
//! press a button with real mouse events, as a person would.
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`, or
//! `$CHROMIUM`); without it, [`Browser::launch`] fails with an install hint.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket,
    session: String,
    next_id: u64,
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium on a free DevTools port with a throwaway profile and
    /// opens a blank page.
    pub fn launch() -> Result<Browser, String> {
        let bin = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        if !bin.exists() {
            return Err(format!(
                "{} not found: install Debian's `chromium` package (apt-get install chromium) or set CHROMIUM",
                bin.display()
            ));
        }
        let profile = tempfile::tempdir().map_err(|e| format!("profile dir: {e}"))?;
        let child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        // Chromium writes "PORT\n/devtools/browser/ID" once it listens.
        let active = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&active) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.trim().to_string(), path.trim().to_string());
                }
            }
            if Instant::now() > deadline {
                return Err("Chromium did not open its DevTools port within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let ws = WebSocket::connect(&format!("127.0.0.1:{port}"), &path)?;
        let mut b = Browser { child, ws, session: String::new(), next_id: 0, events: Vec::new(), _profile: profile };
        let target = b.call_browser("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_string();
        let attached = b.call_browser("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))?;
        b.session = attached["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        b.call("Page.enable", json!({}))?;
        b.call("Runtime.enable", json!({}))?;
        Ok(b)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send_text(&msg.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline {
                return Err(format!("no answer to {method}"));
            }
            let v: Value = serde_json::from_str(&self.ws.recv_text()?).map_err(|e| format!("DevTools JSON: {e}"))?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, false)
    }

    /// Sends a command to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, true)
    }

    /// Waits for a page event (e.g. `Page.loadEventFired`) seen after the
    /// last call to this function.
    pub fn wait_event(&mut self, method: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
                let e = self.events.remove(i);
                self.events.clear();
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(format!("no {method} within {timeout:?}"));
            }
            let v: Value = serde_json::from_str(&self.ws.recv_text()?).map_err(|e| format!("DevTools JSON: {e}"))?;
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Opens a URL and waits for the page to load.
    pub fn navigate(&mut self, url: &str) -> Result<(), String> {
        self.events.clear();
        let r = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(err) = r.get("errorText") {
            return Err(format!("navigate {url}: {err}"));
        }
        self.wait_event("Page.loadEventFired", Duration::from_secs(20)).map(|_| ())
    }

    /// Evaluates JavaScript in the page (for reading it) and returns the value.
    pub fn eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call("Runtime.evaluate", json!({ "expression": expr, "returnByValue": true }))?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!("{expr}: {ex}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Saves a PNG of the whole page (`width` CSS pixels wide, as tall as
    /// the page) to `path`.
    pub fn screenshot(&mut self, path: &std::path::Path, width: u32) -> Result<(), String> {
        use base64::Engine as _;
        let metrics = |h: u64| json!({ "width": width, "height": h, "deviceScaleFactor": 1, "mobile": false });
        self.call("Emulation.setDeviceMetricsOverride", metrics(800))?;
        let height =
            self.eval("Math.ceil(document.documentElement.scrollHeight)")?.as_u64().unwrap_or(800).clamp(200, 16_000);
        self.call("Emulation.setDeviceMetricsOverride", metrics(height))?;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Presses the element matching `selector` with the mouse, like a
    /// person: move, press, release at its centre. Then waits for the page
    /// that follows to load.
    pub fn click_and_wait(&mut self, selector: &str) -> Result<(), String> {
        self.click_and_wait_none(selector)?;
        self.wait_event("Page.loadEventFired", Duration::from_secs(20)).map(|_| ())
    }

    /// Presses the element matching `selector` with the mouse, as
    /// [`Self::click_and_wait`] does, for a click that loads no page
    /// (a radio button, a text field).
    pub fn click_and_wait_none(&mut self, selector: &str) -> Result<(), String> {
        let sel = serde_json::to_string(selector).map_err(|e| e.to_string())?;
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView(); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ))?;
        let (Some(x), Some(y)) = (rect[0].as_f64(), rect[1].as_f64()) else {
            return Err(format!("no element {selector} on the page"));
        };
        self.events.clear();
        for (kind, buttons) in [("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 0)] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 }),
            )?;
        }
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client WebSocket over plain TCP.
struct WebSocket {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl WebSocket {
    fn connect(addr: &str, path: &str) -> Result<WebSocket, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let mut w = stream.try_clone().map_err(|e| e.to_string())?;
        // The key only has to be 16 random-looking bytes in base64; the
        // server's accept hash is not checked (we trust our own Chromium).
        write!(
            w,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: d2luYmFjay10ZXN0LWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut status = String::new();
        reader.read_line(&mut status).map_err(|e| e.to_string())?;
        if !status.contains(" 101 ") {
            return Err(format!("WebSocket upgrade refused: {status}"));
        }
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Ok(WebSocket { stream: w, reader })
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        let mut frame = vec![0x80 | opcode];
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len <= 0xffff {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask: [u8; 4] = rand::random();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).map_err(|e| format!("WebSocket write: {e}"))
    }

    fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.send_frame(0x1, text.as_bytes())
    }

    fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).map_err(|e| format!("WebSocket read: {e}"))?;
        Ok(buf)
    }

    /// The next complete text message (answering pings on the way).
    fn recv_text(&mut self) -> Result<String, String> {
        let mut message = Vec::new();
        loop {
            let head = self.read_exact(2)?;
            let (fin, opcode, masked) = (head[0] & 0x80 != 0, head[0] & 0x0f, head[1] & 0x80 != 0);
            let len = match head[1] & 0x7f {
                126 => {
                    let b = self.read_exact(2)?;
                    u64::from(u16::from_be_bytes([b[0], b[1]]))
                }
                127 => {
                    let b = self.read_exact(8)?;
                    u64::from_be_bytes(b.try_into().map_err(|_| "WebSocket length")?)
                }
                n => u64::from(n),
            };
            let mask = if masked { Some(self.read_exact(4)?) } else { None };
            let len = usize::try_from(len).map_err(|_| "WebSocket frame too large")?;
            let mut payload = self.read_exact(len)?;
            if let Some(m) = mask {
                payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= m[i % 4]);
            }
            match opcode {
                0x0..=0x2 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message).map_err(|e| format!("WebSocket text: {e}"));
                    }
                }
                0x8 => return Err("Chromium closed the DevTools connection".into()),
                0x9 => self.send_frame(0xA, &payload)?,
                _ => {}
            }
        }
    }
}
