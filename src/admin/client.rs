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

    /// Sends `requests` one after another without waiting for each answer,
    /// so a daemon reads the next while it works on one (at most two
    /// waiting). `answer` gets each answer, with what `requests` paired its
    /// request with, in order, on another thread; when it returns `false`
    /// nothing more is sent. Directly on the store, each request is
    /// executed and answered in turn while the next is made.
    pub fn pipeline<T: Send>(
        &mut self,
        socket: &std::path::Path,
        requests: impl Iterator<Item = (Request, T)> + Send,
        mut answer: impl FnMut(T, Response) -> bool + Send,
    ) -> Result<(), AdminError> {
        let stream = match self {
            Admin::Direct(cx) => {
                // The requests are made on another thread (an import's
                // merge of sorted runs) while this one executes them.
                std::thread::scope(|s| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<(Request, T)>(1);
                    s.spawn(move || {
                        for item in requests {
                            if tx.send(item).is_err() {
                                break;
                            }
                        }
                    });
                    for (req, tag) in rx {
                        if !answer(tag, execute(cx, req)) {
                            break;
                        }
                    }
                });
                return Ok(());
            }
            Admin::Daemon(stream) => stream,
        };
        let io = |source| AdminError::Socket { path: socket.display().to_string(), source };
        let mut answers = BufReader::new(stream.get_ref().try_clone().map_err(io)?);
        let writer = stream.get_mut();
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<T>(1);
            let reader = s.spawn(move || -> Result<(), AdminError> {
                for tag in rx {
                    let mut line = String::new();
                    answers.read_line(&mut line).map_err(io)?;
                    let r = serde_json::from_str(&line).map_err(|e| AdminError::Protocol(e.to_string()))?;
                    if !answer(tag, r) {
                        // The writer may be blocked on a full socket: end it.
                        let _ = answers.get_ref().shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                }
                Ok(())
            });
            let mut sent = Ok(());
            for (req, tag) in requests {
                let mut line = match serde_json::to_vec(&req) {
                    Ok(l) => l,
                    Err(e) => {
                        sent = Err(AdminError::Protocol(e.to_string()));
                        break;
                    }
                };
                line.push(b'\n');
                // A failed write or a reader that stopped ends the sending;
                // the reader says why, if it knows.
                if writer.write_all(&line).is_err() || tx.send(tag).is_err() {
                    break;
                }
            }
            drop(tx);
            let read = reader.join().unwrap_or_else(|_| Err(AdminError::Protocol("answer reader failed".into())));
            read.and(sent)
        })
    }
}
