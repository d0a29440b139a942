//! `results.csv`: one row per grid point and seed, written exactly so that
//! shards merge without loss, and read back.

use std::collections::BTreeMap;

use crate::hardware::LayoutSpec;
use crate::input::csv_table;
use crate::profile::PrecisionMix;
use crate::sweep::{Cell, RunRow};

use super::super::csv_text;
use super::{cell_cells, price, StudyHeader, CELL_COLUMNS, RUN_COLUMNS};

/// A `results.csv` that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: line {line}: {problem}")]
pub struct ResultsCsvError {
    /// The file.
    pub source_name: String,
    /// One-based line.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// `results.csv`: one row per grid point and seed, floats written exactly
/// (shortest round-trip form) so shards merge without loss.
pub fn results_csv(header: &StudyHeader, cells: &[Cell], rows: &[RunRow]) -> String {
    let columns: Vec<&str> = CELL_COLUMNS
        .iter()
        .chain(RUN_COLUMNS.iter())
        .copied()
        .collect();
    csv_text(
        &columns,
        rows.iter().map(|r| {
            let cell = &cells[r.cell];
            let mut out = cell_cells(cell, Some(r.gpus));
            out.extend([
                r.replication.to_string(),
                r.seed.to_string(),
                r.arrivals.to_string(),
                r.placed.to_string(),
                r.rejected_no_capacity.to_string(),
                r.rejected_never_fits.to_string(),
                r.fit_rate.to_string(),
                r.gpus_busy_mean.to_string(),
                r.gpus_busy_peak.to_string(),
                r.gpus_online_peak.to_string(),
                r.utilisation_mean.to_string(),
                r.fragmentation_mean.to_string(),
                r.gpu_hours_online.to_string(),
                price(header, cell.kind)
                    .map_or(String::new(), |p| (p * r.gpu_hours_online).to_string()),
            ]);
            out
        }),
    )
}

/// Reads `results.csv` back: the grid points it covers and its rows.
pub fn parse_results_csv(
    text: &str,
    source: &str,
) -> Result<(Vec<Cell>, Vec<RunRow>), ResultsCsvError> {
    let error = |line: usize, problem: String| ResultsCsvError {
        source_name: source.to_string(),
        line,
        problem,
    };
    let (mut reader, headers) = csv_table(text).map_err(|e| error(1, e.to_string()))?;
    let expected: Vec<&str> = CELL_COLUMNS
        .iter()
        .chain(RUN_COLUMNS.iter())
        .copied()
        .collect();
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(error(
            1,
            "not a results.csv of this aimsim version (columns differ)".into(),
        ));
    }
    let mut cells: BTreeMap<usize, Cell> = BTreeMap::new();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| error(line, e.to_string()))?;
        let field = |name: &str| {
            &record[expected
                .iter()
                .position(|c| *c == name)
                .expect("known column")]
        };
        let fail = |name: &str| {
            error(
                line,
                format!(
                    "column `{name}`: `{}` is not valid",
                    crate::input::shown(field(name))
                ),
            )
        };
        macro_rules! parse {
            ($name:expr) => {
                field($name).parse().map_err(|_| fail($name))?
            };
        }
        // A share is from 0 to 1, any other figure finite and not negative:
        // `inf` or NaN would pass `parse` and poison every mean and chart.
        let share = |name: &str| -> Result<f64, ResultsCsvError> {
            let value: f64 = field(name).parse().map_err(|_| fail(name))?;
            if (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(error(
                    line,
                    format!(
                        "column `{name}`: `{}` is not a share from 0 to 1",
                        crate::input::shown(field(name))
                    ),
                ))
            }
        };
        let amount = |name: &str| -> Result<f64, ResultsCsvError> {
            let value: f64 = field(name).parse().map_err(|_| fail(name))?;
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err(error(
                    line,
                    format!(
                        "column `{name}`: `{}` is not a finite amount of at least 0",
                        crate::input::shown(field(name))
                    ),
                ))
            }
        };
        let mix = if field("mix_fp16").is_empty() {
            None
        } else {
            let shares = [parse!("mix_fp16"), parse!("mix_int8"), parse!("mix_int4")];
            Some(PrecisionMix::new(shares).map_err(|_| fail("mix_fp16"))?)
        };
        let cell = Cell {
            index: parse!("cell"),
            mix,
            kind: parse!("kind"),
            layout: field("layout")
                .parse::<LayoutSpec>()
                .map_err(|_| fail("layout"))?,
            policy: parse!("policy"),
            gpus: Some(parse!("gpus")),
        };
        rows.push(RunRow {
            cell: cell.index,
            gpus: parse!("gpus"),
            replication: parse!("replication"),
            seed: parse!("seed"),
            arrivals: parse!("arrivals"),
            placed: parse!("placed"),
            rejected_no_capacity: parse!("rejected_no_capacity"),
            rejected_never_fits: parse!("rejected_never_fits"),
            fit_rate: share("fit_rate")?,
            gpus_busy_mean: amount("gpus_busy_mean")?,
            gpus_busy_peak: parse!("gpus_busy_peak"),
            gpus_online_peak: parse!("gpus_online_peak"),
            utilisation_mean: share("utilisation_mean")?,
            fragmentation_mean: share("fragmentation_mean")?,
            gpu_hours_online: amount("gpu_hours_online")?,
        });
        cells.entry(cell.index).or_insert(cell);
    }
    Ok((cells.into_values().collect(), rows))
}
