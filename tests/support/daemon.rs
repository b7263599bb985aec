//! Runs the real `winback` binary: a temp state dir and config, `serve` as a
//! child process (killed on drop), and CLI commands against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The winback binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_winback"))
}

/// A working directory with a config file, and maybe a running daemon.
pub struct Winback {
    /// Temp dir holding config, templates, state.
    pub dir: tempfile::TempDir,
    /// The config file.
    pub config: PathBuf,
    child: Option<Child>,
    /// The umask every command and the daemon run with (through `sh`), if set.
    umask: Option<&'static str>,
}

impl Winback {
    /// Writes `config_toml` (paths inside may use `{dir}`) and copies the
    /// shipped templates and lists next to it.
    pub fn new(config_toml: &str) -> Winback {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cfgdir = dir.path().join("config");
        std::fs::create_dir_all(cfgdir.join("templates")).expect("mkdir");
        for entry in std::fs::read_dir(root.join("config/templates")).expect("templates") {
            let p = entry.expect("entry").path();
            std::fs::copy(&p, cfgdir.join("templates").join(p.file_name().expect("name"))).expect("copy");
        }
        for f in ["role-accounts.txt", "disposable-domains.txt"] {
            std::fs::copy(root.join("config").join(f), cfgdir.join(f)).expect("copy list");
        }
        let config = cfgdir.join("winback.toml");
        let text = config_toml.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&config, text).expect("write config");
        Winback { dir, config, child: None, umask: None }
    }

    /// Runs every later command and the daemon with `umask` (octal) in force.
    pub fn with_umask(mut self, umask: &'static str) -> Winback {
        self.umask = Some(umask);
        self
    }

    /// The `winback` command, under `sh` when a umask is set.
    fn command(&self) -> Command {
        self.command_after(None)
    }

    /// The `winback` command, under `sh` running `prelude` first (and the
    /// umask, if set) when there is one.
    fn command_after(&self, prelude: Option<&str>) -> Command {
        let shell: Vec<String> =
            self.umask.map(|m| format!("umask {m}")).into_iter().chain(prelude.map(str::to_string)).collect();
        let mut cmd = if shell.is_empty() {
            Command::new(bin())
        } else {
            let mut sh = Command::new("sh");
            sh.arg("-c").arg(format!("{} && exec \"$0\" \"$@\"", shell.join(" && "))).arg(bin());
            sh
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs a CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).arg("--config").arg(&self.config).output().expect("run winback")
    }

    /// Runs a CLI command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "winback {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `status --json` parsed.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status JSON")
    }

    /// Imports `emails` as contacts last engaged in 2020 (lapsed).
    pub fn import(&self, emails: &[&str]) {
        let csv: String = emails.iter().map(|e| format!("{e},2020-01-01\n")).collect();
        std::fs::write(self.path("contacts.csv"), format!("email,last_engaged_at\n{csv}")).expect("write CSV");
        self.ok(&["contacts", "import", "contacts.csv"]);
    }

    /// Starts `winback serve` and waits until its admin socket answers.
    pub fn start(&mut self) {
        self.start_with(|_| {});
    }

    /// [`Self::start`], with `setup` adding to the command (environment,
    /// arguments after `serve --config FILE`, inherited descriptors).
    pub fn start_with(&mut self, setup: impl FnOnce(&mut Command)) {
        self.start_after(None, setup);
    }

    /// [`Self::start_with`], with `sh` running `prelude` (shell code: file
    /// descriptors, `export`s) before it becomes `winback serve` (same PID).
    pub fn start_after(&mut self, prelude: Option<&str>, setup: impl FnOnce(&mut Command)) {
        assert!(self.child.is_none(), "already running");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.path("daemon.log")).expect("log file");
        let mut cmd = self.command_after(prelude);
        cmd.args(["serve", "--config"]).arg(&self.config).env("RUST_LOG", "winback=debug");
        setup(&mut cmd);
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("spawn winback serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("winback serve exited early ({status}); log:\n{}", self.log());
            }
            let sock = self.path("var/winback.sock");
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "daemon did not come up; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The running daemon's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until the Maildir folder `rel` (under the temp dir) holds at
    /// least `n` messages; returns their text.
    pub fn maildir_messages(&self, rel: &str, n: usize) -> Vec<String> {
        let dir = self.path(rel);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let files: Vec<PathBuf> =
                std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            if files.len() >= n {
                return files.iter().map(|p| std::fs::read_to_string(p).expect("read message")).collect();
            }
            assert!(Instant::now() < deadline, "fewer than {n} messages in {rel}; log:\n{}", tail(&self.log()));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// SIGTERM and wait (graceful stop); returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let pid = child.id() as i32;
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// SIGTERM, then [`Self::wait_exit`]: the exit code of the stop.
    pub fn stop_code(&mut self, timeout: Duration) -> Option<i32> {
        let pid = self.child.as_ref().expect("daemon running").id();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        self.wait_exit(timeout)
    }

    /// Waits for the daemon to exit on its own (within `timeout`, else
    /// panics); returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take().expect("daemon running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for winback serve") {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("winback serve did not exit within {timeout:?}; log:\n{}", tail(&self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits up to `limit` for the exit; returns the exit
    /// status, or `None` when the daemon was still running at `limit` (it
    /// is then killed).
    pub fn stop_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL: a crash.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The suppression entry of `email` (`suppress list --json`); panics
    /// when there is none.
    pub fn suppression(&self, email: &str) -> serde_json::Value {
        let list: serde_json::Value = serde_json::from_str(&self.ok(&["suppress", "list", "--json"])).expect("JSON");
        list.as_array()
            .and_then(|a| a.iter().find(|s| s["email"] == email).cloned())
            .unwrap_or_else(|| panic!("{email} not suppressed: {list:#}"))
    }

    /// Polls `done` until it holds; after `timeout` fails with `what()`
    /// and the daemon's log.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool, what: impl Fn() -> String) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(Instant::now() < deadline, "{}; log:\n{}", what(), self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `f` on the status until it holds or `timeout` passes.
    pub fn wait_for(&self, timeout: Duration, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status();
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status: {s:#}\nlog tail:\n{}",
                tail(&self.log())
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Drop for Winback {
    fn drop(&mut self) {
        self.crash();
    }
}

/// A sequence of one message, sent at once to every lapsed contact.
pub const ONE_MESSAGE: &str = r#"
[[sequence]]
name = "wb"
grace = "1h"
[[sequence.step]]
after = "0s"
subject = "We miss you"
template = "miss-you"
final = true
"#;

/// The bounce domain of every end-to-end config here.
pub const BOUNCE_DOMAIN: &str = "bounces.shop.test";

/// A config sending [`ONE_MESSAGE`] into a Maildir outbox
/// (`{dir}/outbox`), the rest as [`config_with`]; `scheduler` and
/// `inbound` are extra keys of those sections.
pub fn maildir_config(scheduler: &str, inbound: &str) -> String {
    config_with(
        "kind = \"maildir\"\nmaildir = \"{dir}/outbox\"",
        &format!("{scheduler}\n[inbound]\n{inbound}\n{ONE_MESSAGE}"),
    )
}

/// The shared part of end-to-end configs: state in the temp dir, the
/// shop's sender and bounce domain, `transport` (the keys of
/// `[transport]`), no DNS checks at import, HTTP on a free port, the
/// copied templates, a fast tick, then `extra` (TOML). `extra` follows the
/// `[scheduler]` keys: keys before its first table header belong there.
pub fn config_with(transport: &str, extra: &str) -> String {
    format!(
        r#"
state_dir = "{{dir}}/var"
[sender]
from = "Shop <hello@shop.test>"
bounce_domain = "bounces.shop.test"
public_base_url = "http://127.0.0.1:1"
[transport]
{transport}
[hygiene]
check_dns = false
[http]
listen = "127.0.0.1:0"
[templates]
dir = "{{dir}}/config/templates"
[scheduler]
tick = "200ms"
{extra}"#
    )
}

/// A config for end-to-end runs ([`config_with`]): mail to the SMTP
/// server on `port` at `rate`, providers by recipient domain (no DNS at
/// all), then `extra` (TOML). `extra` follows the `[reputation]` header:
/// keys before its first table header belong there.
pub fn smtp_config(port: u16, rate: &str, extra: &str) -> String {
    let transport =
        format!("kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nretry_initial = \"1s\"");
    let rest = format!(
        "[limits]\nglobal = \"{rate}\"\nmax_connections = 4\n[reputation]\nprovider_lookup = \"domain\"\n{extra}"
    );
    config_with(&transport, &rest)
}
