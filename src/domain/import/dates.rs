//! Dates in import files as shops and spreadsheets write them.
//!
//! Always read, without any setting:
//! - `YYYY-MM-DD` (midnight);
//! - `YYYY-MM-DD HH:MM[:SS[.fff]]` with a space or `T`, with or without an
//!   offset: `Z`, `+01:00`, `+0100` or `+01`, glued or after one space
//!   (Shopify writes `2025-01-15 10:22:33 +0100`, RFC 3339 is
//!   `2025-01-15T10:22:33+01:00`).
//!
//! A time without an offset (WooCommerce and MySQL write
//! `2025-01-15 10:22:33`) and a plain date are local times in the
//! configured IANA zone (`[import] time_zone`, default UTC). A local time
//! that occurs twice (the hour the clocks go back) is the earlier one; one
//! that does not exist (the hour they go forward) is refused.
//!
//! Every other layout needs a format (`--date-format`, `[import]
//! date_format`), in strftime notation (`%d.%m.%Y`, `%m/%d/%Y %H:%M`).
//! Without one, a value like `15.01.2025` or `01/02/2025` is never
//! guessed: the error names the format(s) that would read it, and says so
//! when the value could be read two ways.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::clock::Millis;

/// How an import reads its date columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateReader {
    zone: Tz,
    format: Option<Format>,
}

impl Default for DateReader {
    fn default() -> Self {
        DateReader { zone: Tz::UTC, format: None }
    }
}

/// A checked strftime format.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Format {
    text: String,
    /// Names an offset (`%z`, `%:z`, `%#z`).
    offset: bool,
    /// Names an hour.
    time: bool,
}

/// Why a value was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateProblem {
    /// Not a date in any layout winback knows: a problem of this row.
    NotADate(String),
    /// A layout that needs a format to be read (the same for every row of
    /// the column, so a problem of the whole file): what to pass.
    NeedsFormat(String),
}

impl DateReader {
    /// A reader for times in `zone` (an IANA name like `Europe/Berlin`),
    /// with an optional strftime `format` for non-ISO values.
    pub fn new(zone: &str, format: Option<&str>) -> Result<DateReader, String> {
        let zone = parse_zone(zone)?;
        let format = format.map(check_format).transpose()?;
        Ok(DateReader { zone, format })
    }

    /// The same reader with another format (a `--date-format` over the config's).
    pub fn with_format(mut self, format: &str) -> Result<DateReader, String> {
        self.format = Some(check_format(format)?);
        Ok(self)
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// Reads one trimmed, non-empty value.
    pub fn read(&self, value: &str) -> Result<Millis, DateProblem> {
        if let Some(iso) = iso(value.as_bytes()) {
            return match iso.offset_secs {
                Some(off) => Ok(iso.local.and_utc().timestamp_millis() - i64::from(off) * 1000),
                None => self.local(iso.local, value),
            };
        }
        match &self.format {
            Some(f) => self.by_format(f, value),
            None => Err(needs_format(value)),
        }
    }

    fn local(&self, t: NaiveDateTime, value: &str) -> Result<Millis, DateProblem> {
        match self.zone.from_local_datetime(&t).earliest() {
            Some(t) => Ok(t.timestamp_millis()),
            None => Err(DateProblem::NotADate(format!(
                "`{value}` does not exist in {} (the clocks skip that hour); write it with an offset like +01:00",
                self.zone.name()
            ))),
        }
    }

    fn by_format(&self, f: &Format, value: &str) -> Result<Millis, DateProblem> {
        let bad = || {
            DateProblem::NotADate(format!(
                "`{value}` is neither ISO (2025-01-15 10:22:33) nor in the date format `{}`",
                f.text
            ))
        };
        if f.offset {
            return DateTime::parse_from_str(value, &f.text).map(|t| t.timestamp_millis()).map_err(|_| bad());
        }
        let local = if f.time {
            NaiveDateTime::parse_from_str(value, &f.text).map_err(|_| bad())?
        } else {
            NaiveDate::parse_from_str(value, &f.text).map_err(|_| bad())?.and_time(NaiveTime::MIN)
        };
        self.local(local, value)
    }
}

/// An IANA zone name, or what to write instead.
fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!(
            "`{name}` is not an IANA time zone name; write one like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
        )
    })
}

/// Checks a strftime format: known specifiers only, and it must read back
/// a date it wrote (so it names at least year, month and day).
fn check_format(text: &str) -> Result<Format, String> {
    let items: Vec<Item<'_>> = StrftimeItems::new(text).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!("date format `{text}` has an unknown % specifier; use strftime notation like %d.%m.%Y"));
    }
    let has = |specs: &[&str]| specs.iter().any(|s| text.contains(s));
    let format =
        Format { text: text.to_string(), offset: has(&["%z", "%:z", "%#z"]), time: has(&["%H", "%I", "%T", "%R"]) };
    let sample = NaiveDate::from_ymd_opt(2025, 1, 15)
        .and_then(|d| d.and_hms_opt(10, 22, 33))
        .map(|t| t.and_utc().fixed_offset())
        .ok_or("sample date")?;
    let written = sample.format(text).to_string();
    let reader = DateReader { zone: Tz::UTC, format: Some(format.clone()) };
    match reader.by_format(&format, &written) {
        Ok(ms) if ms / 86_400_000 == sample.timestamp_millis() / 86_400_000 => Ok(format),
        _ => Err(format!(
            "date format `{text}` does not name a whole date (it wrote 15 January 2025 as `{written}` and could not read it back); it needs a year, a month and a day, like %d.%m.%Y"
        )),
    }
}

/// An ISO date or date-time, split.
struct Iso {
    local: NaiveDateTime,
    offset_secs: Option<i32>,
}

/// Reads `YYYY-MM-DD[( |T)HH:MM[:SS[.f+]]][ ?(Z|±HH[:?MM])]`.
fn iso(b: &[u8]) -> Option<Iso> {
    let date = NaiveDate::from_ymd_opt(num(b, 0, 4)? as i32, num(b, 5, 2)?, num(b, 8, 2)?)
        .filter(|_| b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-'))?;
    let mut rest = b.get(10..)?;
    if rest.is_empty() {
        return Some(Iso { local: date.and_time(NaiveTime::MIN), offset_secs: None });
    }
    if !matches!(rest.first(), Some(b' ' | b'T' | b't')) || rest.get(3) != Some(&b':') {
        return None;
    }
    let (h, m) = (num(rest, 1, 2)?, num(rest, 4, 2)?);
    rest = rest.get(6..)?;
    let mut s = 0;
    let mut milli = 0;
    if rest.first() == Some(&b':') {
        s = num(rest, 1, 2)?;
        rest = rest.get(3..)?;
        if rest.first() == Some(&b'.') {
            let digits = rest.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let mut frac: u32 = 0;
            for i in 0..3 {
                frac = frac * 10 + if i < digits { u32::from(rest.get(1 + i)? - b'0') } else { 0 };
            }
            milli = frac;
            rest = rest.get(1 + digits..)?;
        }
    }
    let local = date.and_time(NaiveTime::from_hms_milli_opt(h, m, s, milli)?);
    let offset_secs = offset(rest.strip_prefix(b" ").unwrap_or(rest))?;
    Some(Iso { local, offset_secs })
}

/// `Some(None)` for nothing, `Some(Some(secs))` for an offset, `None` for garbage.
fn offset(b: &[u8]) -> Option<Option<i32>> {
    let sign = match b.first() {
        None => return Some(None),
        Some(b'Z' | b'z') if b.len() == 1 => return Some(Some(0)),
        Some(b'+') => 1,
        Some(b'-') => -1,
        Some(_) => return None,
    };
    let h = num(b, 1, 2)?;
    let m = match b.len() {
        3 => 0,
        5 => num(b, 3, 2)?,
        6 if b.get(3) == Some(&b':') => num(b, 4, 2)?,
        _ => return None,
    };
    (h < 24 && m < 60).then(|| Some(sign * (h * 3600 + m * 60) as i32))
}

/// The decimal number in `b[at..at + len]`, all digits.
fn num(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let digits = b.get(at..at + len)?;
    digits.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// The problem with a value no reader took: a day-month layout names the
/// format that reads it (both when it could be either), anything else is
/// not a date.
fn needs_format(value: &str) -> DateProblem {
    let (date, time) = value.split_once([' ', 'T']).unwrap_or((value, ""));
    let sep = date.chars().find(|c| matches!(c, '.' | '/' | '-'));
    let parts: Vec<&str> = sep.map(|s| date.split(s).collect()).unwrap_or_default();
    let time_fmt = match time.trim().matches(':').count() {
        0 if time.trim().is_empty() => "",
        1 => " %H:%M",
        2 => " %H:%M:%S",
        _ => return not_a_date(value),
    };
    let (Some(sep), [a, b, y]) = (sep, parts.as_slice()) else { return not_a_date(value) };
    let n = |s: &str| (1..=4).contains(&s.len()).then(|| s.parse::<u32>().ok()).flatten();
    let (Some(a_n), Some(b_n), Some(_)) = (n(a), n(b), n(y)) else { return not_a_date(value) };
    let year = if y.len() == 4 { "%Y" } else { "%y" };
    if a.len() == 4 {
        if sep == '-' {
            return not_a_date(value);
        }
        let f = format!("%Y{sep}%m{sep}%d{time_fmt}");
        return DateProblem::NeedsFormat(format!(
            "`{value}` reads as year{sep}month{sep}day: pass --date-format '{f}'"
        ));
    }
    let day_first = format!("%d{sep}%m{sep}{year}{time_fmt}");
    let month_first = format!("%m{sep}%d{sep}{year}{time_fmt}");
    let how = "(or set [import] date_format)";
    DateProblem::NeedsFormat(match (a_n > 12, b_n > 12) {
        (true, false) => {
            format!("`{value}` is not ISO; it reads as day{sep}month{sep}year: pass --date-format '{day_first}' {how}")
        }
        (false, true) => format!(
            "`{value}` is not ISO; it reads as month{sep}day{sep}year: pass --date-format '{month_first}' {how}"
        ),
        (false, false) => format!(
            "`{value}` is ambiguous: it could be day{sep}month or month{sep}day; say which with --date-format '{day_first}' (day first) or '{month_first}' (month first) {how}"
        ),
        (true, true) => return not_a_date(value),
    })
}

fn not_a_date(value: &str) -> DateProblem {
    DateProblem::NotADate(format!(
        "`{value}` is not a date: write 2025-01-15, 2025-01-15 10:22:33 (optionally with an offset like +01:00), or name the layout with --date-format"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_736_936_553_000; // 2025-01-15T10:22:33Z

    fn utc() -> DateReader {
        DateReader::default()
    }

    #[test]
    fn reads_iso_forms_with_and_without_offsets() {
        let r = utc();
        assert_eq!(r.read("2025-01-15T10:22:33Z"), Ok(T));
        assert_eq!(r.read("2025-01-15 10:22:33"), Ok(T));
        assert_eq!(r.read("2025-01-15T10:22:33"), Ok(T));
        assert_eq!(r.read("2025-01-15 11:22:33 +0100"), Ok(T));
        assert_eq!(r.read("2025-01-15 11:22:33+01:00"), Ok(T));
        assert_eq!(r.read("2025-01-15T11:22:33+01"), Ok(T));
        assert_eq!(r.read("2025-01-15T05:22:33-05:00"), Ok(T));
        assert_eq!(r.read("2025-01-15 10:22"), Ok(T - 33_000));
        assert_eq!(r.read("2025-01-15T10:22:33.250Z"), Ok(T + 250));
        assert_eq!(r.read("2025-01-15"), Ok(T - (10 * 3600 + 22 * 60 + 33) * 1000));
        for bad in ["2025-13-01", "2025-01-15 25:00", "2025-01-15 10:22:33 +0100x", "2025-01-15x"] {
            assert!(matches!(r.read(bad), Err(DateProblem::NotADate(_))), "{bad}");
        }
    }

    #[test]
    fn local_times_are_in_the_configured_zone() {
        let berlin = DateReader::new("Europe/Berlin", None).unwrap_or_default();
        assert_eq!(berlin.read("2025-01-15 11:22:33"), Ok(T));
        assert_eq!(berlin.read("2025-07-15 12:00:00"), utc().read("2025-07-15 10:00:00"), "summer time is +2");
        assert_eq!(berlin.read("2025-01-15 11:22:33 +0100"), Ok(T), "an offset wins over the zone");
        // 02:30 on the last Sunday of March does not exist in Berlin.
        assert!(matches!(berlin.read("2025-03-30 02:30"), Err(DateProblem::NotADate(m)) if m.contains("skip")));
        // 02:30 on the last Sunday of October happens twice: the earlier.
        assert_eq!(berlin.read("2025-10-26 02:30"), utc().read("2025-10-26 00:30"));
        assert!(DateReader::new("Mars/Olympus", None).is_err_and(|e| e.contains("IANA")));
    }

    #[test]
    fn other_layouts_need_a_format_and_are_never_guessed() {
        let r = utc();
        let needs = |v: &str| match r.read(v) {
            Err(DateProblem::NeedsFormat(m)) => m,
            other => panic!("{v}: {other:?}"),
        };
        assert!(needs("15.01.2025").contains("--date-format '%d.%m.%Y'"));
        assert!(needs("01/15/2025").contains("--date-format '%m/%d/%Y'"));
        let both = needs("01/02/2025");
        assert!(both.contains("ambiguous") && both.contains("%d/%m/%Y") && both.contains("%m/%d/%Y"), "{both}");
        assert!(needs("15.01.2025 10:22").contains("'%d.%m.%Y %H:%M'"));
        assert!(needs("2025/01/15").contains("'%Y/%m/%d'"));
        assert!(matches!(r.read("yesterday"), Err(DateProblem::NotADate(_))));
        assert!(matches!(r.read("31/31/2025"), Err(DateProblem::NotADate(_))));
    }

    #[test]
    fn formats_read_their_layouts_in_the_zone() {
        let de = DateReader::new("Europe/Berlin", Some("%d.%m.%Y")).unwrap_or_default();
        assert_eq!(
            de.read("15.01.2025"),
            DateReader::new("Europe/Berlin", None).unwrap_or_default().read("2025-01-15")
        );
        assert_eq!(de.read("2025-01-15 11:22:33"), Ok(T), "ISO still reads");
        assert!(matches!(de.read("01/15/2025"), Err(DateProblem::NotADate(m)) if m.contains("%d.%m.%Y")));
        let us = utc().with_format("%m/%d/%Y %I:%M:%S %p").unwrap_or_default();
        assert_eq!(us.read("01/15/2025 10:22:33 AM"), Ok(T));
        let off = utc().with_format("%d.%m.%Y %H:%M:%S %z").unwrap_or_default();
        assert_eq!(off.read("15.01.2025 11:22:33 +0100"), Ok(T));
        assert!(utc().with_format("%d.%m").is_err_and(|e| e.contains("whole date")));
        assert!(utc().with_format("%Q").is_err_and(|e| e.contains("unknown")));
    }
}
