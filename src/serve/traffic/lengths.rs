//! How prompt and output lengths of synthetic traffic are drawn: fixed,
//! log-normal, geometric, uniform over a CSV column, or piecewise linear
//! between a trace's quantiles; each checked before any draw.

use std::path::Path;
use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::workload::csv_rows::CsvRows;
use crate::workload::WorkloadError;

use super::{tokens, MAX_TOKENS};

/// Most values an empirical length distribution holds.
pub const MAX_EMPIRICAL: usize = 10_000_000;

/// How a stream's prompt or output lengths are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum LengthDistribution {
    /// Always this many tokens.
    Fixed(u32),
    /// Log-normal, rounded, at least 1 and at most `max`.
    LogNormal {
        /// Median tokens.
        median: f64,
        /// Standard deviation of the log.
        sigma: f64,
        /// Largest length drawn (longer draws are clamped).
        max: u32,
    },
    /// Geometric on 1, 2, ...: the ceiling of an exponential draw with this
    /// mean (the discrete memoryless law), at most `max`.
    Geometric {
        /// Mean tokens of the exponential draw (the geometric mean is
        /// `1 / (1 - exp(-1 / mean))`).
        mean: f64,
        /// Largest length drawn (longer draws are clamped).
        max: u32,
    },
    /// Uniformly one of these lengths (a trace's column).
    Empirical(Arc<[u32]>),
    /// Piecewise linear between quantiles: `(p, tokens)` points with `p`
    /// rising from 0 to 1 and tokens not falling (a trace's length
    /// distribution summarised by its quantiles), rounded, at least 1.
    Quantiles(Arc<[(f64, f64)]>),
}

/// Most points a quantile distribution may have.
pub const MAX_QUANTILES: usize = 1000;

impl LengthDistribution {
    /// The lengths in `column` of the CSV file at `path`, each checked like a
    /// trace's token count.
    pub fn from_csv_column(path: &Path, column: &str) -> Result<LengthDistribution, WorkloadError> {
        let mut rows = CsvRows::open(path, &[], &[column], false)?;
        let index = rows.column(column).expect("required column checked");
        let mut values = Vec::new();
        while rows.advance()? {
            if values.len() == MAX_EMPIRICAL {
                return Err(rows.error(format!(
                    "more than {MAX_EMPIRICAL} rows; an empirical distribution holds at most that many"
                )));
            }
            let value: u64 = rows.parse(index, "a whole number of tokens")?;
            values.push(tokens(value, &format!("column `{column}`")).map_err(|m| rows.error(m))?);
        }
        if values.is_empty() {
            return Err(WorkloadError {
                source_name: path.display().to_string(),
                line: None,
                message: format!("column `{column}` has no values"),
            });
        }
        Ok(LengthDistribution::Empirical(values.into()))
    }

    /// Checks the parameters; `Err` says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        match self {
            LengthDistribution::Fixed(n) => tokens(u64::from(*n), "a fixed length").map(|_| ()),
            LengthDistribution::LogNormal { median, sigma, max } => {
                if !(median.is_finite() && *median >= 1.0 && *median <= f64::from(MAX_TOKENS)) {
                    return Err(format!(
                        "median must be between 1 and {MAX_TOKENS} tokens, got {median:?}"
                    ));
                }
                if !(sigma.is_finite() && (0.0..=5.0).contains(sigma)) {
                    return Err(format!("sigma must be between 0 and 5, got {sigma:?}"));
                }
                tokens(u64::from(*max), "max").map(|_| ())
            }
            LengthDistribution::Geometric { mean, max } => {
                if !(mean.is_finite() && *mean > 0.0 && *mean <= f64::from(MAX_TOKENS)) {
                    return Err(format!(
                        "mean must be above 0 and at most {MAX_TOKENS} tokens, got {mean:?}"
                    ));
                }
                tokens(u64::from(*max), "max").map(|_| ())
            }
            LengthDistribution::Empirical(values) => {
                if values.is_empty() {
                    Err("an empirical distribution needs at least one value".into())
                } else {
                    Ok(())
                }
            }
            LengthDistribution::Quantiles(points) => check_quantiles(points),
        }
    }

    pub(super) fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        match self {
            LengthDistribution::Fixed(n) => *n,
            LengthDistribution::LogNormal { median, sigma, max } => {
                let draw = LogNormal::new(median.ln(), *sigma)
                    .expect("parameters checked")
                    .sample(rng);
                (draw.round().clamp(1.0, f64::from(*max))) as u32
            }
            LengthDistribution::Geometric { mean, max } => {
                let draw = Exp::new(1.0 / mean).expect("mean checked").sample(rng);
                (draw.ceil().clamp(1.0, f64::from(*max))) as u32
            }
            LengthDistribution::Empirical(values) => values[rng.random_range(0..values.len())],
            LengthDistribution::Quantiles(points) => {
                let u: f64 = rng.random();
                let upper = points
                    .partition_point(|&(p, _)| p <= u)
                    .min(points.len() - 1);
                let (p0, t0) = points[upper - 1];
                let (p1, t1) = points[upper];
                let draw = t0 + (t1 - t0) * (u - p0) / (p1 - p0);
                draw.round().max(1.0) as u32
            }
        }
    }
}

/// Checks quantile points: 2 to [`MAX_QUANTILES`] of them, `p` strictly
/// rising from exactly 0 to exactly 1, tokens not falling, every one a
/// valid length.
fn check_quantiles(points: &[(f64, f64)]) -> Result<(), String> {
    if !(2..=MAX_QUANTILES).contains(&points.len()) {
        return Err(format!(
            "give 2 to {MAX_QUANTILES} [p, tokens] points, got {}",
            points.len()
        ));
    }
    if points[0].0 != 0.0 || points[points.len() - 1].0 != 1.0 {
        return Err(
            "the first point must be at p = 0 (the shortest) and the last at p = 1 (the longest)"
                .into(),
        );
    }
    for (i, pair) in points.windows(2).enumerate() {
        let ((p0, t0), (p1, t1)) = (pair[0], pair[1]);
        if p1.is_nan() || p1 <= p0 {
            return Err(format!(
                "point {}: p must rise strictly, got {p1:?} after {p0:?}",
                i + 1
            ));
        }
        if t1 < t0 {
            return Err(format!(
                "point {}: tokens must not fall, got {t1:?} after {t0:?}",
                i + 1
            ));
        }
    }
    for &(_, t) in points {
        if !(t.is_finite() && t >= 1.0 && t <= f64::from(MAX_TOKENS)) {
            return Err(format!(
                "tokens must be between 1 and {MAX_TOKENS}, got {t:?}"
            ));
        }
    }
    Ok(())
}
