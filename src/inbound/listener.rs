//! The built-in SMTP server for the bounce domains.
//!
//! It accepts mail only for addresses at the configured bounce domains
//! (never a relay), writes every message durably into the [`Spool`] before
//! answering 250, and answers 451 when the spool cannot take it so the
//! sending MTA retries. Bounded everywhere: a connection cap (421 when
//! full), a message size limit (552, also for `SIZE=` on MAIL), a
//! recipient cap, a command line limit and an idle timeout per command.
//! It stops on a [`CancellationToken`]: no new connections, and open
//! sessions are told 421 at their next command.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::spool::{Spool, SpoolError};

/// Longest command line accepted (RFC 5321 says 512; be lenient).
const MAX_COMMAND: usize = 4096;
/// Longest text line inside DATA kept in one piece.
const MAX_DATA_LINE: usize = 64 * 1024;
/// Most recipients per message.
const MAX_RECIPIENTS: usize = 100;

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
    /// Idle timeout per command (and per DATA line).
    pub timeout: Duration,
}

impl ListenerSettings {
    /// From `[inbound]` and the HELO name.
    pub fn from_config(cfg: &super::config::InboundConfig, hostname: &str) -> Self {
        ListenerSettings {
            hostname: hostname.to_string(),
            domains: cfg.bounce_domains.clone(),
            max_message_size: cfg.max_message_size,
            max_connections: cfg.max_connections,
            timeout: cfg.timeout,
        }
    }
}

/// Serves SMTP on an already-bound listener until `cancel` fires. Sessions
/// in flight finish their current command before they see the stop.
pub async fn serve(listener: TcpListener, spool: Arc<Spool>, settings: ListenerSettings, cancel: CancellationToken) {
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "inbound smtp: accept failed");
                // Out of file descriptors and similar: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tasks.spawn(async move {
                let _ = stream.write_all(b"421 4.3.2 Too many connections, try again later\r\n").await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let (spool, settings, cancel) = (spool.clone(), settings.clone(), cancel.clone());
        tasks.spawn(async move {
            let _permit = permit;
            if let Err(e) = session(stream, &spool, &settings, &cancel).await {
                tracing::debug!(%peer, error = %e, "inbound smtp session ended");
            }
        });
    }
    tasks.close();
    tasks.wait().await;
}

/// Envelope state of one transaction.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    rcpts: Vec<String>,
}

/// One SMTP session over any byte stream.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    spool: &Arc<Spool>,
    s: &ListenerSettings,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    reply(&mut w, &format!("220 {} ESMTP winback bounce receiver", s.hostname)).await?;
    let mut greeted = false;
    let mut env = Envelope::default();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let read = tokio::select! {
            _ = cancel.cancelled() => {
                reply(&mut w, "421 4.3.2 Service shutting down, try again later").await?;
                return Ok(());
            }
            r = tokio::time::timeout(s.timeout, read_line(&mut r, &mut line, MAX_COMMAND)) => r,
        };
        let complete = match read {
            Err(_) => {
                reply(&mut w, "421 4.4.2 Idle timeout, closing connection").await?;
                return Ok(());
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => line.ends_with(b"\n"),
            Ok(Err(e)) => return Err(e),
        };
        if !complete {
            // Too long: swallow the rest of the line.
            skip_line(&mut r).await?;
            reply(&mut w, "500 5.5.2 Line too long").await?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let cmd = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match cmd.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (cmd.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" => {
                greeted = true;
                env = Envelope::default();
                let msg = format!(
                    "250-{}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING",
                    s.hostname, s.max_message_size
                );
                reply(&mut w, &msg).await?;
            }
            "HELO" => {
                greeted = true;
                env = Envelope::default();
                reply(&mut w, &format!("250 {}", s.hostname)).await?;
            }
            "MAIL" => {
                if !greeted {
                    reply(&mut w, "503 5.5.1 Say EHLO first").await?;
                } else if env.from.is_some() {
                    reply(&mut w, "503 5.5.1 Nested MAIL command").await?;
                } else {
                    match parse_path(arg, "FROM:") {
                        None => reply(&mut w, "501 5.5.4 Syntax: MAIL FROM:<address>").await?,
                        Some((from, params)) => {
                            if size_param(params).is_some_and(|n| n > s.max_message_size) {
                                reply(&mut w, "552 5.3.4 Message size exceeds fixed maximum message size").await?;
                            } else {
                                env.from = Some(from);
                                reply(&mut w, "250 2.1.0 Ok").await?;
                            }
                        }
                    }
                }
            }
            "RCPT" => {
                if env.from.is_none() {
                    reply(&mut w, "503 5.5.1 Need MAIL before RCPT").await?;
                } else {
                    match parse_path(arg, "TO:") {
                        None => reply(&mut w, "501 5.5.4 Syntax: RCPT TO:<address>").await?,
                        Some((to, _)) if !accepts(&s.domains, &to) => {
                            reply(&mut w, "550 5.7.1 Relay access denied: not a bounce address here").await?
                        }
                        Some(_) if env.rcpts.len() >= MAX_RECIPIENTS => {
                            reply(&mut w, "452 4.5.3 Too many recipients").await?
                        }
                        Some((to, _)) => {
                            env.rcpts.push(to);
                            reply(&mut w, "250 2.1.5 Ok").await?;
                        }
                    }
                }
            }
            "DATA" => {
                if env.rcpts.is_empty() {
                    reply(&mut w, "503 5.5.1 Need RCPT before DATA").await?;
                    continue;
                }
                reply(&mut w, "354 End data with <CR><LF>.<CR><LF>").await?;
                let body = match tokio::time::timeout(s.timeout * 4, read_data(&mut r, s.max_message_size)).await {
                    Err(_) => {
                        reply(&mut w, "421 4.4.2 Timeout during DATA").await?;
                        return Ok(());
                    }
                    Ok(b) => b?,
                };
                let rcpts = std::mem::take(&mut env.rcpts);
                env = Envelope::default();
                match body {
                    None => reply(&mut w, "552 5.3.4 Message size exceeds fixed maximum message size").await?,
                    Some(body) => {
                        let spool = spool.clone();
                        let stored = tokio::task::spawn_blocking(move || spool.write(&rcpts, &body)).await;
                        match stored {
                            Ok(Ok(id)) => reply(&mut w, &format!("250 2.0.0 Ok: queued as {id}")).await?,
                            Ok(Err(e @ SpoolError::Full { .. })) => {
                                tracing::warn!(error = %e, "inbound smtp: spool full, deferring");
                                reply(&mut w, "451 4.3.0 Spool full, try again later").await?
                            }
                            Ok(Err(e)) => {
                                tracing::error!(error = %e, "inbound smtp: cannot spool message");
                                reply(&mut w, "451 4.3.0 Local error in processing, try again later").await?
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "inbound smtp: spool task failed");
                                reply(&mut w, "451 4.3.0 Local error in processing, try again later").await?
                            }
                        }
                    }
                }
            }
            "RSET" => {
                env = Envelope::default();
                reply(&mut w, "250 2.0.0 Ok").await?;
            }
            "NOOP" => reply(&mut w, "250 2.0.0 Ok").await?,
            "VRFY" => reply(&mut w, "252 2.5.2 Cannot verify, send some mail").await?,
            "QUIT" => {
                reply(&mut w, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => reply(&mut w, "502 5.5.2 Command not recognized").await?,
        }
    }
}

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
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

/// Reads a DATA body up to the lone dot, undoing dot-stuffing. `None` when
/// the message exceeded `max` bytes (it is read to the end and dropped).
async fn read_data<R: AsyncBufReadExt + Unpin>(r: &mut R, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut line = Vec::with_capacity(1024);
    let mut at_line_start = true;
    loop {
        line.clear();
        let n = read_line(r, &mut line, MAX_DATA_LINE).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed during DATA"));
        }
        if at_line_start && (line == b".\r\n" || line == b".\n") {
            return Ok(if too_big { None } else { Some(body) });
        }
        let content =
            if at_line_start && line.starts_with(b".") { line.get(1..).unwrap_or_default() } else { &line[..] };
        at_line_start = line.ends_with(b"\n");
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
