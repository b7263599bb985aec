//! A real SMTP server for tests: Postfix's `smtp-sink` on 127.0.0.1 and a
//! free port, dumping each received message into its own file (`-d`).
//!
//! ```ignore
//! let sink = SmtpSink::start(SinkOptions::default());
//! // … send to 127.0.0.1:sink.port() …
//! let got = sink.wait_for(10, Duration::from_secs(5));
//! ```
//!
//! Options map to smtp-sink's flags: `soft_reject` (`-r`, 4xx), `hard_reject`
//! (`-f`, 5xx), `disconnect` (`-q`, drop without reply), with the replies
//! set by `soft_reply` (`-b`) and `hard_reply` (`-B`); `extra_args` passes
//! anything else. The process is killed
//! when the `SmtpSink` is dropped. [`SmtpSink::sessions`] reads smtp-sink's
//! running counters (`-c`), to check connection reuse, and
//! [`SmtpSink::received`] counts messages without dumps (`no_dump`). Needs the Debian
//! package `postfix`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Where Debian installs smtp-sink.
pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// How the sink behaves.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Commands answered with a soft (4xx) reject, like `RCPT` or `DATA`.
    pub soft_reject: Vec<&'static str>,
    /// Commands answered with a hard (5xx) reject.
    pub hard_reject: Vec<&'static str>,
    /// Commands after which the sink disconnects without replying.
    pub disconnect: Vec<&'static str>,
    /// The soft reject reply, e.g. `451 4.7.1 Try again later`.
    pub soft_reply: Option<&'static str>,
    /// The hard reject reply, e.g. `550 5.1.1 No such user`.
    pub hard_reply: Option<&'static str>,
    /// Any other smtp-sink flags, e.g. `["-w", "3"]` (wait 3 s before
    /// answering DATA).
    pub extra_args: Vec<&'static str>,
    /// Keep no copy of the messages (no `-d`): for volume runs, where
    /// writing a file per message would slow the sink down; only the
    /// counters ([`SmtpSink::received`]) tell what arrived.
    pub no_dump: bool,
}

/// One message the sink received.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// `MAIL FROM` address, without angle brackets or parameters.
    pub mail_from: String,
    /// `RCPT TO` addresses, in order.
    pub rcpt: Vec<String>,
    /// The client's `EHLO`/`HELO` argument.
    pub helo: Option<String>,
    /// The message as received (dot-unstuffed, LF line ends).
    pub bytes: Vec<u8>,
    /// When the dump file was last written.
    pub arrived_at: SystemTime,
}

/// A running smtp-sink.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink and waits until it accepts connections. Panics with
    /// a clear message when smtp-sink is not installed or does not start.
    pub fn start(opts: SinkOptions) -> SmtpSink {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "{SMTP_SINK} not found: these tests need Postfix's smtp-sink (Debian package `postfix`)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let dumps = dir.path().join("dump");
        std::fs::create_dir(&dumps).expect("dump dir");
        let as_root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        let as_root = as_root.unwrap_or(false);
        if as_root {
            // smtp-sink drops root privileges to `nobody`, who must write the dumps.
            let mut perm = std::fs::metadata(&dumps).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o777);
            std::fs::set_permissions(&dumps, perm).expect("chmod dump dir");
        }
        // A port that was free a moment ago; retried if someone takes it first.
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(SMTP_SINK);
            if as_root {
                cmd.args(["-u", "nobody"]);
            }
            let lists = [("-r", &opts.soft_reject), ("-f", &opts.hard_reject), ("-q", &opts.disconnect)];
            for (flag, cmds) in lists {
                if !cmds.is_empty() {
                    cmd.args([flag, &cmds.join(",")]);
                }
            }
            if let Some(r) = opts.soft_reply {
                cmd.args(["-b", r]);
            }
            if let Some(r) = opts.hard_reply {
                cmd.args(["-B", r]);
            }
            cmd.args(&opts.extra_args);
            cmd.arg("-c");
            if !opts.no_dump {
                cmd.arg("-d").arg(format!("{}/msg.", dumps.display()));
            }
            cmd.arg(format!("127.0.0.1:{port}")).arg("64");
            let counters = std::fs::File::create(dir.path().join("counters.log")).expect("counters file");
            cmd.stdin(Stdio::null()).stdout(counters).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {SMTP_SINK}: {e}"));
            if wait_listening(&mut child, port) {
                return SmtpSink { child, port, dir };
            }
            let _ = child.kill();
            let out = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
            last_err = out.unwrap_or_default();
        }
        panic!("smtp-sink did not start listening: {last_err}");
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The dump directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("dump")
    }

    /// SMTP sessions that have ended so far, the readiness probe of
    /// [`SmtpSink::start`] included.
    pub fn sessions(&self) -> u64 {
        self.last_counter("sess=")
    }

    /// Messages received so far, from smtp-sink's running counters (`-c`).
    /// Reads only the end of the counter log, which grows with every
    /// message, so polling it stays cheap at volume.
    pub fn received(&self) -> u64 {
        self.last_counter("mesg=")
    }

    /// The latest value of one running counter (`sess=`, `mesg=`, …).
    fn last_counter(&self, prefix: &str) -> u64 {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(self.dir.path().join("counters.log")) else { return 0 };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(512)));
        let mut tail = String::new();
        let _ = f.read_to_string(&mut tail);
        // Lines like `sess=2 quit=1 mesg=4`, separated by CR; the last
        // one may be half written.
        tail.rsplit(['\r', '\n'])
            .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix(prefix)).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    /// Waits (polling) until `n` sessions have ended or `timeout` passes.
    pub fn wait_sessions(&self, n: u64, timeout: Duration) -> u64 {
        let end = Instant::now() + timeout;
        loop {
            let got = self.sessions();
            if got >= n || Instant::now() >= end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every completely received message so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(self.dir()) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort();
        let mut out: Vec<ReceivedMessage> = files.iter().filter_map(|f| parse_dump(f)).collect();
        out.sort_by_key(|m| m.arrived_at);
        out
    }

    /// Waits (polling) until at least `n` messages arrived or `timeout`
    /// passes, and returns what is there.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn wait_listening(child: &mut Child, port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Parses one dump file; `None` while it is incomplete (no message data).
fn parse_dump(path: &Path) -> Option<ReceivedMessage> {
    let raw = std::fs::read(path).ok()?;
    let arrived_at = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    // The sink's own header block ends with a three-line `Received:` header.
    let received_at =
        find(&raw, b"\nReceived: ").map(|i| i + 1).or_else(|| raw.starts_with(b"Received: ").then_some(0))?;
    let meta = String::from_utf8_lossy(&raw[..received_at]);
    let mut rest = &raw[received_at..];
    for _ in 0..3 {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        rest = &rest[nl + 1..];
    }
    // The sink appends one empty line after the message.
    let bytes = rest.strip_suffix(b"\n")?.to_vec();
    let (mut mail_from, mut rcpt, mut helo) = (None, Vec::new(), None);
    for line in meta.lines() {
        if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            mail_from = Some(angle(v));
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            rcpt.push(angle(v));
        } else if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
            helo = Some(v.trim().to_string());
        }
    }
    Some(ReceivedMessage { mail_from: mail_from?, rcpt, helo, bytes, arrived_at })
}

/// `<a@b> SIZE=10` → `a@b`.
fn angle(args: &str) -> String {
    let first = args.split_whitespace().next().unwrap_or("");
    first.trim_start_matches('<').trim_end_matches('>').to_string()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
