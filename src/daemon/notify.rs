//! The service manager's side channels, read from the environment systemd
//! sets: the notification socket (`NOTIFY_SOCKET`, `sd_notify(3)`: a unix
//! datagram socket, a path or an abstract name written `@name`) and the
//! watchdog period (`WATCHDOG_USEC`, for this process when `WATCHDOG_PID`
//! names it or is absent).
//!
//! Written here rather than taken from a crate: the protocol is one
//! datagram of `KEY=value` lines, and the crate the project used before
//! connected `@name` as a file path, so abstract sockets (what systemd
//! uses for user services and in containers) failed.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connected notification socket.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
}

impl Notifier {
    /// The socket named by `NOTIFY_SOCKET`; `None` outside systemd (the
    /// variable is unset or empty); an error when it cannot be reached.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(path) if !path.is_empty() => Notifier::connect(&path.to_string_lossy()).map(Some),
            _ => Ok(None),
        }
    }

    /// Connects to `path`, an abstract name when it starts with `@`.
    pub fn connect(path: &str) -> io::Result<Notifier> {
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(path)?,
        };
        let sock = UnixDatagram::unbound()?;
        sock.connect_addr(&addr)?;
        sock.set_nonblocking(true)?;
        Ok(Notifier { sock })
    }

    /// Wraps a socket already connected to the receiver.
    pub fn from_socket(sock: UnixDatagram) -> Notifier {
        Notifier { sock }
    }

    /// Sends one notification: `KEY=value` lines, e.g. `READY=1`.
    pub fn send(&self, lines: &[&str]) -> io::Result<()> {
        let mut msg = lines.join("\n");
        msg.push('\n');
        let n = self.sock.send(msg.as_bytes())?;
        if n == msg.len() { Ok(()) } else { Err(io::Error::new(io::ErrorKind::WriteZero, "notification cut short")) }
    }
}

/// The watchdog period systemd expects pings within (`WatchdogSec=`), if
/// it asked this process for them.
pub fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// One line for systemd's `STATUS=`: no line breaks (they would end the
/// field), and short.
pub fn status_line(text: &str) -> String {
    let one: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("STATUS={}", one.chars().take(200).collect::<String>())
}

/// `CLOCK_MONOTONIC` now in microseconds, for `MONOTONIC_USEC=` with
/// `RELOADING=1` (systemd matches the reload with it).
#[allow(unsafe_code)]
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec that outlives the call;
    // CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0).saturating_mul(1_000_000) + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        Notifier::connect(path.to_str().unwrap()).unwrap().send(&["READY=1", "STATUS=up"]).unwrap();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up\n");

        let name = format!("winback-test-{}", std::process::id());
        let server = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        Notifier::connect(&format!("@{name}")).unwrap().send(&["WATCHDOG=1"]).unwrap();
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");
    }

    #[test]
    fn a_status_stays_one_line() {
        assert_eq!(status_line("a\nb\tc"), "STATUS=a b c");
    }
}
