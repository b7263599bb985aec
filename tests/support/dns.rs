//! A real authoritative DNS server (Knot DNS, `knotd`) on loopback for
//! tests: writes a temporary config and zone files, picks a free port on
//! 127.0.0.1, starts `knotd` in the foreground, waits until every zone
//! answers, and kills it on drop.
//!
//! ```ignore
//! let dns = DnsServer::start(&[("example.test", "@ MX 10 mx\nmx A 127.0.0.2\n")]);
//! let resolver = winback::dns::Resolver::with_nameservers(&[dns.addr()], Duration::from_secs(2), 1)?;
//! ```
//!
//! Zone text holds records only: the harness adds `$ORIGIN`, `$TTL 60`,
//! the SOA and an NS record. Owner names are relative to the origin
//! unless they end with a dot. Needs the Debian package `knot`.
//!
//! The resolver answers `localhost` and reverse lookups under
//! 127.in-addr.arpa itself (RFC 6761) without asking the server: for PTR
//! tests use documentation addresses (192.0.2.0/24, 2001:db8::/32) and a
//! zone like `2.0.192.in-addr.arpa`.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server.
pub const KNOTD: &str = "/usr/sbin/knotd";
const START_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 3;

/// A running `knotd` serving the given zones; killed on drop.
pub struct DnsServer {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl DnsServer {
    /// Starts a server for `(origin, records)` zones. Panics with a clear
    /// message when knotd is missing, refuses the config, or never answers.
    pub fn start(zones: &[(&str, &str)]) -> DnsServer {
        assert!(
            Path::new(KNOTD).exists(),
            "{KNOTD} is missing: these tests need a real DNS server; install the Debian package `knot`"
        );
        assert!(!zones.is_empty(), "DnsServer::start needs at least one zone");
        let mut last_failure = String::new();
        // The port is free when picked but another process may take it
        // before knotd binds, so a failed start is retried on a new port.
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(zones) {
                Ok(server) => return server,
                Err(why) => last_failure = why,
            }
        }
        panic!("knotd did not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    /// The address to send queries to (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's temporary directory (config, zones, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn try_start(zones: &[(&str, &str)]) -> Result<DnsServer, String> {
        let dir = tempfile::Builder::new().prefix("winback-knot-").tempdir().map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let conf = write_files(dir.path(), port, zones).map_err(|e| format!("cannot write knot files: {e}"))?;
        let log = std::fs::File::create(dir.path().join("knotd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(KNOTD)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {KNOTD}: {e}"))?;
        let mut server = DnsServer { child, addr, dir };
        let origins: Vec<String> = zones.iter().map(|(o, _)| o.trim_end_matches('.').to_string()).collect();
        server.wait_ready(&origins)?;
        Ok(server)
    }

    fn wait_ready(&mut self, origins: &[String]) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
        let mut pending: Vec<&String> = origins.iter().collect();
        let mut id: u16 = 0x5a00;
        while !pending.is_empty() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("knotd exited with {status}; log:\n{}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("knotd does not serve {pending:?} after {START_TIMEOUT:?}; log:\n{}", self.log()));
            }
            id = id.wrapping_add(1);
            if soa_answers(&sock, self.addr, pending[0], id) {
                pending.remove(0);
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("knotd.log")).unwrap_or_default()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_port() -> std::io::Result<u16> {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
}

fn write_files(dir: &Path, port: u16, zones: &[(&str, &str)]) -> std::io::Result<PathBuf> {
    for sub in ["run", "storage", "zones"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let d = dir.display();
    let mut conf = format!(
        "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    \
         background-workers: 1\ndatabase:\n    storage: \"{d}/storage\"\nlog:\n  - target: stderr\n    any: info\n\
         template:\n  - id: default\n    storage: \"{d}/zones\"\n    file: \"%s.zone\"\n    journal-content: none\n    \
         zonefile-sync: -1\n    semantic-checks: off\nzone:\n"
    );
    for (origin, records) in zones {
        let origin = origin.trim_end_matches('.');
        let _ = writeln!(conf, "  - domain: \"{origin}\"");
        let zone = format!(
            "$ORIGIN {origin}.\n$TTL 60\n@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\n\
             @ NS ns.invalid.\n{records}\n"
        );
        std::fs::write(dir.join("zones").join(format!("{origin}.zone")), zone)?;
    }
    let path = dir.join("knot.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

/// Sends one SOA query and reports whether an authoritative NOERROR answer came back.
fn soa_answers(sock: &UdpSocket, server: SocketAddr, origin: &str, id: u16) -> bool {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in origin.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 6, 0, 1]);
    if sock.send_to(&q, server).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) if n >= 12 => {
            let same_id = buf[..2] == id.to_be_bytes();
            let authoritative = buf[2] & 0x04 != 0;
            let noerror = buf[3] & 0x0f == 0;
            let answers = u16::from_be_bytes([buf[6], buf[7]]);
            same_id && authoritative && noerror && answers > 0
        }
        _ => false,
    }
}
