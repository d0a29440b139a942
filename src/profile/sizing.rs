//! The sizing table: one row per model with its FP16/INT8/INT4 memory.
//!
//! It is the single source the 114 profiles are generated from
//! (`aim_profiles/sizing.csv`), and is embedded in the binary so the built-in
//! catalog needs no files at run time.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::input::describe_csv_error;

use super::{parse_parameter_count, Precision};

/// One model of the sizing table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SizingRow {
    /// Hugging Face model id.
    pub model_id: String,
    /// Parameter count as profiles write it (`8B`).
    pub parameters: String,
    /// FP16 memory, GiB.
    pub fp16_gb: f64,
    /// INT8 memory, GiB.
    pub int8_gb: f64,
    /// INT4 memory, GiB.
    pub int4_gb: f64,
}

impl SizingRow {
    /// The memory figure for `precision`, GiB.
    pub fn memory_gb(&self, precision: Precision) -> f64 {
        match precision {
            Precision::Fp16 => self.fp16_gb,
            Precision::Int8 => self.int8_gb,
            Precision::Int4 => self.int4_gb,
        }
    }
}

/// A checked sizing table, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingTable {
    rows: Vec<SizingRow>,
}

/// A sizing table that cannot be used; the message names the line.
#[derive(Debug, thiserror::Error)]
pub enum SizingError {
    /// The CSV could not be read or a field has the wrong type.
    #[error("{source_name}: {detail}")]
    Csv {
        /// Where the table came from.
        source_name: String,
        /// Line, column and problem.
        detail: String,
    },
    /// A row whose values are out of range.
    #[error("{source_name}: line {line}: {problem}")]
    Row {
        /// Where the table came from.
        source_name: String,
        /// One-based line number.
        line: u64,
        /// What is wrong.
        problem: String,
    },
}

impl SizingTable {
    /// Parses CSV text with the header `model_id,parameters,fp16_gb,int8_gb,int4_gb`.
    /// `source_name` names the text in errors (a path, or `built-in`).
    pub fn parse(text: &str, source_name: &str) -> Result<SizingTable, SizingError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let csv_error = |error: csv::Error, headers: Option<&csv::StringRecord>| SizingError::Csv {
            source_name: source_name.to_string(),
            detail: describe_csv_error(&error, headers),
        };
        let headers = reader.headers().map_err(|e| csv_error(e, None))?.clone();
        let mut rows = Vec::new();
        let mut seen = BTreeSet::new();
        for record in reader.deserialize::<SizingRow>() {
            let row = record.map_err(|e| csv_error(e, Some(&headers)))?;
            let line = rows.len() as u64 + 2;
            let fail = |problem: String| SizingError::Row {
                source_name: source_name.to_string(),
                line,
                problem,
            };
            if row.model_id.is_empty() || row.model_id.contains(char::is_whitespace) {
                return Err(fail(format!(
                    "model_id `{}` must be non-empty without spaces",
                    row.model_id
                )));
            }
            if parse_parameter_count(&row.parameters).is_none() {
                return Err(fail(format!(
                    "parameters `{}` is not a count such as 8B or 500M",
                    row.parameters
                )));
            }
            for precision in Precision::ALL {
                let gb = row.memory_gb(precision);
                if !(gb.is_finite() && gb > 0.0) {
                    return Err(fail(format!(
                        "{precision}_gb must be a positive number, got {gb:?}"
                    )));
                }
            }
            if !seen.insert(row.model_id.clone()) {
                return Err(fail(format!("model_id `{}` appears twice", row.model_id)));
            }
            rows.push(row);
        }
        Ok(SizingTable { rows })
    }

    /// The table shipped in `aim_profiles/sizing.csv`, compiled in.
    pub fn builtin() -> SizingTable {
        SizingTable::parse(BUILTIN_SIZING, "built-in aim_profiles/sizing.csv")
            .expect("the shipped sizing table is checked by the test suite")
    }

    /// Rows in file order.
    pub fn rows(&self) -> &[SizingRow] {
        &self.rows
    }
}

/// The text of `aim_profiles/sizing.csv`.
const BUILTIN_SIZING: &str = include_str!("../../aim_profiles/sizing.csv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_38_models() {
        assert_eq!(SizingTable::builtin().rows().len(), 38);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let header = "model_id,parameters,fp16_gb,int8_gb,int4_gb\n";
        let cases = [
            (
                "a/b,8B,20,13,9\na/b,8B,20,13,9\n",
                "line 3",
                "appears twice",
            ),
            ("a/b,8B,20,13,-9\n", "line 2", "int4_gb must be a positive"),
            ("a/b,eight,20,13,9\n", "line 2", "parameters `eight`"),
            (
                "a/b,8B,twenty,13,9\n",
                "line 2",
                "column `fp16_gb`: invalid float",
            ),
            ("a/b,8B,20,13\n", "line 2", "4 fields, expected 5"),
        ];
        for (body, line, what) in cases {
            let err = SizingTable::parse(&format!("{header}{body}"), "t.csv")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("t.csv") && err.contains(line) && err.contains(what),
                "{err}"
            );
        }
    }
}
