//! The daemon's log format, on stderr:
//! - `journal`: each line starts with its syslog priority (`<3>` error,
//!   `<4>` warning, `<6>` info, `<7>` debug and trace) and carries no
//!   timestamp (journald adds its own), so `journalctl -p warning -u
//!   winback` selects by level;
//! - `json`: one JSON object per line (timestamp, level, target, fields),
//!   for log shippers;
//! - `text`: timestamped human-readable lines (colours on a terminal);
//! - `auto` (the default): `journal` when stderr is the stream systemd's
//!   `JOURNAL_STREAM` names, else `text`.
//!
//! `RUST_LOG` sets the level (default `info`).

use std::fmt;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `journal` under systemd's journal, else `text`.
    #[default]
    Auto,
    /// Timestamped lines for a terminal or a file.
    Text,
    /// Syslog priority prefixes, no timestamps (journald).
    Journal,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `Auto` decided: `Journal` when `journal_stream` (the value of
    /// `JOURNAL_STREAM`, `device:inode`) names stderr.
    pub fn resolve(self, journal_stream: Option<&str>) -> LogFormat {
        match self {
            LogFormat::Auto if journal_stream.is_some_and(is_stderr) => LogFormat::Journal,
            LogFormat::Auto => LogFormat::Text,
            f => f,
        }
    }
}

/// Whether `device:inode` is the file stderr writes to.
fn is_stderr(stream: &str) -> bool {
    let Some((dev, ino)) = stream.split_once(':') else { return false };
    let meta = std::io::stderr().as_fd().try_clone_to_owned().and_then(|fd| std::fs::File::from(fd).metadata());
    match (meta, dev.parse::<u64>(), ino.parse::<u64>()) {
        (Ok(m), Ok(dev), Ok(ino)) => m.dev() == dev && m.ino() == ino,
        _ => false,
    }
}

/// The syslog priority of a level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// `<N>` then the event without time or level.
struct Journal {
    inner: Format<tracing_subscriber::fmt::format::Full, ()>,
}

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.inner.format_event(ctx, writer, event)
    }
}

/// Installs the subscriber for `format` (resolved against the
/// environment's `JOURNAL_STREAM`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format.resolve(std::env::var("JOURNAL_STREAM").ok().as_deref()) {
        LogFormat::Journal => {
            let inner = tracing_subscriber::fmt::format().without_time().with_level(false).with_ansi(false);
            builder.with_ansi(false).event_format(Journal { inner }).try_init()
        }
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        let got: Vec<u8> =
            [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE].iter().map(priority).collect();
        assert_eq!(got, [3, 4, 6, 7, 7]);
    }

    #[test]
    fn auto_is_journal_only_for_the_stream_stderr_is() {
        assert_eq!(LogFormat::Auto.resolve(None), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(Some("0:0")), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(Some("nonsense")), LogFormat::Text);
        assert_eq!(LogFormat::Json.resolve(Some("0:0")), LogFormat::Json);
    }
}
