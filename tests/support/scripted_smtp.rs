//! A scripted SMTP server for tests: it listens on a loopback address and
//! answers RCPT and DATA by a [`Script`] ("messages 30 to 35 get `421 4.7.0
//! rate limited`", "recipients matching `^bad-` get `550 5.1.1`", "one in
//! ten gets `550 5.7.1 blocked`"), and records what it received and when.
//!
//! Messages are numbered by their RCPT commands, across connections, from
//! 0. A `421` reply closes the connection, as RFC 5321 says it does.
//! Connections, line lengths and message sizes are bounded.
//!
//! It also counts connections, to check a client's connection limits: the
//! most open at once ([`ScriptedSmtp::max_concurrent`]) and the
//! transactions (`MAIL` commands) each one carried
//! ([`ScriptedSmtp::messages_per_connection`]). A connection stops counting
//! as open when the client sends `QUIT`, before the `221` reply: a client
//! that waits for that reply before opening the next connection is never
//! seen with one too many.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const MAX_LINE: u64 = 4_096;
const MAX_DATA: usize = 1 << 20;
const MAX_CONNECTIONS: usize = 32;

/// An SMTP reply like `421 4.7.0 rate limited`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit code.
    pub code: u16,
    /// The rest of the line.
    pub text: String,
}

impl Reply {
    /// Parses `CODE text`; a malformed line is a test bug and panics with it.
    pub fn parse(line: &str) -> Reply {
        let (code, text) = line.split_once(' ').unwrap_or((line, ""));
        let code: u16 = code.parse().unwrap_or_else(|_| panic!("bad scripted reply `{line}`"));
        assert!((200..600).contains(&code), "bad scripted reply code in `{line}`");
        Reply { code, text: text.to_string() }
    }

    fn line(&self) -> String {
        format!("{} {}\r\n", self.code, self.text)
    }
}

/// Which messages a rule applies to.
#[derive(Debug, Clone)]
pub enum When {
    /// Every message.
    Always,
    /// Messages whose number is in the range.
    Messages(Range<usize>),
    /// One message in `k`: numbers `k-1`, `2k-1`, …
    OneIn(usize),
    /// Recipients whose address matches.
    Recipient(Regex),
}

impl When {
    fn matches(&self, index: usize, rcpt: &str) -> bool {
        match self {
            When::Always => true,
            When::Messages(r) => r.contains(&index),
            When::OneIn(k) => *k > 0 && index % k == k - 1,
            When::Recipient(re) => re.is_match(rcpt),
        }
    }
}

/// The SMTP stage a rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `RCPT TO`.
    Rcpt,
    /// The end of `DATA`.
    Data,
}

/// Ordered rules; the first that matches a message at a stage answers,
/// otherwise `250`.
#[derive(Debug, Clone, Default)]
pub struct Script {
    rules: Vec<(Stage, When, Reply)>,
    /// Advertise STARTTLS, then refuse it with this reply (a host with
    /// broken TLS).
    broken_starttls: Option<Reply>,
    /// Hold the greeting until this many connections have been open at
    /// once (or [`GREETING_HOLD`] has passed).
    greet_when_open: Option<usize>,
}

/// The longest a held greeting waits for the other connections.
pub const GREETING_HOLD: Duration = Duration::from_secs(10);

impl Script {
    /// Accepts everything.
    pub fn accept_all() -> Self {
        Script::default()
    }

    /// Offers STARTTLS in EHLO but answers the command with `reply`.
    pub fn broken_starttls(mut self, reply: &str) -> Self {
        self.broken_starttls = Some(Reply::parse(reply));
        self
    }

    /// Holds each connection's greeting until `n` connections have been
    /// open at the same time, once (or for [`GREETING_HOLD`]): a client
    /// that may open `n` connections at once is then seen doing so however
    /// fast each transaction ends, and one that opens them one after the
    /// other waits the hold out and is seen with fewer.
    pub fn greet_when_open(mut self, n: usize) -> Self {
        self.greet_when_open = Some(n);
        self
    }

    /// Adds a rule answering `RCPT TO`.
    pub fn rcpt(mut self, when: When, reply: &str) -> Self {
        self.rules.push((Stage::Rcpt, when, Reply::parse(reply)));
        self
    }

    /// Adds a rule answering the end of `DATA`.
    pub fn data(mut self, when: When, reply: &str) -> Self {
        self.rules.push((Stage::Data, when, Reply::parse(reply)));
        self
    }

    fn reply(&self, stage: Stage, index: usize, rcpt: &str) -> Reply {
        self.rules
            .iter()
            .find(|(s, w, _)| *s == stage && w.matches(index, rcpt))
            .map(|(_, _, r)| r.clone())
            .unwrap_or_else(|| Reply { code: 250, text: "2.0.0 OK".into() })
    }
}

/// One message (recipient) as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its number.
    pub index: usize,
    /// Time since the server started.
    pub at: Duration,
    /// `MAIL FROM` address.
    pub mail_from: String,
    /// `RCPT TO` address.
    pub rcpt: String,
    /// The last reply the message got (RCPT, or DATA when it got there).
    pub reply: u16,
    /// The message text, when DATA completed.
    pub data: Option<String>,
}

#[derive(Default)]
struct Shared {
    script: Script,
    next_index: usize,
    received: Vec<Received>,
    /// Connections open right now, and the most seen at once.
    open: usize,
    max_open: usize,
    /// Transactions per connection, by connection number.
    transactions: Vec<usize>,
}

/// One connection counted as open until [`Open::close`] or drop.
struct Open {
    shared: Arc<Mutex<Shared>>,
    number: usize,
    closed: bool,
}

impl Open {
    fn new(shared: Arc<Mutex<Shared>>) -> Open {
        let number = {
            let mut s = lock(&shared);
            s.open += 1;
            s.max_open = s.max_open.max(s.open);
            s.transactions.push(0);
            s.transactions.len() - 1
        };
        Open { shared, number, closed: false }
    }

    fn transaction(&self) {
        if let Some(n) = lock(&self.shared).transactions.get_mut(self.number) {
            *n += 1;
        }
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            lock(&self.shared).open -= 1;
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.close();
    }
}

/// A running scripted server; stops when dropped.
pub struct ScriptedSmtp {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ScriptedSmtp {
    /// Starts on `127.0.0.1` and a free port.
    pub async fn start(script: Script) -> std::io::Result<Self> {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), script).await
    }

    /// Starts on a given loopback address (like `127.0.0.2`) and a free port.
    pub async fn start_on(ip: IpAddr, script: Script) -> std::io::Result<Self> {
        Self::start_at(SocketAddr::new(ip, 0), script).await
    }

    /// Starts on a given loopback address and port (0: a free one).
    pub async fn start_at(addr: SocketAddr, script: Script) -> std::io::Result<Self> {
        assert!(addr.ip().is_loopback(), "the scripted server only listens on loopback");
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared { script, ..Default::default() }));
        let started = Instant::now();
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            loop {
                let Ok(permit) = limit.clone().acquire_owned().await else { return };
                let Ok((stream, _)) = listener.accept().await else { continue };
                let sh = sh.clone();
                tokio::spawn(async move {
                    let _ = session(stream, sh, started).await;
                    drop(permit);
                });
            }
        });
        Ok(ScriptedSmtp { addr, shared, task })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the script; message numbering goes on.
    pub fn set_script(&self, script: Script) {
        lock(&self.shared).script = script;
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared).received.clone()
    }

    /// Messages whose DATA was accepted.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.data.is_some() && r.reply == 250).collect()
    }

    /// The most connections open at the same time so far.
    pub fn max_concurrent(&self) -> usize {
        lock(&self.shared).max_open
    }

    /// Transactions (`MAIL` commands) each connection carried, in the
    /// order the connections were accepted.
    pub fn messages_per_connection(&self) -> Vec<usize> {
        lock(&self.shared).transactions.clone()
    }
}

impl Drop for ScriptedSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits, when the script says so, until enough connections have been open
/// at once (checked every 5 ms, for at most [`GREETING_HOLD`]).
async fn hold_greeting(shared: &Mutex<Shared>) {
    let Some(n) = lock(shared).script.greet_when_open else { return };
    let until = Instant::now() + GREETING_HOLD;
    while lock(shared).max_open < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn address_of(arg: &str) -> String {
    let a = arg.split_once(':').map_or(arg, |(_, v)| v).trim();
    let a = a.split_whitespace().next().unwrap_or("");
    a.trim_start_matches('<').trim_end_matches('>').to_string()
}

async fn session(stream: TcpStream, shared: Arc<Mutex<Shared>>, started: Instant) -> std::io::Result<()> {
    let mut open = Open::new(shared.clone());
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    hold_greeting(&shared).await;
    w.write_all(b"220 scripted.test ESMTP\r\n").await?;
    let mut from = String::new();
    // (record position, recipient) of the accepted recipients of this transaction.
    let mut rcpts: Vec<(usize, String)> = Vec::new();
    loop {
        let mut line = String::new();
        if read_line(&mut r, &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        let verb = cmd.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" if lock(&shared).script.broken_starttls.is_some() => {
                "250-scripted.test\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 SIZE 1048576\r\n".to_string()
            }
            "EHLO" => "250-scripted.test\r\n250-8BITMIME\r\n250 SIZE 1048576\r\n".to_string(),
            "STARTTLS" => match lock(&shared).script.broken_starttls.clone() {
                Some(r) => r.line(),
                None => "502 5.5.1 not implemented\r\n".into(),
            },
            "HELO" | "NOOP" => "250 2.0.0 OK\r\n".into(),
            "RSET" => {
                rcpts.clear();
                "250 2.0.0 OK\r\n".into()
            }
            "MAIL" => {
                open.transaction();
                from = address_of(cmd);
                rcpts.clear();
                "250 2.1.0 OK\r\n".into()
            }
            "RCPT" => {
                let rcpt = address_of(cmd);
                let reply = {
                    let mut s = lock(&shared);
                    let index = s.next_index;
                    s.next_index += 1;
                    let reply = s.script.reply(Stage::Rcpt, index, &rcpt);
                    s.received.push(Received {
                        index,
                        at: started.elapsed(),
                        mail_from: from.clone(),
                        rcpt: rcpt.clone(),
                        reply: reply.code,
                        data: None,
                    });
                    if reply.code < 300 {
                        rcpts.push((s.received.len() - 1, rcpt));
                    }
                    reply
                };
                w.write_all(reply.line().as_bytes()).await?;
                if reply.code == 421 {
                    return Ok(());
                }
                continue;
            }
            "DATA" if rcpts.is_empty() => "503 5.5.1 no valid recipients\r\n".into(),
            "DATA" => {
                w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let body = read_data(&mut r).await?;
                let reply = {
                    let mut s = lock(&shared);
                    let first = rcpts.first().map(|(pos, rcpt)| (s.received[*pos].index, rcpt.clone()));
                    let reply = first.map_or_else(
                        || Reply { code: 250, text: "2.0.0 OK".into() },
                        |(index, rcpt)| s.script.reply(Stage::Data, index, &rcpt),
                    );
                    for (pos, _) in &rcpts {
                        if let Some(rec) = s.received.get_mut(*pos) {
                            rec.reply = reply.code;
                            rec.data = Some(body.clone());
                        }
                    }
                    reply
                };
                rcpts.clear();
                w.write_all(reply.line().as_bytes()).await?;
                if reply.code == 421 {
                    return Ok(());
                }
                continue;
            }
            "QUIT" => {
                open.close();
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized\r\n".into(),
        };
        w.write_all(reply.as_bytes()).await?;
    }
}

/// Reads a DATA section up to the lone dot, undoing dot-stuffing.
async fn read_data(r: &mut BufReader<OwnedReadHalf>) -> std::io::Result<String> {
    let mut body = String::new();
    loop {
        let mut line = String::new();
        if read_line(r, &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(body);
        }
        if body.len() + line.len() > MAX_DATA {
            return Err(std::io::Error::other("message too large"));
        }
        body.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

/// Reads one bounded line, acknowledging at once: clients that end DATA
/// with a second small write (lettre does) would otherwise wait for the
/// delayed ACK, about 40 ms per message on Linux.
async fn read_line(r: &mut BufReader<OwnedReadHalf>, line: &mut String) -> std::io::Result<usize> {
    let _ = r.get_ref().as_ref().set_quickack(true);
    (&mut *r).take(MAX_LINE).read_line(line).await
}
