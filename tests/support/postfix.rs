//! A private Postfix instance for end-to-end tests (Debian package
//! `postfix`): its own config, queue and data directories in a temp dir,
//! `master` listening on a free loopback port, no DNS at all (next hops are
//! `[127.0.0.1]:port` in a transport map). Started with `postfix -c DIR
//! start` and stopped when dropped; its log goes to a file in the temp dir
//! (`maillog_file`), shown when a test fails.
//!
//! It can stand in for a receiving MX host: listening on another loopback
//! address (like `127.0.0.6`, which a test DNS zone names), and offering
//! STARTTLS with a self-signed certificate made by the `openssl` command
//! (`smtpd_tls_security_level = may`, the usual setting of MX hosts), with
//! TLS sessions logged.
//!
//! Postfix's `master` must start as root (it binds its services and drops
//! privileges per daemon to the `postfix` user), so the temp dir is made
//! world-readable and the data directory is handed to `postfix`.

#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Postfix control command.
pub const POSTFIX: &str = "/usr/sbin/postfix";
/// Makes the self-signed certificate for STARTTLS.
pub const OPENSSL: &str = "/usr/bin/openssl";

/// What the instance does with mail.
#[derive(Debug, Clone, Default)]
pub struct PostfixOptions {
    /// Domains delivered by Postfix's `local(8)` agent. Any recipient is
    /// accepted at SMTP time (`local_recipient_maps` empty), so mail to a
    /// user without an account is bounced afterwards with a real DSN.
    pub local_domains: Vec<String>,
    /// `domain → [127.0.0.1]:port` next hops (SMTP).
    pub relay: Vec<(String, u16)>,
    /// The loopback address smtpd listens on; `127.0.0.1` when unset.
    pub listen: Option<Ipv4Addr>,
    /// Offer STARTTLS (`smtpd_tls_security_level = may`) with a
    /// self-signed certificate for `myhostname`.
    pub starttls: bool,
    /// `domain → command` handed to a `pipe(8)` transport run as `user`
    /// (`flags=Rq`, `${recipient}` expanded in the command), as the README
    /// wires the bounce domain to `winback ingest`.
    pub pipe: Vec<PipeTo>,
}

/// A domain delivered through Postfix's `pipe(8)` agent.
#[derive(Debug, Clone)]
pub struct PipeTo {
    /// The domain routed to the command.
    pub domain: String,
    /// The unprivileged user the command runs as (`pipe` refuses root).
    pub user: String,
    /// The command line (`argv=`), e.g. `/usr/bin/winback ingest --recipient ${recipient}`.
    pub argv: String,
}

/// A running private Postfix.
pub struct Postfix {
    dir: tempfile::TempDir,
    listen: Ipv4Addr,
    port: u16,
}

impl Postfix {
    /// Whether the Postfix binaries are installed.
    pub fn installed() -> bool {
        Path::new(POSTFIX).exists() && Path::new("/usr/lib/postfix/sbin/master").exists()
    }

    /// Whether a test needing Postfix (and, with `starttls`, the `openssl`
    /// command) can run; says why it is skipped when not.
    pub fn available(starttls: bool) -> bool {
        if !Self::installed() {
            eprintln!("SKIPPED: the Postfix binaries are not installed (Debian package `postfix`)");
            return false;
        }
        if starttls && !Path::new(OPENSSL).exists() {
            eprintln!("SKIPPED: {OPENSSL} is missing (Debian package `openssl`)");
            return false;
        }
        true
    }

    /// Writes the configuration and starts the instance; waits until its
    /// SMTP port answers.
    pub fn start(opts: &PostfixOptions) -> Result<Postfix, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let port = super::smtp_sink::free_port();
        let listen = opts.listen.unwrap_or(Ipv4Addr::LOCALHOST);
        let pf = Postfix { dir, listen, port };
        for d in ["etc", "queue", "data"] {
            std::fs::create_dir_all(pf.path(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
        }
        // Postfix daemons run as `postfix`: they must reach the queue and
        // own the data directory.
        run(Command::new("chmod").arg("755").arg(pf.dir.path()))?;
        run(Command::new("chown").arg("postfix").arg(pf.path("data")))?;
        let relays = opts.relay.iter().map(|(d, p)| format!("{d} smtp:[127.0.0.1]:{p}\n"));
        let pipes = opts.pipe.iter().enumerate().map(|(i, p)| format!("{} pipe{i}:\n", p.domain));
        let transport: String = relays.chain(pipes).collect();
        std::fs::write(pf.path("etc/transport"), transport).map_err(|e| format!("transport: {e}"))?;
        if opts.starttls {
            pf.make_certificate()?;
        }
        std::fs::write(pf.path("etc/main.cf"), pf.main_cf(opts)).map_err(|e| format!("main.cf: {e}"))?;
        std::fs::write(pf.path("etc/master.cf"), pf.master_cf(opts)).map_err(|e| format!("master.cf: {e}"))?;
        run(Command::new(POSTFIX).arg("-c").arg(pf.path("etc")).arg("start"))
            .map_err(|e| format!("{e}\nmaillog:\n{}", pf.maillog()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((listen, port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("postfix did not listen on {listen}:{port}; maillog:\n{}", pf.maillog()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(pf)
    }

    /// The SMTP port (on [`PostfixOptions::listen`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Postfix's log so far.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.path("maillog")).unwrap_or_default()
    }

    /// Postfix's log once it holds every one of `lines`, or as it stands
    /// after `timeout`. Postfix logs a delivery only after the next hop
    /// has answered, so a test that has seen the message arrive waits here
    /// for the line that records it.
    pub fn maillog_with(&self, lines: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.maillog();
            if lines.iter().all(|l| log.contains(l)) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A self-signed certificate and key for `mta.test` in `etc/`. smtpd
    /// reads them before dropping root privileges, so they stay private.
    fn make_certificate(&self) -> Result<(), String> {
        run(Command::new(OPENSSL)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=mta.test", "-keyout"])
            .arg(self.path("etc/key.pem"))
            .arg("-out")
            .arg(self.path("etc/cert.pem")))
    }

    fn main_cf(&self, opts: &PostfixOptions) -> String {
        let root = self.dir.path().display();
        let local = opts.local_domains.join(", ");
        // Level 1 logs each TLS session ("Anonymous TLS connection
        // established from …"), which tests look for.
        let tls = if opts.starttls {
            format!(
                "smtpd_tls_security_level = may
smtpd_tls_cert_file = {root}/etc/cert.pem
smtpd_tls_key_file = {root}/etc/key.pem
smtpd_tls_loglevel = 1
"
            )
        } else {
            "smtpd_tls_security_level = none\n".to_string()
        };
        format!(
            "compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = mta.test
mydomain = mta.test
myorigin = $myhostname
mydestination = $myhostname, {local}
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
transport_maps = texthash:{root}/etc/transport
smtputf8_enable = no
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
{tls}"
        )
    }

    fn master_cf(&self, opts: &PostfixOptions) -> String {
        let (listen, port) = (self.listen, self.port);
        let pipes: String = opts
            .pipe
            .iter()
            .enumerate()
            .map(|(i, p)| format!("pipe{i} unix - n n - 4 pipe\n  flags=Rq user={} argv={}\n", p.user, p.argv))
            .collect();
        // The service binds `listen` itself: `inet_interfaces` must name
        // an interface address, which 127.0.0.6 is not (Postfix would not
        // start), and stays 127.0.0.1. tlsmgr keeps smtpd's TLS session
        // cache and random pool.
        format!(
            "{listen}:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
{pipes}"
        )
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(POSTFIX).arg("-c").arg(self.path("etc")).arg("stop").output();
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
