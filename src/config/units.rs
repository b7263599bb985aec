//! Typed units written by people in the config file: durations like `90d`,
//! `36h`, `5s`, rates like `"20/s"` or `"600/min"`, and sizes like `"10MB"`.
//!
//! Parsing lives here so every section validates these values the same way
//! and reports the same kind of error.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a unit value could not be parsed; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(pub String);

/// A human-written duration: a whole number followed by `ms`, `s`, `m`, `h`,
/// `d` or `w`; several may be concatenated (`1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped standard duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || {
            UnitError(format!(
                "`{s}` is not a duration: write a number and a unit, like `90d`, `36h`, `15m`, `5s`, `250ms` or `1h30m`"
            ))
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit_ms: u64 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 604_800_000,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(unit_ms)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| UnitError(format!("`{s}` is too long a duration")))?;
        }
        Ok(HumanDuration(Duration::from_millis(total)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, len) in [("w", 604_800_000u128), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
            if ms >= len && ms.is_multiple_of(len) {
                return write!(f, "{}{unit}", ms / len);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A rate: `N/s`, `N/sec`, `N/m`, `N/min`, `N/h` or `N/d`, or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// No limit at all.
    Unlimited,
    /// At most `count` per `per`.
    Limited {
        /// How many events are allowed in one period.
        count: NonZeroU32,
        /// The length of the period.
        per: Duration,
    },
}

impl Rate {
    /// The average interval between two events, if limited.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            Rate::Unlimited => None,
            Rate::Limited { count, per } => Some(*per / count.get()),
        }
    }

    /// Events per second as a float (infinite when unlimited).
    pub fn per_second(&self) -> f64 {
        match self {
            Rate::Unlimited => f64::INFINITY,
            Rate::Limited { count, per } => f64::from(count.get()) / per.as_secs_f64(),
        }
    }
}

impl FromStr for Rate {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("unlimited") {
            return Ok(Rate::Unlimited);
        }
        let err = || {
            UnitError(format!(
                "`{s}` is not a rate: write a count and a period, like `20/s`, `600/min`, `5000/h`, `50000/d`, or `unlimited`"
            ))
        };
        let (n, unit) = t.split_once('/').ok_or_else(err)?;
        let count: u32 = n.trim().parse().map_err(|_| err())?;
        let count = NonZeroU32::new(count)
            .ok_or_else(|| UnitError(format!("`{s}`: a rate of zero would never send; use a positive count")))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3_600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => return Err(err()),
        };
        Ok(Rate::Limited { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Unlimited => f.write_str("unlimited"),
            Rate::Limited { count, per } => {
                let unit = match per.as_secs() {
                    1 => "s",
                    60 => "min",
                    3_600 => "h",
                    _ => "d",
                };
                write!(f, "{count}/{unit}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A byte size: a number with an optional `B`, `KB`, `MB` or `GB` suffix
/// (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let err = || UnitError(format!("`{s}` is not a size: write it like `512KB`, `10MB` or `1GB`"));
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = t[..digits].parse().map_err(|_| err())?;
        let mult = match t[digits..].trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            _ => return Err(err()),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(err)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.0);
        assert_eq!(d("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(d("36h"), Ok(Duration::from_secs(36 * 3_600)));
        assert_eq!(d("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5_400)));
        assert!(d("").is_err());
        assert!(d("5").is_err());
        assert!(d("d5").is_err());
        assert!(d("5 parsecs").is_err());
        assert!(d("99999999999999999999w").is_err());
        assert_eq!(HumanDuration(Duration::from_secs(7 * 86_400)).to_string(), "1w");
        assert_eq!(HumanDuration(Duration::from_millis(1500)).to_string(), "1500ms");
    }

    #[test]
    fn rates_parse() {
        let r: Rate = "20/s".parse().unwrap();
        assert_eq!(r.interval(), Some(Duration::from_millis(50)));
        let r: Rate = "600/min".parse().unwrap();
        assert_eq!(r.per_second(), 10.0);
        assert_eq!(r.to_string(), "600/min");
        assert_eq!("unlimited".parse::<Rate>(), Ok(Rate::Unlimited));
        assert!("0/s".parse::<Rate>().is_err());
        assert!("20".parse::<Rate>().is_err());
        assert!("20/fortnight".parse::<Rate>().is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!("10MB".parse::<ByteSize>(), Ok(ByteSize(10 << 20)));
        assert_eq!("512".parse::<ByteSize>(), Ok(ByteSize(512)));
        assert!("ten".parse::<ByteSize>().is_err());
    }
}
