//! When a sequence's messages may go out: `[[sequence]] send_window`, as
//! written and validated, and the next moment a window is open.
//!
//! ```toml
//! send_window = { days = "mon-fri", hours = "09:00-18:00", time_zone = "Europe/Berlin" }
//! ```
//!
//! Days are a list (`"mon,wed,fri"`) or ranges (`"mon-fri"`, `"fri-mon"`
//! wraps); hours are local `HH:MM-HH:MM`, start before end (`"24:00"`
//! ends at midnight). The local time is the contact's own when its import
//! column `time_zone_column` (default `time_zone`) holds an IANA zone
//! name, else `time_zone` (default UTC). A message queued outside the
//! window is made ready at the window's next start; the sender's rates and
//! the sequence's spacing (counted from when a message went out) hold as
//! always. On a daylight-saving gap the window opens at the first valid
//! local minute after its start.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;

use super::Contact;
use crate::clock::Millis;

/// `send_window` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSendWindow {
    /// `"mon-fri"`, `"sat,sun"` (default every day).
    pub days: Option<String>,
    /// `"09:00-18:00"` (default all day).
    pub hours: Option<String>,
    /// IANA zone for contacts without one (default `UTC`).
    pub time_zone: Option<String>,
    /// The import column with a contact's zone (default `time_zone`).
    pub time_zone_column: Option<String>,
}

/// A validated send window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Allowed weekdays, Monday first.
    pub days: [bool; 7],
    /// First allowed minute of the day.
    pub start: u32,
    /// First minute no longer allowed (up to 1440).
    pub end: u32,
    /// The zone of contacts without one.
    pub default_zone: Tz,
    /// The import column naming a contact's zone.
    pub column: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day(s: &str) -> Result<usize, String> {
    let s = s.trim().to_ascii_lowercase();
    DAYS.iter()
        .position(|d| s.starts_with(d) && s.len() >= 3)
        .ok_or_else(|| format!("`{s}` is not a day; write mon, tue, wed, thu, fri, sat or sun"))
}

fn minute(s: &str) -> Result<u32, String> {
    let bad = || format!("`{s}` is not a time; write HH:MM like 09:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Validates `send_window`; the error (for key `send_window`) says how
/// to write it.
pub fn validate(raw: &RawSendWindow) -> Result<SendWindow, String> {
    let mut days = [raw.days.is_none(); 7];
    for part in raw.days.iter().flat_map(|d| d.split(',')) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut i = a;
                loop {
                    days[i] = true;
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    let (start, end) = match &raw.hours {
        None => (0, 1_440),
        Some(h) => {
            let (a, b) = h.split_once('-').ok_or_else(|| format!("hours `{h}`: write a range like \"09:00-18:00\""))?;
            (minute(a)?, minute(b)?)
        }
    };
    if start >= end {
        return Err(format!("hours: the start must come before the end on the same day (got {start} ≥ {end} minutes)"));
    }
    let zone = raw.time_zone.as_deref().unwrap_or("UTC");
    let default_zone: Tz =
        zone.parse().map_err(|_| format!("time_zone `{zone}` is not an IANA zone name like \"Europe/Berlin\""))?;
    let column = raw.time_zone_column.clone().unwrap_or_else(|| "time_zone".into());
    Ok(SendWindow { days, start, end, default_zone, column })
}

impl SendWindow {
    /// The contact's zone: its column when that names a zone, else the default.
    pub fn zone_for(&self, contact: &Contact) -> Tz {
        contact.fields.get(&self.column).and_then(|z| z.trim().parse().ok()).unwrap_or(self.default_zone)
    }

    /// `now` when the window is open then in `zone`, else the start of its
    /// next opening.
    pub fn next_open(&self, now: Millis, zone: Tz) -> Millis {
        let Some(local) = zone.timestamp_millis_opt(now).single() else { return now };
        let today = local.date_naive();
        let minute_now = local.hour_minute();
        for d in 0..8 {
            let date = today + Duration::days(d);
            if !self.days[date.weekday().num_days_from_monday() as usize] {
                continue;
            }
            if d == 0 && (self.start..self.end).contains(&minute_now) {
                return now;
            }
            if (d > 0 || minute_now < self.start)
                && let Some(t) = self.opening(date, zone)
            {
                return t.max(now);
            }
        }
        now
    }

    /// The first valid instant at or after the window's start on `date`.
    fn opening(&self, date: NaiveDate, zone: Tz) -> Option<Millis> {
        (self.start..self.end).find_map(|m| {
            let t = NaiveTime::from_hms_opt(m / 60, m % 60, 0)?;
            zone.from_local_datetime(&date.and_time(t)).earliest().map(|dt| dt.timestamp_millis())
        })
    }
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl<T: chrono::Timelike> HourMinute for T {
    fn hour_minute(&self) -> u32 {
        self.hour() * 60 + self.minute()
    }
}

#[cfg(test)]
#[path = "send_window_tests.rs"]
mod tests;
