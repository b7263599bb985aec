//! Socket activation (`sd_listen_fds(3)`): the inbound SMTP listener can
//! come from the service manager (`winback-inbound.socket` binds port 25
//! and passes it as descriptor 3) instead of `[inbound] listen`, so the
//! service keeps no capability to bind privileged ports.
//!
//! The descriptors are for this process only when `LISTEN_PID` is its PID
//! (a child started with the same environment ignores them). With
//! `LISTEN_FDNAMES`, the one named `smtp` is taken; without names, a single
//! descriptor is. Each taken descriptor is marked close-on-exec.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;
/// The name `winback-inbound.socket` gives its descriptor.
pub const SMTP_NAME: &str = "smtp";

/// Why the passed descriptors cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// An environment variable is not what `sd_listen_fds(3)` says.
    #[error("socket activation: {0}; check the socket unit (FileDescriptorName=smtp)")]
    Environment(String),
    /// The descriptor is not a listening TCP socket.
    #[error(
        "socket activation: descriptor {fd} is not a TCP socket ({source}); the socket unit must use ListenStream="
    )]
    NotTcp {
        /// The descriptor.
        fd: RawFd,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<ActivationError> for std::io::Error {
    fn from(e: ActivationError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    }
}

/// What the environment passes, as read: descriptor count and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// Number of descriptors from 3 on.
    pub count: usize,
    /// Their names, if given.
    pub names: Option<Vec<String>>,
}

impl Passed {
    /// Reads `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` for the
    /// process `pid`; `None` when nothing was passed to it.
    pub fn read(env: impl Fn(&str) -> Option<String>, pid: u32) -> Result<Option<Passed>, ActivationError> {
        let Some(for_pid) = env("LISTEN_PID") else { return Ok(None) };
        let for_pid: u32 = for_pid
            .trim()
            .parse()
            .map_err(|_| ActivationError::Environment(format!("LISTEN_PID={for_pid:?} is not a PID")))?;
        if for_pid != pid {
            return Ok(None);
        }
        let count = env("LISTEN_FDS").unwrap_or_default();
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| ActivationError::Environment(format!("LISTEN_FDS={count:?} is not a count")))?;
        let names = env("LISTEN_FDNAMES").map(|n| n.split(':').map(str::to_string).collect::<Vec<_>>());
        if let Some(n) = &names
            && n.len() != count
        {
            return Err(ActivationError::Environment(format!(
                "LISTEN_FDNAMES has {} names for {count} descriptors",
                n.len()
            )));
        }
        Ok((count > 0).then_some(Passed { count, names }))
    }

    /// The descriptor of the SMTP listener, if one was passed.
    pub fn smtp_fd(&self) -> Result<Option<RawFd>, ActivationError> {
        let index = match &self.names {
            Some(names) => match names.iter().position(|n| n == SMTP_NAME) {
                Some(i) => i,
                None if self.count == 1 && names[0] == "unknown" => 0,
                None => return Ok(None),
            },
            None if self.count == 1 => 0,
            None => {
                return Err(ActivationError::Environment(format!(
                    "{} descriptors passed without names; name the SMTP one `{SMTP_NAME}`",
                    self.count
                )));
            }
        };
        Ok(Some(FIRST_FD + index as RawFd))
    }
}

/// The inbound SMTP listener passed by the service manager, if any, ready
/// for tokio (non-blocking, close-on-exec).
pub fn inbound_smtp() -> Result<Option<TcpListener>, ActivationError> {
    let Some(passed) = Passed::read(|k| std::env::var(k).ok(), std::process::id())? else { return Ok(None) };
    let Some(fd) = passed.smtp_fd()? else {
        tracing::warn!(names = ?passed.names, "sockets were passed, none named `{SMTP_NAME}`; ignored");
        return Ok(None);
    };
    let listener = TcpListener::from(take(fd));
    let checked = listener.local_addr().and_then(|addr| listener.set_nonblocking(true).map(|()| addr));
    match checked {
        Ok(addr) => {
            tracing::info!(%addr, fd, "inbound SMTP on the socket passed by the service manager");
            Ok(Some(listener))
        }
        Err(source) => Err(ActivationError::NotTcp { fd, source }),
    }
}

/// Takes ownership of a passed descriptor and marks it close-on-exec.
#[allow(unsafe_code)]
fn take(fd: RawFd) -> OwnedFd {
    // SAFETY: `LISTEN_PID` names this process, so the service manager
    // passed descriptor `fd` (3 + index < 3 + LISTEN_FDS) open to it at
    // exec; the kernel never handed that number to anything else since,
    // and this runs once, so nothing else owns it. `fcntl(F_SETFD)` on an
    // open descriptor has no memory effects.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        OwnedFd::from_raw_fd(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn descriptors_for_another_process_or_none_are_not_taken() {
        assert_eq!(Passed::read(env(&[]), 7).unwrap(), None);
        assert_eq!(Passed::read(env(&[("LISTEN_PID", "8"), ("LISTEN_FDS", "1")]), 7).unwrap(), None);
        assert_eq!(Passed::read(env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "0")]), 7).unwrap(), None);
    }

    #[test]
    fn the_smtp_descriptor_is_found_by_name_or_alone() {
        let one = Passed::read(env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "1")]), 7).unwrap().unwrap();
        assert_eq!(one.smtp_fd().unwrap(), Some(3));
        let named = env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "2"), ("LISTEN_FDNAMES", "metrics:smtp")]);
        assert_eq!(Passed::read(named, 7).unwrap().unwrap().smtp_fd().unwrap(), Some(4));
        let other = env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", "http")]);
        assert_eq!(Passed::read(other, 7).unwrap().unwrap().smtp_fd().unwrap(), None);
    }

    #[test]
    fn a_malformed_environment_is_an_error_that_says_what() {
        let bad = Passed::read(env(&[("LISTEN_PID", "x")]), 7).unwrap_err().to_string();
        assert!(bad.contains("LISTEN_PID=\"x\""), "{bad}");
        let names = env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "2"), ("LISTEN_FDNAMES", "smtp")]);
        assert!(Passed::read(names, 7).unwrap_err().to_string().contains("1 names for 2"));
        let unnamed = Passed::read(env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "2")]), 7).unwrap().unwrap();
        assert!(unnamed.smtp_fd().unwrap_err().to_string().contains("without names"));
    }
}
