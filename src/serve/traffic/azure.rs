//! The Azure LLM inference trace (Patel et al., "Splitwise", ISCA 2024;
//! github.com/Azure/AzurePublicDataset, `AzureLLMInferenceTrace_*.csv`).
//!
//! ```text
//! TIMESTAMP,ContextTokens,GeneratedTokens
//! 2023-11-16 18:15:46.6805900,374,44
//! ```
//!
//! `TIMESTAMP` is a wall-clock time (`YYYY-MM-DD HH:MM:SS` with up to nine
//! fractional digits); arrivals are taken relative to the first row and
//! must not go backwards. `ContextTokens` is the prompt, `GeneratedTokens`
//! the output, each 1 to [`super::MAX_TOKENS`]. The trace names no model:
//! an [`Assignment`] draws one per request from a seeded generator, so a
//! seed names one assignment exactly.

use std::io::Read;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::time::Nanos;
use crate::workload::csv_rows::{read_advanced, CsvRows};
use crate::workload::WorkloadError;

use super::{tokens, Assignment, InferenceRequest, Target, Traffic};

/// The trace's columns.
pub const COLUMNS: [&str; 3] = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"];

/// Reads an Azure LLM inference trace, streaming.
pub struct AzureTraffic {
    rows: CsvRows,
    assignment: Assignment,
    rng: ChaCha8Rng,
    columns: [usize; 3],
    first: Option<u64>,
    last: Nanos,
}

impl AzureTraffic {
    /// Opens `path`, assigning requests to models by `assignment` with
    /// draws seeded by `seed`.
    pub fn open(
        path: &Path,
        assignment: Assignment,
        seed: u64,
    ) -> Result<AzureTraffic, WorkloadError> {
        let rows = CsvRows::open(path, &COLUMNS, &COLUMNS, true)?;
        Ok(AzureTraffic::over(rows, assignment, seed))
    }

    /// Reads the trace from any reader (tests, fuzzing).
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
        assignment: Assignment,
        seed: u64,
    ) -> Result<AzureTraffic, WorkloadError> {
        let rows = CsvRows::from_reader(reader, source_name, &COLUMNS, &COLUMNS, true)?;
        Ok(AzureTraffic::over(rows, assignment, seed))
    }

    fn over(rows: CsvRows, assignment: Assignment, seed: u64) -> AzureTraffic {
        let columns = COLUMNS.map(|c| rows.column(c).expect("required columns checked"));
        AzureTraffic {
            rows,
            assignment,
            rng: ChaCha8Rng::seed_from_u64(seed),
            columns,
            first: None,
            last: Nanos::ZERO,
        }
    }

    fn read_row(&mut self) -> Result<InferenceRequest, WorkloadError> {
        let [time, context, generated] = self.columns;
        let text = self.rows.field(time);
        let shown = crate::input::shown(text);
        let absolute = parse_timestamp(text).ok_or_else(|| {
            self.rows.error(format!(
                "column `TIMESTAMP`: `{shown}` is not a time like 2023-11-16 18:15:46.6805900"
            ))
        })?;
        let first = *self.first.get_or_insert(absolute);
        let arrival = Nanos(absolute.checked_sub(first).ok_or_else(|| {
            self.rows.error(format!(
                "column `TIMESTAMP`: `{shown}` is before the first row's time; the trace must be in time order"
            ))
        })?);
        if arrival < self.last {
            return Err(self.rows.error(format!(
                "column `TIMESTAMP`: `{shown}` goes back in time from the row before; the trace must be in time order"
            )));
        }
        self.last = arrival;
        let prompt = self.count(context, "ContextTokens")?;
        let output = self.count(generated, "GeneratedTokens")?;
        let target = self.assignment.pick(self.rng.random::<f64>());
        Ok(InferenceRequest {
            arrival,
            target,
            prompt,
            output,
            priority: 0,
        })
    }

    fn count(&self, column: usize, name: &str) -> Result<u32, WorkloadError> {
        let value: u64 = self.rows.parse(column, "a whole number of tokens")?;
        tokens(value, &format!("column `{name}`")).map_err(|m| self.rows.error(m))
    }
}

impl Traffic for AzureTraffic {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        read_advanced(self.rows.advance(), || self.read_row())
    }

    fn targets(&self) -> &[Target] {
        self.assignment.targets()
    }
}

/// Nanoseconds since 1970-01-01 of `YYYY-MM-DD HH:MM:SS[.fffffffff]`.
fn parse_timestamp(text: &str) -> Option<u64> {
    let (date, time) = text.split_once(' ')?;
    let mut date_parts = date.split('-');
    let year: i64 = digits(date_parts.next()?, 4)?;
    let month: i64 = digits(date_parts.next()?, 2)?;
    let day: i64 = digits(date_parts.next()?, 2)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_parts = clock.split(':');
    let hour: i64 = digits(clock_parts.next()?, 2)?;
    let minute: i64 = digits(clock_parts.next()?, 2)?;
    let second: i64 = digits(clock_parts.next()?, 2)?;
    if date_parts.next().is_some()
        || clock_parts.next().is_some()
        || !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || fraction.len() > 9
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u64>().ok()? * 10u64.pow(9 - fraction.len() as u32)
    };
    let days = days_from_civil(year, month, day);
    let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second;
    u64::try_from(seconds)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

/// Days of `month` (1-12) in `year`, by the Gregorian leap-year rule.
fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A field of exactly `width` ASCII digits.
fn digits(text: &str, width: usize) -> Option<i64> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_model() -> Assignment {
        Assignment::new(vec![(
            Target {
                model: "m".into(),
                precision: None,
            },
            1.0,
        )])
        .unwrap()
    }

    fn read(text: &str) -> Result<Vec<InferenceRequest>, WorkloadError> {
        let mut traffic = AzureTraffic::from_reader(
            Box::new(std::io::Cursor::new(text.to_string())),
            "t.csv",
            one_model(),
            1,
        )?;
        std::iter::from_fn(|| traffic.next_request()).collect()
    }

    #[test]
    fn timestamps_are_relative_to_the_first_row_to_the_nanosecond() {
        let requests = read(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n\
             2023-11-16 23:59:59.9000000,374,44\n\
             2023-11-17 00:00:01.0000001,396,109\n",
        )
        .unwrap();
        assert_eq!(requests[0].arrival, Nanos(0));
        assert_eq!(requests[1].arrival, Nanos(1_100_000_100));
        assert_eq!((requests[1].prompt, requests[1].output), (396, 109));
    }

    #[test]
    fn the_unix_epoch_and_a_leap_day_convert_exactly() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2024-03-01 00:00:00").unwrap()
                - parse_timestamp("2024-02-28 00:00:00").unwrap(),
            2 * 86_400 * 1_000_000_000
        );
        assert!(parse_timestamp("2024-02-29 00:00:00").is_some());
        assert!(parse_timestamp("2000-02-29 00:00:00").is_some());
        for bad in [
            "2023-11-16T18:15:46",
            "2023-13-01 00:00:00",
            // Days a month does not have (issue 33: 2023-02-30 was taken
            // for 2023-03-02).
            "2023-02-30 00:00:00",
            "2023-02-29 00:00:00",
            "1900-02-29 00:00:00",
            "2023-04-31 00:00:00",
            "2023-11-00 00:00:00",
            "2023-11-16 18:15",
            "2023-11-16 18:15:46.1234567890",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_rows_name_the_line_and_column() {
        let back = read(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n\
             2023-11-16 18:15:46.6805900,374,44\n\
             2023-11-16 18:15:45.0000000,374,44\n",
        )
        .unwrap_err();
        assert_eq!(back.line, Some(3));
        assert!(back.message.contains("TIMESTAMP"), "{back}");
        let zero = read("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,0,44\n")
            .unwrap_err();
        assert!(
            zero.to_string().contains("line 2") && zero.message.contains("ContextTokens"),
            "{zero}"
        );
        let negative = read("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,5,-3\n")
            .unwrap_err();
        assert!(negative.message.contains("GeneratedTokens"), "{negative}");
        let header = read("TIMESTAMP,Context,GeneratedTokens\n").unwrap_err();
        assert!(header.message.contains("ContextTokens"), "{header}");
    }
}
