//! Measured tables: a user's own benchmarks of a deployment, used instead of
//! the roofline wherever they apply (as Vidur uses profiled operator times).
//!
//! The CSV has one row per measured run, in the terms vLLM's benchmark
//! scripts report:
//!
//! ```text
//! model,precision,gpu,layout,tp,batch,input_tokens,output_tokens,ttft_ms,tpot_ms
//! meta-llama/Llama-3.1-8B-Instruct,fp16,MI300X,SPX,1,1,1024,128,21.5,6.9
//! ```
//!
//! A row's `tpot_ms` is the decode step of `batch` sequences at their mean
//! context, `input_tokens + output_tokens / 2`; rows with `batch` 1 and a
//! `ttft_ms` give the prefill time of `input_tokens`. Either time may be
//! left empty. Decode steps are interpolated linearly in context for each
//! measured batch size, then between the two batch sizes around the one
//! asked for; prefill linearly in prompt tokens. Outside the measured ranges
//! the roofline decides.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::input::{csv_table, deserialize_record};
use crate::profile::Precision;

/// One row of a measured table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    model: String,
    precision: String,
    gpu: String,
    layout: String,
    tp: u32,
    batch: u32,
    input_tokens: u32,
    output_tokens: u32,
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
}

/// A measured table that cannot be used: the file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: line {line}: {problem}")]
pub struct MeasuredError {
    /// The file.
    pub source_name: String,
    /// One-based line (1 is the header).
    pub line: u64,
    /// What is wrong and what was expected.
    pub problem: String,
}

/// Which deployment a set of measurements describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Setup {
    /// Model id.
    pub model: String,
    /// Weight precision.
    pub precision: Precision,
    /// GPU kind.
    pub gpu: GpuKind,
    /// Layout in its canonical form ([`LayoutSpec`]'s display: `SPX/NPS1`,
    /// `CPX/NPS4`, `40,40,40,40`).
    pub layout: String,
    /// Tensor-parallel degree.
    pub tp: u32,
}

/// Every measurement of one file, by setup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasuredSet {
    tables: BTreeMap<Setup, MeasuredTable>,
}

/// The measurements of one setup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasuredTable {
    /// Batch size -> (mean context, decode step seconds), by context.
    decode: BTreeMap<u32, Vec<(f64, f64)>>,
    /// (prompt tokens, prefill seconds), by tokens.
    prefill: Vec<(f64, f64)>,
}

/// Most rows a measured table may have.
const MAX_ROWS: usize = 100_000;

impl MeasuredSet {
    /// Reads a measured table; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<MeasuredSet, MeasuredError> {
        let fail = |line: u64, problem: String| MeasuredError {
            source_name: source.to_string(),
            line,
            problem,
        };
        let (mut reader, headers) = csv_table(text).map_err(|e| fail(1, e.to_string()))?;
        let mut set = MeasuredSet::default();
        for (count, record) in reader.records().enumerate() {
            let record =
                record.map_err(|e| fail(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            if count >= MAX_ROWS {
                return Err(fail(line, format!("more than {MAX_ROWS} rows")));
            }
            let row: Row = deserialize_record(&record, &headers).map_err(|e| fail(line, e))?;
            let gpu: GpuKind = row
                .gpu
                .parse()
                .map_err(|e| fail(line, format!("column `gpu`: {e}")))?;
            let precision: Precision = row
                .precision
                .parse()
                .map_err(|e| fail(line, format!("column `precision`: {e}")))?;
            let positive = |name: &str, v: Option<f64>| match v {
                Some(v) if !(v.is_finite() && v > 0.0 && v < 1e9) => Err(fail(
                    line,
                    format!(
                        "column `{name}`: must be a positive number of milliseconds, got {v:?}"
                    ),
                )),
                _ => Ok(()),
            };
            positive("ttft_ms", row.ttft_ms)?;
            positive("tpot_ms", row.tpot_ms)?;
            for (name, value) in [
                ("tp", row.tp),
                ("batch", row.batch),
                ("input_tokens", row.input_tokens),
            ] {
                if value == 0 {
                    return Err(fail(line, format!("column `{name}`: must be at least 1")));
                }
            }
            if row.ttft_ms.is_none() && row.tpot_ms.is_none() {
                return Err(fail(line, "give ttft_ms, tpot_ms or both".into()));
            }
            let layout: LayoutSpec = row
                .layout
                .parse()
                .map_err(|e| fail(line, format!("column `layout`: {e}")))?;
            let setup = Setup {
                model: row.model.clone(),
                precision,
                gpu,
                layout: layout.to_string(),
                tp: row.tp,
            };
            let table = set.tables.entry(setup).or_default();
            if let Some(tpot) = row.tpot_ms {
                let context = f64::from(row.input_tokens) + f64::from(row.output_tokens) / 2.0;
                table
                    .decode
                    .entry(row.batch)
                    .or_default()
                    .push((context, tpot / 1e3));
            }
            if let (Some(ttft), 1) = (row.ttft_ms, row.batch) {
                table
                    .prefill
                    .push((f64::from(row.input_tokens), ttft / 1e3));
            }
        }
        if set.tables.is_empty() {
            return Err(fail(1, "the table has no measurement".into()));
        }
        for table in set.tables.values_mut() {
            for points in table.decode.values_mut() {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            table.prefill.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Ok(set)
    }

    /// The measurements of `setup`, if the file has any.
    pub fn table(&self, setup: &Setup) -> Option<&MeasuredTable> {
        self.tables.get(setup)
    }

    /// Every setup the file measures.
    pub fn setups(&self) -> impl Iterator<Item = &Setup> {
        self.tables.keys()
    }
}

impl MeasuredTable {
    /// Seconds of one decode step of `batch` sequences at mean context
    /// `context`, if the measurements cover it.
    pub fn decode_step(&self, batch: u32, context: f64) -> Option<f64> {
        let below = self.decode.range(..=batch).next_back()?;
        let above = self.decode.range(batch..).next()?;
        let at_below = interpolate(below.1, context)?;
        if below.0 == above.0 {
            return Some(at_below);
        }
        let at_above = interpolate(above.1, context)?;
        let share = f64::from(batch - below.0) / f64::from(above.0 - below.0);
        Some(at_below + (at_above - at_below) * share)
    }

    /// Seconds to prefill `tokens` prompt tokens, if the measurements cover
    /// it.
    pub fn prefill(&self, tokens: u32) -> Option<f64> {
        interpolate(&self.prefill, f64::from(tokens))
    }
}

/// Linear interpolation in sorted `(x, y)` points, `None` outside them.
fn interpolate(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = points.first()?;
    let last = points.last()?;
    if x < first.0 || x > last.0 {
        return None;
    }
    let i = points.partition_point(|p| p.0 < x);
    if i == 0 || points[i].0 == x {
        return Some(points[i].1);
    }
    let (a, b) = (points[i - 1], points[i]);
    Some(a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "model,precision,gpu,layout,tp,batch,input_tokens,output_tokens,ttft_ms,tpot_ms\n";

    fn setup() -> Setup {
        Setup {
            model: "m".into(),
            precision: Precision::Fp16,
            gpu: GpuKind::Mi300x,
            layout: "SPX/NPS1".into(),
            tp: 1,
        }
    }

    #[test]
    fn decode_steps_interpolate_in_context_then_batch() {
        let text = format!(
            "{HEADER}m,fp16,MI300X,spx,1,1,1000,0,100,10\nm,fp16,MI300X,SPX,1,1,3000,0,300,20\nm,fp16,MI300X,SPX,1,9,1000,0,,30\nm,fp16,MI300X,SPX,1,9,3000,0,,50\n"
        );
        let set = MeasuredSet::parse(&text, "t.csv").unwrap();
        let table = set.table(&setup()).unwrap();
        // Batch 1 at context 2000: halfway between 10 and 20 ms.
        assert!((table.decode_step(1, 2000.0).unwrap() - 0.015).abs() < 1e-12);
        // Batch 5 at context 2000: halfway between 15 (batch 1) and 40 (batch 9).
        assert!((table.decode_step(5, 2000.0).unwrap() - 0.0275).abs() < 1e-12);
        assert_eq!(table.decode_step(10, 2000.0), None, "outside the batches");
        assert_eq!(table.decode_step(1, 4000.0), None, "outside the contexts");
        assert!((table.prefill(2000).unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(table.prefill(100), None);
    }

    #[test]
    fn malformed_rows_name_the_line_and_column() {
        for (row, expected) in [
            (
                "m,fp16,MI300X,SPX,1,1,100,10,-5,1",
                "column `ttft_ms`: must be a positive",
            ),
            ("m,fp4,MI300X,SPX,1,1,100,10,5,1", "column `precision`"),
            (
                "m,fp16,H100,SPX,1,1,100,10,5,1",
                "column `gpu`: unknown GPU kind",
            ),
            (
                "m,fp16,MI300X,SPX,1,0,100,10,5,1",
                "column `batch`: must be at least 1",
            ),
            (
                "m,fp16,MI300X,SPX,1,1,100,10,,",
                "give ttft_ms, tpot_ms or both",
            ),
            ("m,fp16,MI300X,SPX,1,1,100,10,5", "line 2"),
        ] {
            let err = MeasuredSet::parse(&format!("{HEADER}{row}\n"), "t.csv")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("t.csv: line 2"), "{err}");
            assert!(err.contains(expected), "{row}: {err}");
        }
    }
}
