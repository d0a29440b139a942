//! Calibration against published measurements of AMD Instinct GPUs.
//!
//! `aim_profiles/calibration/measurements.csv` lists published serving
//! results (source, software, setup, figure), each marked `fit` or
//! `validate`; `aim_profiles/calibration/architectures.csv` holds the
//! reference models they ran that the catalog lacks. [`fit`] chooses the
//! fitted [`Efficiency`] constants that minimise the squared log error on
//! the `fit` rows only (Nelder-Mead, fixed start, fixed iteration count:
//! the same answer every run); [`evaluate`] predicts every row with given
//! constants, so the `validate` rows report the error on data the fit never
//! saw.

use serde::Deserialize;

use crate::hardware::GpuKind;
use crate::profile::{ArchitectureTable, Precision};

use super::device::Device;
use super::efficiency::{Efficiency, OVERLAP_TOKENS};
use super::estimate::{batch_latency, offline_throughput};
use super::replica::{EngineLimits, KvCache, ReplicaModel, ReplicaSpec};

const MEASUREMENTS: &str = include_str!("../../aim_profiles/calibration/measurements.csv");
const REFERENCE_ARCHITECTURES: &str =
    include_str!("../../aim_profiles/calibration/architectures.csv");

/// Whether a measurement is fitted to or only compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Used to fit the constants.
    Fit,
    /// Predicted with the fitted constants, never fitted to.
    Validate,
}

/// What a measurement reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Seconds for a batch of identical requests (`benchmark_latency.py`).
    BatchLatencyS,
    /// Output tokens per second of such a batch.
    BatchOutputTps,
    /// Output tokens per second of an offline run of many requests.
    OfflineOutputTps,
}

/// One published measurement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Short id.
    pub id: String,
    /// Fit or validate.
    pub role: Role,
    /// GPU kind.
    pub gpu: GpuKind,
    /// Tensor-parallel degree (whole GPUs).
    pub tp: u32,
    /// Model, in the catalog's or the reference architectures.
    pub model: String,
    /// Weight precision in aimsim's terms (FP8 W8A8 is `int8`).
    pub precision: Precision,
    /// Key/value cache bits, 16 or 8.
    pub kv_cache: u32,
    /// What the figure is.
    pub metric: Metric,
    /// Requests per batch (batch metrics).
    pub batch: Option<u32>,
    /// Prompt tokens per request.
    pub input_tokens: u32,
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Requests of an offline run.
    pub requests: Option<u32>,
    /// The engine's `max_num_seqs` in an offline run.
    pub max_seqs: Option<u32>,
    /// The engine's `num_scheduler_steps` (1 when not stated).
    pub scheduler_steps: Option<u32>,
    /// The published figure.
    pub published: f64,
    /// The software that measured it.
    pub software: String,
    /// Where it was published.
    pub source: String,
}

/// A measurement with aimsim's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The measurement.
    pub measurement: Measurement,
    /// aimsim's figure, in the same unit.
    pub predicted: f64,
}

impl Comparison {
    /// (predicted - published) / published.
    pub fn error(&self) -> f64 {
        self.predicted / self.measurement.published - 1.0
    }
}

/// The shipped measurements.
pub fn measurements() -> Vec<Measurement> {
    let mut reader = csv::Reader::from_reader(MEASUREMENTS.as_bytes());
    reader
        .deserialize()
        .map(|row| row.expect("the shipped measurements are valid"))
        .collect()
}

/// The catalog's architectures and the reference models the measurements
/// ran.
pub fn architectures() -> ArchitectureTable {
    let mut table = ArchitectureTable::builtin();
    table.extend(
        ArchitectureTable::parse(
            REFERENCE_ARCHITECTURES,
            "aim_profiles/calibration/architectures.csv",
        )
        .expect("the shipped reference architectures are valid"),
    );
    table
}

/// aimsim's figure for `m` with `efficiency`.
pub fn predict(m: &Measurement, table: &ArchitectureTable, efficiency: Efficiency) -> f64 {
    let arch = table
        .get(&m.model)
        .unwrap_or_else(|| panic!("measurement {} names an unknown model", m.id));
    let limits = EngineLimits {
        max_seqs: m.max_seqs.unwrap_or(EngineLimits::default().max_seqs),
        scheduler_steps: m.scheduler_steps.unwrap_or(1),
        ..EngineLimits::default()
    };
    let spec = ReplicaSpec {
        arch,
        precision: m.precision,
        kv_cache: if m.kv_cache == 8 {
            KvCache::Bits8
        } else {
            KvCache::Bits16
        },
        device: Device::whole(m.gpu),
        tp: m.tp,
        limits,
        efficiency,
    };
    let model = ReplicaModel::new(&spec)
        .unwrap_or_else(|e| panic!("measurement {} cannot be modelled: {e}", m.id));
    let batch = m.batch.unwrap_or(1);
    match m.metric {
        Metric::BatchLatencyS => {
            batch_latency(&model, batch, m.input_tokens, m.output_tokens, 1).e2e_s
        }
        Metric::BatchOutputTps => {
            batch_latency(&model, batch, m.input_tokens, m.output_tokens, 1).tokens_per_s
        }
        Metric::OfflineOutputTps => offline_throughput(
            &model,
            m.input_tokens,
            m.output_tokens,
            limits.max_seqs.min(m.requests.unwrap_or(u32::MAX)),
            1,
        ),
    }
}

/// Every measurement beside aimsim's prediction with `efficiency`.
pub fn evaluate(efficiency: Efficiency) -> Vec<Comparison> {
    let table = architectures();
    measurements()
        .into_iter()
        .map(|m| Comparison {
            predicted: predict(&m, &table, efficiency),
            measurement: m,
        })
        .collect()
}

/// The fitted constants as an unconstrained vector: logit of the KV
/// bandwidth share, logs of the two costs. The overlap is set, not fitted
/// ([`OVERLAP_TOKENS`]).
fn to_vector(e: &Efficiency) -> [f64; 3] {
    [
        (e.kv_bandwidth / (1.0 - e.kv_bandwidth)).ln(),
        e.layer_overhead.ln(),
        e.sequence_overhead.ln(),
    ]
}

fn from_vector(v: &[f64; 3]) -> Efficiency {
    Efficiency {
        kv_bandwidth: 1.0 / (1.0 + (-v[0]).exp()),
        layer_overhead: v[1].exp(),
        sequence_overhead: v[2].exp(),
        overlap_tokens: OVERLAP_TOKENS,
    }
}

/// Sum of squared log errors over the `fit` rows.
fn loss(e: &Efficiency, fit_rows: &[Measurement], table: &ArchitectureTable) -> f64 {
    fit_rows
        .iter()
        .map(|m| (predict(m, table, *e) / m.published).ln().powi(2))
        .sum()
}

/// Iterations of the Nelder-Mead search.
const FIT_ITERATIONS: usize = 600;

/// Fits the constants to the `fit` rows, from a fixed start; returns them
/// and the root-mean-square log error reached.
pub fn fit() -> (Efficiency, f64) {
    let table = architectures();
    let rows: Vec<Measurement> = measurements()
        .into_iter()
        .filter(|m| m.role == Role::Fit)
        .collect();
    let start = Efficiency {
        kv_bandwidth: 0.5,
        layer_overhead: 1e-5,
        sequence_overhead: 1e-5,
        overlap_tokens: OVERLAP_TOKENS,
    };
    let f = |v: &[f64; 3]| loss(&from_vector(v), &rows, &table);
    let best = nelder_mead(f, to_vector(&start), FIT_ITERATIONS);
    let e = from_vector(&best);
    let rms = (loss(&e, &rows, &table) / rows.len() as f64).sqrt();
    (e, rms)
}

/// Minimises `f` from `start` with the Nelder-Mead simplex method (standard
/// coefficients), a fixed number of iterations.
fn nelder_mead<const N: usize>(
    f: impl Fn(&[f64; N]) -> f64,
    start: [f64; N],
    iterations: usize,
) -> [f64; N] {
    let mut simplex: Vec<([f64; N], f64)> = (0..=N)
        .map(|i| {
            let mut p = start;
            if i > 0 {
                p[i - 1] += 1.0;
            }
            (p, f(&p))
        })
        .collect();
    let along = |a: &[f64; N], b: &[f64; N], t: f64| {
        let mut p = [0.0; N];
        for k in 0..N {
            p[k] = a[k] + t * (b[k] - a[k]);
        }
        p
    };
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut centroid = [0.0; N];
        for (p, _) in &simplex[..N] {
            for k in 0..N {
                centroid[k] += p[k] / N as f64;
            }
        }
        let worst = simplex[N];
        let reflected = along(&centroid, &worst.0, -1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = along(&centroid, &worst.0, -2.0);
            let fe = f(&expanded);
            simplex[N] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[N - 1].1 {
            simplex[N] = (reflected, fr);
        } else {
            let contracted = along(&centroid, &worst.0, 0.5);
            let fc = f(&contracted);
            if fc < worst.1 {
                simplex[N] = (contracted, fc);
            } else {
                let best = simplex[0].0;
                for entry in simplex.iter_mut().skip(1) {
                    let p = along(&best, &entry.0, 0.5);
                    *entry = (p, f(&p));
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

/// The calibration table as markdown: every measurement, its source and
/// setup, the published and predicted figures and the error, fit rows then
/// validation rows, with a summary of each.
pub fn report(comparisons: &[Comparison]) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    for (role, title) in [
        (Role::Fit, "Fitted to"),
        (Role::Validate, "Validation (never fitted to)"),
    ] {
        let rows: Vec<&Comparison> = comparisons
            .iter()
            .filter(|c| c.measurement.role == role)
            .collect();
        let errors: Vec<f64> = rows.iter().map(|c| c.error().abs()).collect();
        let mean = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
        let max = errors.iter().copied().fold(0.0, f64::max);
        let within = |limit: f64| errors.iter().filter(|e| **e <= limit).count();
        let _ = writeln!(
            md,
            "### {title}: {} points, mean |error| {:.1}%, max {:.1}%, {} within 10%, {} within 25%\n",
            rows.len(),
            mean * 100.0,
            max * 100.0,
            within(0.10),
            within(0.25)
        );
        md.push_str("| id | setup | metric | published | aimsim | error | software | source |\n|---|---|---|---:|---:|---:|---|---|\n");
        for c in rows {
            let m = &c.measurement;
            let setup = format!(
                "{} {}x{} {} kv{}, {}/{}{}",
                m.model.rsplit('/').next().unwrap_or(&m.model),
                m.tp,
                m.gpu,
                m.precision,
                m.kv_cache,
                m.input_tokens,
                m.output_tokens,
                match (m.metric, m.batch, m.max_seqs) {
                    (Metric::OfflineOutputTps, _, Some(s)) => format!(", {s} seqs"),
                    (_, Some(b), _) => format!(", batch {b}"),
                    _ => String::new(),
                }
            );
            let metric = match m.metric {
                Metric::BatchLatencyS => "batch latency s",
                Metric::BatchOutputTps => "output tok/s",
                Metric::OfflineOutputTps => "offline output tok/s",
            };
            let _ = writeln!(
                md,
                "| {} | {setup} | {metric} | {} | {:.4} | {:+.1}% | {} | {} |",
                m.id,
                m.published,
                c.predicted,
                c.error() * 100.0,
                m.software,
                m.source
            );
        }
        md.push('\n');
    }
    md
}
