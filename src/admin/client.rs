//! The CLI's side of the admin API: send requests to the daemon if one
//! listens on the socket, else execute them on the store in-process.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::{Context, Request, Response, execute};
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{Store, StoreError};

/// Where requests go.
pub enum Admin {
    /// A running daemon.
    Daemon(BufReader<UnixStream>),
    /// The store, opened by this process.
    Direct(Context),
}

/// Errors reaching either.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Neither the daemon nor the store could be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Talking to the daemon failed.
    #[error("admin socket {path}: {source}")]
    Socket {
        /// The socket.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The daemon answered something unreadable.
    #[error("unreadable answer from the daemon: {0}")]
    Protocol(String),
}

impl Admin {
    /// Connects to the daemon if its socket answers, else opens the store.
    pub fn connect(cfg: &Config) -> Result<Admin, AdminError> {
        if let Ok(s) = UnixStream::connect(&cfg.admin_socket) {
            return Ok(Admin::Daemon(BufReader::new(s)));
        }
        let store = Store::open(&cfg.state_dir)?;
        Ok(Admin::Direct(Context {
            store,
            cfg: Arc::new(cfg.clone()),
            clock: Clock::system(),
            guard: None,
            keys: None,
            reload: None,
        }))
    }

    /// Whether requests go to a running daemon.
    pub fn via_daemon(&self) -> bool {
        matches!(self, Admin::Daemon(_))
    }

    /// Sends one request.
    pub fn call(&mut self, req: Request, socket: &std::path::Path) -> Result<Response, AdminError> {
        match self {
            Admin::Direct(cx) => Ok(execute(cx, req)),
            Admin::Daemon(stream) => {
                let io = |source| AdminError::Socket { path: socket.display().to_string(), source };
                let mut line = serde_json::to_vec(&req).map_err(|e| AdminError::Protocol(e.to_string()))?;
                line.push(b'\n');
                stream.get_mut().write_all(&line).map_err(io)?;
                let mut answer = String::new();
                stream.read_line(&mut answer).map_err(io)?;
                serde_json::from_str(&answer).map_err(|e| AdminError::Protocol(e.to_string()))
            }
        }
    }
}
