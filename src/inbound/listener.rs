//! The built-in SMTP server for the bounce domains.
//!
//! It accepts mail only for addresses at the configured bounce domains
//! (never a relay), writes every message durably into the [`Spool`] before
//! answering 250, and answers 451 when the spool cannot take it so the
//! sending MTA retries. Bounded everywhere, so a client cannot hold it:
//! - a connection cap and a cap per client IP address (421 over either),
//!   through the shared accept loop ([`crate::net::accept`]);
//! - a message size limit (552, also for `SIZE=` on MAIL), a recipient
//!   cap, a command line limit;
//! - an idle timeout per command, a deadline on every reply (a client that
//!   pipelines commands and never reads its replies is cut when the reply
//!   cannot be written in time), and a deadline on the whole session.
//!
//! Commands and DATA lines must end in CRLF: a bare LF is refused with 521
//! and the connection closed (as Postfix's `smtpd_forbid_bare_newline`),
//! so a message cannot end at a bare `\n.\n` and smuggle a second
//! transaction behind it. The envelope (RCPT TO) is handed to the spool
//! apart from the message, which is stored exactly as received.
//!
//! It stops on a [`CancellationToken`]: no new connections; open sessions
//! are told 421 at their next command, a reply that cannot be written at
//! once is abandoned, and sessions still open at the drain deadline are cut.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::spool::{Spool, SpoolError};
use crate::net::accept::{self, AcceptError, Limits, Refusal, WhenFull};

/// Longest command line accepted (RFC 5321 says 512; be lenient).
const MAX_COMMAND: usize = 4096;
/// Longest text line inside DATA kept in one piece.
const MAX_DATA_LINE: usize = 64 * 1024;
/// Most recipients per message.
const MAX_RECIPIENTS: usize = 100;
/// The answer to a line that ends in a bare LF.
const BARE_LF: &str = "521 5.5.2 Error: bare <LF> received";

/// What the listener needs to know.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    /// Name in the greeting and EHLO reply.
    pub hostname: String,
    /// Lower-case domains accepted in RCPT TO.
    pub domains: Vec<String>,
    /// Largest message in bytes.
    pub max_message_size: u64,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Concurrent connections from one client IP address.
    pub max_connections_per_client: usize,
    /// Idle timeout per command (and per DATA line), and deadline of every reply.
    pub timeout: Duration,
    /// Longest session.
    pub session_timeout: Duration,
    /// After cancellation, how long open sessions may go on before they are cut.
    pub drain: Duration,
}

impl ListenerSettings {
    /// From `[inbound]`, the HELO name, and the daemon's drain deadline
    /// (sessions get half of it, so the listener ends well within it).
    pub fn from_config(cfg: &super::config::InboundConfig, hostname: &str, drain_deadline: Duration) -> Self {
        ListenerSettings {
            hostname: hostname.to_string(),
            domains: cfg.bounce_domains.clone(),
            max_message_size: cfg.max_message_size,
            max_connections: cfg.max_connections,
            max_connections_per_client: cfg.max_connections_per_client,
            timeout: cfg.timeout,
            session_timeout: cfg.session_timeout,
            drain: drain_deadline / 2,
        }
    }
}

/// Serves SMTP on an already-bound listener until `cancel` fires; `Err`
/// when the listening socket fails for good.
pub async fn serve(
    listener: impl accept::Listen<Stream = tokio::net::TcpStream, Peer = std::net::SocketAddr>,
    spool: Arc<Spool>,
    settings: ListenerSettings,
    cancel: CancellationToken,
) -> Result<(), AcceptError> {
    let limits = Limits {
        name: "inbound smtp",
        max_connections: settings.max_connections,
        max_per_peer: Some(settings.max_connections_per_client),
        when_full: WhenFull::Refuse,
        drain: settings.drain,
    };
    let settings = Arc::new(settings);
    let run = move |stream, peer: std::net::SocketAddr, cancel: CancellationToken| {
        let (spool, settings) = (spool.clone(), settings.clone());
        async move {
            if let Err(e) = session(stream, &spool, &settings, &cancel).await {
                tracing::debug!(%peer, error = %e, "inbound smtp session ended");
            }
        }
    };
    accept::serve(listener, limits, cancel, run, refuse).await
}

/// The one line a connection over a cap gets.
async fn refuse(mut stream: tokio::net::TcpStream, why: Refusal) {
    let line: &[u8] = match why {
        Refusal::Busy => b"421 4.3.2 Too many connections, try again later\r\n",
        Refusal::PeerBusy => b"421 4.7.0 Too many connections from your address, try again later\r\n",
    };
    let _ = stream.write_all(line).await;
    let _ = stream.shutdown().await;
}

/// Envelope state of one transaction.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    rcpts: Vec<String>,
}

/// One connection: its two halves, the settings, the stop signal.
struct Conn<'a, S> {
    r: BufReader<ReadHalf<S>>,
    w: WriteHalf<S>,
    s: &'a ListenerSettings,
    cancel: &'a CancellationToken,
}

/// How a command leaves the session.
enum Next {
    Continue,
    Close,
}

/// How a DATA body ended.
enum Body {
    Message(Vec<u8>),
    TooBig,
    BareLf,
}

/// One SMTP session over any byte stream, within the session deadline.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    spool: &Arc<Spool>,
    s: &ListenerSettings,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    let (r, w) = tokio::io::split(stream);
    let mut c = Conn { r: BufReader::new(r), w, s, cancel };
    match tokio::time::timeout(s.session_timeout, dialogue(&mut c, spool)).await {
        Ok(done) => done,
        Err(_) => c.reply("421 4.4.2 Session time limit reached, closing connection").await,
    }
}

async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<'_, S>, spool: &Arc<Spool>) -> std::io::Result<()> {
    c.reply(&format!("220 {} ESMTP winback bounce receiver", c.s.hostname)).await?;
    let mut greeted = false;
    let mut env = Envelope::default();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let read = tokio::select! {
            _ = c.cancel.cancelled() => {
                return c.reply("421 4.3.2 Service shutting down, try again later").await;
            }
            r = tokio::time::timeout(c.s.timeout, read_line(&mut c.r, &mut line, MAX_COMMAND)) => r,
        };
        match read {
            Err(_) => return c.reply("421 4.4.2 Idle timeout, closing connection").await,
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) if !line.ends_with(b"\n") => {
                // Too long: swallow the rest of the line.
                skip_line(&mut c.r).await?;
                c.reply("500 5.5.2 Line too long").await?;
                continue;
            }
            Ok(Ok(_)) if !line.ends_with(b"\r\n") => return c.reply(BARE_LF).await,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        let text = String::from_utf8_lossy(&line);
        let cmd = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match cmd.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (cmd.to_ascii_uppercase(), ""),
        };
        let next = match verb.as_str() {
            "EHLO" | "HELO" => {
                greeted = true;
                env = Envelope::default();
                c.reply(&hello(c.s, &verb)).await?;
                Next::Continue
            }
            "MAIL" if !greeted => c.say("503 5.5.1 Say EHLO first").await?,
            "MAIL" => mail(c, &mut env, arg).await?,
            "RCPT" => rcpt(c, &mut env, arg).await?,
            "DATA" => data(c, &mut env, spool).await?,
            "RSET" => {
                env = Envelope::default();
                c.say("250 2.0.0 Ok").await?
            }
            "NOOP" => c.say("250 2.0.0 Ok").await?,
            "VRFY" => c.say("252 2.5.2 Cannot verify, send some mail").await?,
            "QUIT" => {
                c.reply("221 2.0.0 Bye").await?;
                Next::Close
            }
            _ => c.say("502 5.5.2 Command not recognized").await?,
        };
        if let Next::Close = next {
            return Ok(());
        }
    }
}

fn hello(s: &ListenerSettings, verb: &str) -> String {
    if verb == "HELO" {
        return format!("250 {}", s.hostname);
    }
    format!(
        "250-{}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING",
        s.hostname, s.max_message_size
    )
}

async fn mail<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<'_, S>,
    env: &mut Envelope,
    arg: &str,
) -> std::io::Result<Next> {
    if env.from.is_some() {
        return c.say("503 5.5.1 Nested MAIL command").await;
    }
    match parse_path(arg, "FROM:") {
        None => c.say("501 5.5.4 Syntax: MAIL FROM:<address>").await,
        Some((_, params)) if size_param(params).is_some_and(|n| n > c.s.max_message_size) => {
            c.say("552 5.3.4 Message size exceeds fixed maximum message size").await
        }
        Some((from, _)) => {
            env.from = Some(from);
            c.say("250 2.1.0 Ok").await
        }
    }
}

async fn rcpt<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<'_, S>,
    env: &mut Envelope,
    arg: &str,
) -> std::io::Result<Next> {
    if env.from.is_none() {
        return c.say("503 5.5.1 Need MAIL before RCPT").await;
    }
    match parse_path(arg, "TO:") {
        None => c.say("501 5.5.4 Syntax: RCPT TO:<address>").await,
        Some((to, _)) if !accepts(&c.s.domains, &to) => {
            c.say("550 5.7.1 Relay access denied: not a bounce address here").await
        }
        Some(_) if env.rcpts.len() >= MAX_RECIPIENTS => c.say("452 4.5.3 Too many recipients").await,
        Some((to, _)) => {
            env.rcpts.push(to);
            c.say("250 2.1.5 Ok").await
        }
    }
}

async fn data<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<'_, S>,
    env: &mut Envelope,
    spool: &Arc<Spool>,
) -> std::io::Result<Next> {
    if env.rcpts.is_empty() {
        return c.say("503 5.5.1 Need RCPT before DATA").await;
    }
    c.reply("354 End data with <CR><LF>.<CR><LF>").await?;
    let body = match tokio::time::timeout(c.s.timeout * 4, read_data(&mut c.r, c.s.max_message_size)).await {
        Err(_) => {
            c.reply("421 4.4.2 Timeout during DATA").await?;
            return Ok(Next::Close);
        }
        Ok(b) => b?,
    };
    let rcpts = std::mem::take(&mut env.rcpts);
    *env = Envelope::default();
    match body {
        Body::BareLf => {
            c.reply(BARE_LF).await?;
            Ok(Next::Close)
        }
        Body::TooBig => c.say("552 5.3.4 Message size exceeds fixed maximum message size").await,
        Body::Message(body) => {
            let spool = spool.clone();
            let stored = tokio::task::spawn_blocking(move || spool.write(&rcpts, &body)).await;
            let answer = match stored {
                Ok(Ok(id)) => format!("250 2.0.0 Ok: queued as {id}"),
                Ok(Err(e @ SpoolError::Full { .. })) => {
                    tracing::warn!(error = %e, "inbound smtp: spool full, deferring");
                    "451 4.3.0 Spool full, try again later".into()
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "inbound smtp: cannot spool message");
                    "451 4.3.0 Local error in processing, try again later".into()
                }
                Err(e) => {
                    tracing::error!(error = %e, "inbound smtp: spool task failed");
                    "451 4.3.0 Local error in processing, try again later".into()
                }
            };
            c.say(&answer).await
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<'_, S> {
    /// Writes one reply within the reply deadline. After cancellation a
    /// reply that cannot be written at once is abandoned.
    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 2);
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let w = &mut self.w;
        let write = async move {
            w.write_all(&bytes).await?;
            w.flush().await
        };
        let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "the client did not take a reply in time");
        tokio::select! {
            biased;
            done = tokio::time::timeout(self.s.timeout, write) => done.map_err(|_| timed_out())?,
            _ = self.cancel.cancelled() => Err(std::io::Error::other("stopping: reply abandoned")),
        }
    }

    /// [`Conn::reply`], and the session goes on.
    async fn say(&mut self, text: &str) -> std::io::Result<Next> {
        self.reply(text).await.map(|()| Next::Continue)
    }
}

/// Reads up to and including `\n`, at most `max` bytes; returns bytes read.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let start = buf.len();
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(buf.len() - start);
        }
        let room = max.saturating_sub(buf.len() - start);
        let take = chunk.iter().take(room).position(|&b| b == b'\n').map(|i| i + 1);
        let n = take.unwrap_or_else(|| chunk.len().min(room));
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        r.consume(n);
        if take.is_some() || buf.len() - start >= max {
            return Ok(buf.len() - start);
        }
    }
}

async fn skip_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let n = read_line(r, &mut sink, MAX_COMMAND).await?;
        if n == 0 || sink.ends_with(b"\n") {
            return Ok(());
        }
    }
}

/// Reads a DATA body up to the lone dot, undoing dot-stuffing. Every line
/// must end in CRLF ([`Body::BareLf`] otherwise, read no further); a
/// message over `max` bytes is read to the end and dropped.
async fn read_data<R: AsyncBufReadExt + Unpin>(r: &mut R, max: u64) -> std::io::Result<Body> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut line = Vec::with_capacity(1024);
    let mut at_line_start = true;
    // Whether the previous piece (of a line longer than MAX_DATA_LINE) ended in CR.
    let mut after_cr = false;
    loop {
        line.clear();
        let n = read_line(r, &mut line, MAX_DATA_LINE).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed during DATA"));
        }
        let ends_line = line.ends_with(b"\n");
        if ends_line && !line.ends_with(b"\r\n") && !(line.len() == 1 && after_cr) {
            return Ok(Body::BareLf);
        }
        if at_line_start && line == b".\r\n" {
            return Ok(if too_big { Body::TooBig } else { Body::Message(body) });
        }
        let content =
            if at_line_start && line.starts_with(b".") { line.get(1..).unwrap_or_default() } else { &line[..] };
        at_line_start = ends_line;
        after_cr = line.ends_with(b"\r");
        if too_big || body.len() as u64 + content.len() as u64 > max {
            too_big = true;
            body = Vec::new();
            continue;
        }
        body.extend_from_slice(content);
    }
}

/// `FROM:<a@b> SIZE=10` → `("a@b", "SIZE=10")`; accepts a space after the colon.
fn parse_path<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let addr = rest.get(..end)?.trim();
    if addr.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    Some((addr.to_string(), rest.get(end + 1..).unwrap_or("").trim()))
}

fn size_param(params: &str) -> Option<u64> {
    params.split_whitespace().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.eq_ignore_ascii_case("SIZE") { v.parse().ok() } else { None }
    })
}

/// Whether `addr` is at one of the bounce domains.
fn accepts(domains: &[String], addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    !local.is_empty() && domains.contains(&domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_sizes() {
        assert_eq!(parse_path("FROM:<a@b.example> SIZE=99", "FROM:"), Some(("a@b.example".into(), "SIZE=99")));
        assert_eq!(parse_path("from: <>", "FROM:"), Some((String::new(), "")));
        assert_eq!(parse_path("TO:a@b", "TO:"), None);
        assert_eq!(size_param("BODY=8BITMIME SIZE=1234"), Some(1234));
        assert!(accepts(&["b.example.org".into()], "bounces+x@B.Example.org"));
        assert!(!accepts(&["b.example.org".into()], "x@evil.example"));
        assert!(!accepts(&["b.example.org".into()], "@b.example.org"));
    }
}
