//! Simulated time: whole milliseconds since the start of a run.
//!
//! Integer time keeps event order exact and reports byte-identical; a
//! millisecond resolves every trace aimsim reads (the Alibaba trace counts
//! seconds, the Azure trace sub-seconds) and a `u64` of them spans 584
//! million years.

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

/// A clock reading an event queue orders by: copied, ordered, zero by
/// default, and countable in ticks for error messages.
pub trait Timestamp: Copy + Ord + Default {
    /// The reading in the clock's own unit.
    fn ticks(self) -> u64;
}

/// A point in, or a span of, simulated time in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event.
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// Whole seconds.
    pub const fn seconds(s: u64) -> SimTime {
        SimTime(s * 1000)
    }

    /// Whole hours.
    pub const fn hours(h: u64) -> SimTime {
        SimTime(h * 3_600_000)
    }

    /// A non-negative, finite number of seconds, rounded to the millisecond.
    pub fn from_secs_f64(seconds: f64) -> Option<SimTime> {
        (seconds.is_finite() && seconds >= 0.0 && seconds * 1000.0 < u64::MAX as f64 / 2.0)
            .then(|| SimTime((seconds * 1000.0).round() as u64))
    }

    /// The time in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The time in hours.
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / 3_600_000.0
    }

    /// `self + other`, saturating at [`SimTime::NEVER`].
    pub fn saturating_add(self, other: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(other.0))
    }
}

impl Timestamp for SimTime {
    fn ticks(self) -> u64 {
        self.0
    }
}

/// A point in, or a span of, simulated time in nanoseconds: the serving
/// simulator's clock, fine enough for engine iterations of a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nanos(pub u64);

impl Nanos {
    /// The start of a run.
    pub const ZERO: Nanos = Nanos(0);

    /// A non-negative, finite number of seconds, rounded to the
    /// nanosecond; `None` beyond 500 years.
    pub fn from_secs_f64(seconds: f64) -> Option<Nanos> {
        (seconds.is_finite() && (0.0..1.6e10).contains(&seconds))
            .then(|| Nanos((seconds * 1e9).round() as u64))
    }

    /// The time in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// A millisecond time, in nanoseconds.
    pub fn from_millis(time: SimTime) -> Nanos {
        Nanos(time.0.saturating_mul(1_000_000))
    }
}

impl Timestamp for Nanos {
    fn ticks(self) -> u64 {
        self.0
    }
}

impl Add for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimTime) -> SimTime {
        SimTime(self.0 + rhs.0)
    }
}

impl Sub for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: SimTime) -> SimTime {
        SimTime(self.0 - rhs.0)
    }
}

impl fmt::Display for SimTime {
    /// The shortest exact form: `90s`, `15m`, `2h`, `7d`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let text = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ]
        .iter()
        .find(|(unit, _)| ms != 0 && ms.is_multiple_of(*unit))
        .map_or(format!("{ms}ms"), |(unit, suffix)| {
            format!("{}{suffix}", ms / unit)
        });
        f.pad(&text)
    }
}

/// A duration that is not a non-negative number with a known unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration `{0}`: expected a non-negative number with a unit ms, s, m, h or d (e.g. 90s, 1.5h, 7d)")]
pub struct DurationParseError(pub String);

impl FromStr for SimTime {
    type Err = DurationParseError;

    /// Parses `250ms`, `90s`, `15m`, `1.5h`, `7d`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || DurationParseError(text.to_string());
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(fail)?;
        let (number, unit) = trimmed.split_at(split);
        let value: f64 = number.trim().parse().map_err(|_| fail())?;
        let unit_ms = match unit {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(fail()),
        };
        SimTime::from_secs_f64(value * unit_ms / 1000.0).ok_or_else(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        for (text, ms) in [
            ("250ms", 250),
            ("90s", 90_000),
            ("15m", 900_000),
            ("1.5h", 5_400_000),
            ("7d", 604_800_000),
        ] {
            assert_eq!(text.parse::<SimTime>(), Ok(SimTime(ms)), "{text}");
        }
        assert_eq!(SimTime(5_400_000).to_string(), "90m");
        assert_eq!(SimTime(604_800_000).to_string(), "7d");
        assert_eq!(SimTime(1_500).to_string(), "1500ms");
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["", "10", "-5s", "5 weeks", "h", "nanh", "1e400s"] {
            assert!(bad.parse::<SimTime>().is_err(), "{bad}");
        }
    }
}
