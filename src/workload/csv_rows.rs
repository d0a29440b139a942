//! Streaming CSV records with named columns and errors that say where.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use csv::StringRecord;

use crate::input::{describe_csv_error, shown, LineLimit};
use crate::profile::MAX_MODEL_ID_BYTES;
use crate::time::{Nanos, SimTime};

use super::{DeploymentRequest, WorkloadError};

/// A format read row by row from [`CsvRows`].
pub(crate) trait RowReader {
    /// The underlying rows.
    fn rows(&mut self) -> &mut CsvRows;

    /// Turns the current row into a request, `None` to skip it.
    fn read_row(&mut self) -> Result<Option<DeploymentRequest>, WorkloadError>;
}

/// The next request of a row-based format: reads rows until one becomes a
/// request, the file ends, or a row is malformed.
pub(crate) fn next_row_request(
    reader: &mut impl RowReader,
) -> Option<Result<DeploymentRequest, WorkloadError>> {
    loop {
        match reader.rows().advance() {
            Ok(false) => return None,
            Err(e) => return Some(Err(e)),
            Ok(true) => match reader.read_row() {
                Ok(Some(request)) => return Some(Ok(request)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            },
        }
    }
}

/// What a streamed format yields after [`CsvRows::advance`]: `None` at
/// the end, the advance's error, or the current record read by `read`.
pub(crate) fn read_advanced<T>(
    advanced: Result<bool, WorkloadError>,
    read: impl FnOnce() -> Result<T, WorkloadError>,
) -> Option<Result<T, WorkloadError>> {
    match advanced {
        Ok(false) => None,
        Ok(true) => Some(read()),
        Err(e) => Some(Err(e)),
    }
}

/// A CSV file read one record at a time, its columns looked up by header.
pub(crate) struct CsvRows {
    reader: csv::Reader<Box<dyn Read>>,
    record: StringRecord,
    headers: StringRecord,
    source_name: String,
}

impl CsvRows {
    /// Opens `path`; `known` lists the columns the format defines (others are
    /// an error when `strict`), `required` those that must be present.
    pub fn open(
        path: &Path,
        known: &[&str],
        required: &[&str],
        strict: bool,
    ) -> Result<CsvRows, WorkloadError> {
        let source_name = path.display().to_string();
        let file = File::open(path).map_err(|e| WorkloadError {
            source_name: source_name.clone(),
            line: None,
            message: format!("cannot open: {e}"),
        })?;
        CsvRows::from_reader(
            Box::new(BufReader::with_capacity(1 << 16, file)),
            &source_name,
            known,
            required,
            strict,
        )
    }

    /// Reads CSV from any reader (tests, fuzzing).
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
        known: &[&str],
        required: &[&str],
        strict: bool,
    ) -> Result<CsvRows, WorkloadError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(Box::new(LineLimit::new(reader)) as Box<dyn Read>);
        let fail = |message: String| WorkloadError {
            source_name: source_name.to_string(),
            line: Some(1),
            message,
        };
        let headers = reader
            .headers()
            .map_err(|e| fail(describe_csv_error(&e, None)))?
            .clone();
        if let Some((i, duplicate)) = headers
            .iter()
            .enumerate()
            .find(|(i, h)| headers.iter().take(*i).any(|e| e == *h))
        {
            return Err(fail(format!(
                "column `{}` appears twice (again as column {})",
                shown(duplicate),
                i + 1
            )));
        }
        for name in required {
            if !headers.iter().any(|h| h == *name) {
                return Err(fail(format!(
                    "missing column `{name}`; the header must name {}",
                    required.join(", ")
                )));
            }
        }
        if strict {
            if let Some(unknown) = headers.iter().find(|h| !known.contains(h)) {
                return Err(fail(format!(
                    "unknown column `{}`; expected columns {}",
                    shown(unknown),
                    known.join(", ")
                )));
            }
        }
        Ok(CsvRows {
            reader,
            record: StringRecord::new(),
            headers,
            source_name: source_name.to_string(),
        })
    }

    /// The name errors give the file.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Index of a column, if the header has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The name of `column`.
    pub fn header(&self, column: usize) -> &str {
        &self.headers[column]
    }

    /// Advances to the next record; `Ok(false)` at the end.
    pub fn advance(&mut self) -> Result<bool, WorkloadError> {
        self.reader
            .read_record(&mut self.record)
            .map_err(|e| WorkloadError {
                source_name: self.source_name.clone(),
                line: None,
                message: describe_csv_error(&e, Some(&self.headers)),
            })
    }

    /// One-based line of the current record.
    pub fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    /// The current record's field in `column` (empty if the record is short).
    pub fn field(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    /// An error about the current record.
    pub fn error(&self, message: String) -> WorkloadError {
        WorkloadError {
            source_name: self.source_name.clone(),
            line: Some(self.line()),
            message,
        }
    }

    /// Parses `column` of the current record as `T`, naming the column and
    /// what was expected on failure.
    pub fn parse<T: FromStr>(&self, column: usize, expected: &str) -> Result<T, WorkloadError> {
        let text = self.field(column);
        text.parse().map_err(|_| {
            self.error(format!(
                "column `{}`: `{}` is not {expected}",
                shown(&self.headers[column]),
                shown(text)
            ))
        })
    }

    /// The current record's model id in `column` (1 to
    /// [`MAX_MODEL_ID_BYTES`] bytes), an alias resolved to the catalog's id.
    pub fn model_id(&self, column: usize) -> Result<&str, WorkloadError> {
        let id = self.field(column);
        if id.is_empty() || id.len() > MAX_MODEL_ID_BYTES {
            return Err(self.error(format!(
                "column `{}`: expected a model id of 1 to {MAX_MODEL_ID_BYTES} bytes, got {} bytes",
                &self.headers[column],
                id.len()
            )));
        }
        Ok(crate::profile::aliases::canonical(id))
    }

    /// Parses `column` as a time in seconds (non-negative decimal).
    pub fn seconds(&self, column: usize) -> Result<SimTime, WorkloadError> {
        let value: f64 = self.parse(column, "a number of seconds")?;
        SimTime::from_secs_f64(value)
            .ok_or_else(|| self.time_out_of_range(column, value, "about 292 million years"))
    }

    /// Parses `column` as a time in seconds at nanosecond resolution.
    pub fn nanos(&self, column: usize) -> Result<Nanos, WorkloadError> {
        let value: f64 = self.parse(column, "a number of seconds")?;
        Nanos::from_secs_f64(value)
            .ok_or_else(|| self.time_out_of_range(column, value, "about 500 years"))
    }

    /// Why a number of seconds is not a time: negative, or past `longest`.
    fn time_out_of_range(&self, column: usize, value: f64, longest: &str) -> WorkloadError {
        let why = if value.is_nan() || value < 0.0 {
            "must be a non-negative number of seconds".to_string()
        } else {
            format!("is later than the longest time aimsim represents here ({longest})")
        };
        self.error(format!(
            "column `{}`: `{}` {why}",
            shown(&self.headers[column]),
            shown(self.field(column))
        ))
    }
}
