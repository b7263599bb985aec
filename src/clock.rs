//! Wall-clock time that follows tokio's clock.
//!
//! Everything in winback that needs "now" as a calendar time asks a
//! [`Clock`]. It is anchored to the system time once and then advanced by
//! `tokio::time::Instant`, so tests running with paused tokio time see
//! calendar time move exactly as far as they advance the runtime.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, the unit of every stored timestamp.
pub type Millis = i64;

/// A calendar clock driven by tokio's (pausable) monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor_wall: Millis,
    anchor_mono: tokio::time::Instant,
}

impl Clock {
    /// Anchors to the current system time.
    pub fn system() -> Self {
        Self::starting_at(Utc::now().timestamp_millis())
    }

    /// Anchors to a given calendar time (tests).
    pub fn starting_at(wall: Millis) -> Self {
        Clock { anchor_wall: wall, anchor_mono: tokio::time::Instant::now() }
    }

    /// Milliseconds since the epoch, now.
    pub fn now(&self) -> Millis {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.anchor_mono);
        self.anchor_wall.saturating_add(elapsed.as_millis() as i64)
    }
}

/// Converts stored milliseconds to a UTC date-time (saturating on nonsense).
pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Formats milliseconds as RFC 3339 with second precision.
pub fn rfc3339(ms: Millis) -> String {
    to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time, or a plain date `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Converts a duration to milliseconds, saturating.
pub fn ms(d: std::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let c = Clock::starting_at(1_000);
        assert_eq!(c.now(), 1_000);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(c.now(), 91_000);
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(rfc3339(86_400_000), "1970-01-02T00:00:00Z");
    }
}
