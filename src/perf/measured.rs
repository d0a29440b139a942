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

/// Shortest time a row may give, milliseconds: no GPU step is faster than
/// a microsecond.
const MIN_MS: f64 = 1e-3;

/// Longest time a row may give, milliseconds.
const MAX_MS: f64 = 1e9;

/// A measured point while the file is read: (x, seconds, line).
type Point = (f64, f64, u64);

impl MeasuredSet {
    /// Reads a measured table; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<MeasuredSet, MeasuredError> {
        let fail = |line: u64, problem: String| MeasuredError {
            source_name: source.to_string(),
            line,
            problem,
        };
        let (mut reader, headers) = csv_table(text).map_err(|e| fail(1, e.to_string()))?;
        // Per setup: decode points by batch, prefill points, with lines.
        type Points = (BTreeMap<u32, Vec<Point>>, Vec<Point>);
        let mut read: BTreeMap<Setup, Points> = BTreeMap::new();
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
            let positive = |name: &str, v: Option<f64>| {
                match v {
                Some(v) if !(v.is_finite() && (MIN_MS..=MAX_MS).contains(&v)) => Err(fail(
                    line,
                    format!(
                        "column `{name}`: must be a positive number of milliseconds from {MIN_MS} (a microsecond) to {MAX_MS}, got {v:?}"
                    ),
                )),
                _ => Ok(()),
            }
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
                model: crate::profile::aliases::canonical(&row.model).to_string(),
                precision,
                gpu,
                layout: layout.to_string(),
                tp: row.tp,
            };
            let (decode, prefill) = read.entry(setup).or_default();
            if let Some(tpot) = row.tpot_ms {
                let context = f64::from(row.input_tokens) + f64::from(row.output_tokens) / 2.0;
                decode
                    .entry(row.batch)
                    .or_default()
                    .push((context, tpot / 1e3, line));
            }
            if let (Some(ttft), 1) = (row.ttft_ms, row.batch) {
                prefill.push((f64::from(row.input_tokens), ttft / 1e3, line));
            }
        }
        if read.is_empty() {
            return Err(fail(1, "the table has no measurement".into()));
        }
        let mut set = MeasuredSet::default();
        for (setup, (decode, prefill)) in read {
            let curve = |points: Vec<Point>, what: &str| {
                ordered(points, what).map_err(|(line, problem)| fail(line, problem))
            };
            let table = MeasuredTable {
                decode: decode
                    .into_iter()
                    .map(|(batch, points)| {
                        Ok((
                            batch,
                            curve(points, &format!("decode step of batch {batch}"))?,
                        ))
                    })
                    .collect::<Result<_, MeasuredError>>()?,
                prefill: curve(prefill, "prefill")?,
            };
            set.tables.insert(setup, table);
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

/// `points` sorted by x, without their lines; `Err` (line, problem) when
/// two give the same x (the table would say two things) or a longer one
/// takes less time (no GPU computes more tokens faster).
fn ordered(mut points: Vec<Point>, what: &str) -> Result<Vec<(f64, f64)>, (u64, String)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
    for pair in points.windows(2) {
        let ((x0, t0, line0), (x1, t1, line1)) = (pair[0], pair[1]);
        if x0 == x1 {
            return Err((
                line1,
                format!("the {what} at {x1} tokens is measured already on line {line0}"),
            ));
        }
        if t1 < t0 {
            return Err((
                line1.max(line0),
                format!(
                    "the {what} at {x1} tokens ({} ms, line {line1}) is faster than at {x0} tokens ({} ms, line {line0}); a longer input never takes less time",
                    t1 * 1e3,
                    t0 * 1e3
                ),
            ));
        }
    }
    Ok(points.into_iter().map(|(x, t, _)| (x, t)).collect())
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
            (
                "m,fp16,MI300X,SPX,1,1,100,10,1e-9,1",
                "column `ttft_ms`: must be a positive number of milliseconds from 0.001",
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

    #[test]
    fn conflicting_or_backward_points_are_refused_with_both_lines() {
        for (rows, expected) in [
            (
                "m,fp16,MI300X,SPX,1,1,1024,0,100,\nm,fp16,MI300X,SPX,1,1,1024,0,120,\n",
                "line 3: the prefill at 1024 tokens is measured already on line 2",
            ),
            (
                "m,fp16,MI300X,SPX,1,1,1024,0,100,\nm,fp16,MI300X,SPX,1,1,1500,0,90,\n",
                "line 3: the prefill at 1500 tokens (90 ms, line 3) is faster than at 1024 tokens (100 ms, line 2)",
            ),
            (
                "m,fp16,MI300X,SPX,1,4,2000,0,,30\nm,fp16,MI300X,SPX,1,4,1000,0,,40\n",
                "line 3: the decode step of batch 4 at 2000 tokens (30 ms, line 2) is faster than at 1000 tokens (40 ms, line 3)",
            ),
        ] {
            let err = MeasuredSet::parse(&format!("{HEADER}{rows}"), "t.csv")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{rows}: {err}");
        }
    }
}
