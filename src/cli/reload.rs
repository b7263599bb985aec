//! `winback reload`: asks the running daemon to read its configuration,
//! templates and data files again (like `systemctl reload winback`), and
//! prints what changed and what needs a restart.
//!
//! The daemon reads the file it was started with. An invalid file changes
//! nothing in the daemon: the error is printed and the exit status is 64,
//! as for a configuration error at start. The admin socket is found in
//! this command's configuration; when that file is the invalid one, its
//! `[admin] socket` (or `state_dir`) is read without the rest of the
//! validation, so the daemon still reports (and logs) the error.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::common::{CmdResult, Failure, load_config, unexpected};
use crate::admin::{Request, Response};

/// Exit statuses of `reload`, for `winback reload --help`.
pub const EXIT_STATUS_HELP: &str = "Exit status:
  0   the new configuration is in force (changes that need a restart are listed)
  64  the new configuration is invalid: nothing changed, the error says where
  69  no daemon answers on the admin socket";

/// Reloads the daemon's configuration.
pub fn run(config: Option<&Path>) -> CmdResult {
    let socket = match load_config(config) {
        Ok(cfg) => cfg.admin_socket,
        Err(f) => admin_socket_of(config).ok_or(f)?,
    };
    let unavailable = |e: std::io::Error| {
        Failure::new(
            super::EX_UNAVAILABLE,
            format!("no daemon answers on {} ({e}); a start reads the configuration anyway", socket.display()),
        )
    };
    let mut stream = UnixStream::connect(&socket).map_err(unavailable)?;
    let mut line = serde_json::to_vec(&Request::Reload).map_err(|e| Failure::new(super::EX_SOFTWARE, e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(unavailable)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(unavailable)?;
    let response: Response = serde_json::from_str(&answer)
        .map_err(|e| Failure::new(super::EX_UNAVAILABLE, format!("unreadable answer from the daemon: {e}")))?;
    match response {
        Response::Reloaded { report } => {
            println!("configuration reloaded from {}", report.source);
            if report.changed.is_empty() {
                println!("changed: nothing in the file; templates and data files read again");
            } else {
                println!("changed: {}; templates and data files read again", report.changed.join(", "));
            }
            if !report.needs_restart.is_empty() {
                println!(
                    "changed but needs a restart: {} (the start-up values stay in force)",
                    report.needs_restart.join(", ")
                );
            }
            if report.recompute {
                println!("lapse rules, segments or sequences changed: due times are recomputed in the background");
            }
            Ok(ExitCode::SUCCESS)
        }
        Response::ReloadRefused { message } => Err(Failure::new(
            super::EX_USAGE,
            format!(
                "configuration error: {message}\nnothing changed: the daemon goes on with the configuration in force"
            ),
        )),
        Response::Error { message } => Err(Failure::new(super::EX_SOFTWARE, message)),
        other => Err(unexpected(&other)),
    }
}

/// `[admin] socket`, else `state_dir/winback.sock`, of a file that may not
/// validate; `None` when it cannot be read as TOML at all.
fn admin_socket_of(config: Option<&Path>) -> Option<PathBuf> {
    let path = config.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("config/winback.toml"));
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let text = |v: &toml::Value| v.as_str().map(PathBuf::from);
    let socket = table.get("admin").and_then(|a| a.get("socket")).and_then(text);
    socket.or_else(|| {
        let state = table.get("state_dir").map_or(Some(PathBuf::from("./var")), text)?;
        Some(state.join("winback.sock"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_of_an_invalid_file_is_still_found() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.toml");
        std::fs::write(&f, "state_dir = \"/s\"\n[limits]\nglobal = \"fast\"\n").unwrap();
        assert_eq!(admin_socket_of(Some(&f)), Some(PathBuf::from("/s/winback.sock")));
        std::fs::write(&f, "[admin]\nsocket = \"/a.sock\"\n[limits]\nglobal = \"fast\"\n").unwrap();
        assert_eq!(admin_socket_of(Some(&f)), Some(PathBuf::from("/a.sock")));
        std::fs::write(&f, "[limits\n").unwrap();
        assert_eq!(admin_socket_of(Some(&f)), None);
    }
}
