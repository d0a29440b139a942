//! aimsim's inference request CSV: one inference call per row.
//!
//! ```text
//! arrival,model,precision,prompt_tokens,output_tokens,priority,session
//! 0.000,meta-llama/Llama-3.1-8B-Instruct,fp16,512,128,0,chat-17
//! 0.250,Qwen/Qwen3-32B,,2048,256,,
//! ```
//!
//! Required: `arrival` (seconds from the start, non-decreasing), `model`
//! (an id, at most
//! [`MAX_MODEL_ID_BYTES`](crate::profile::MAX_MODEL_ID_BYTES) bytes), `prompt_tokens` and
//! `output_tokens` (1 to [`super::MAX_TOKENS`]). Optional: `precision`
//! (fp16, int8, int4; empty or absent: any replica of the model),
//! `priority` (an integer; lower is served first when the engine's
//! `scheduling_policy` is `priority`, empty or absent: 0) and `session` (a
//! label, at most [`MAX_FIELD`] characters, checked but not yet used).
//! Other columns are an error.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::profile::Precision;
use crate::time::Nanos;
use crate::workload::csv_rows::{read_advanced, CsvRows};
use crate::workload::WorkloadError;

use super::{tokens, InferenceRequest, Target, Traffic};

/// Every column the format defines.
pub const COLUMNS: [&str; 7] = [
    "arrival",
    "model",
    "precision",
    "prompt_tokens",
    "output_tokens",
    "priority",
    "session",
];

/// Columns a file must have.
pub const REQUIRED: [&str; 4] = ["arrival", "model", "prompt_tokens", "output_tokens"];

/// Longest session label.
pub const MAX_FIELD: usize = 256;

/// Most distinct (model, precision) targets in one file.
pub const MAX_TARGETS: usize = 4096;

/// Reads an inference request CSV, streaming.
pub struct CsvTraffic {
    rows: CsvRows,
    columns: Columns,
    targets: Vec<Target>,
    index: HashMap<Target, u32>,
    last: Nanos,
}

struct Columns {
    arrival: usize,
    model: usize,
    prompt: usize,
    output: usize,
    precision: Option<usize>,
    priority: Option<usize>,
    session: Option<usize>,
}

impl CsvTraffic {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<CsvTraffic, WorkloadError> {
        Ok(CsvTraffic::over(CsvRows::open(
            path, &COLUMNS, &REQUIRED, true,
        )?))
    }

    /// Reads the format from any reader (tests, fuzzing).
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
    ) -> Result<CsvTraffic, WorkloadError> {
        Ok(CsvTraffic::over(CsvRows::from_reader(
            reader,
            source_name,
            &COLUMNS,
            &REQUIRED,
            true,
        )?))
    }

    fn over(rows: CsvRows) -> CsvTraffic {
        let required = |name| rows.column(name).expect("required columns checked");
        let columns = Columns {
            arrival: required("arrival"),
            model: required("model"),
            prompt: required("prompt_tokens"),
            output: required("output_tokens"),
            precision: rows.column("precision"),
            priority: rows.column("priority"),
            session: rows.column("session"),
        };
        CsvTraffic {
            rows,
            columns,
            targets: Vec::new(),
            index: HashMap::new(),
            last: Nanos::ZERO,
        }
    }

    fn read_row(&mut self) -> Result<InferenceRequest, WorkloadError> {
        let c = &self.columns;
        let rows = &self.rows;
        let arrival = rows.nanos(c.arrival)?;
        if arrival < self.last {
            return Err(rows.error(format!(
                "column `arrival`: {} s is before the previous row's arrival; rows must be in time order",
                rows.field(c.arrival)
            )));
        }
        let model = rows.model_id(c.model)?;
        let precision = match c.precision.map(|i| rows.field(i)) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<Precision>()
                    .map_err(|e| rows.error(format!("column `precision`: {e}")))?,
            ),
        };
        let count = |column: usize, name: &str| -> Result<u32, WorkloadError> {
            let value: u64 = rows.parse(column, "a whole number of tokens")?;
            tokens(value, &format!("column `{name}`")).map_err(|m| rows.error(m))
        };
        let prompt = count(c.prompt, "prompt_tokens")?;
        let output = count(c.output, "output_tokens")?;
        let priority = match c.priority.filter(|&i| !rows.field(i).is_empty()) {
            Some(i) => rows.parse::<i32>(i, "an integer priority")?,
            None => 0,
        };
        if let Some(i) = c.session {
            if rows.field(i).len() > MAX_FIELD {
                return Err(rows.error(format!(
                    "column `session`: longer than {MAX_FIELD} characters"
                )));
            }
        }
        let target = Target {
            model: model.to_string(),
            precision,
        };
        let index = match self.index.get(&target) {
            Some(&i) => i,
            None => {
                if self.targets.len() >= MAX_TARGETS {
                    return Err(rows.error(format!(
                        "more than {MAX_TARGETS} distinct models and precisions"
                    )));
                }
                let i = self.targets.len() as u32;
                self.index.insert(target.clone(), i);
                self.targets.push(target);
                i
            }
        };
        self.last = arrival;
        Ok(InferenceRequest {
            arrival,
            target: index,
            prompt,
            output,
            priority,
        })
    }
}

impl Traffic for CsvTraffic {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        read_advanced(self.rows.advance(), || self.read_row())
    }

    fn targets(&self) -> &[Target] {
        &self.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Result<Vec<InferenceRequest>, WorkloadError>, Vec<Target>) {
        let mut traffic =
            CsvTraffic::from_reader(Box::new(std::io::Cursor::new(text.to_string())), "r.csv")
                .unwrap();
        let requests = std::iter::from_fn(|| traffic.next_request()).collect();
        (requests, traffic.targets().to_vec())
    }

    #[test]
    fn rows_become_requests_with_interned_targets() {
        let (requests, targets) = read(
            "arrival,model,precision,prompt_tokens,output_tokens\n\
             0,a,fp16,10,5\n\
             0.5,b,,20,6\n\
             0.5,a,fp16,30,7\n",
        );
        let requests = requests.unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].precision, Some(Precision::Fp16));
        assert_eq!(targets[1].precision, None);
        assert_eq!(requests[2].target, 0);
        assert_eq!(requests[1].arrival, Nanos(500_000_000));
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let cases = [
            ("0,a,fp16,0,5", "prompt_tokens"),
            ("0,a,fp4,10,5", "precision"),
            ("-1,a,fp16,10,5", "arrival"),
            ("0,a,fp16,10,x", "output_tokens"),
        ];
        for (row, column) in cases {
            let (result, _) = read(&format!(
                "arrival,model,precision,prompt_tokens,output_tokens\n{row}\n"
            ));
            let error = result.unwrap_err();
            assert_eq!(error.line, Some(2), "{error}");
            assert!(error.message.contains(column), "{row}: {error}");
        }
        let (backwards, _) =
            read("arrival,model,prompt_tokens,output_tokens\n1,a,10,5\n0.5,a,10,5\n");
        assert_eq!(backwards.unwrap_err().line, Some(3));
    }
}
