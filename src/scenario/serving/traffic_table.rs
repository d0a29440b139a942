//! `[traffic]` of a serving scenario: synthetic streams, the Azure LLM
//! trace with a model assignment, or aimsim's request CSV; checked, and
//! opened as a request stream.

use std::path::Path;

use crate::profile::Precision;
use crate::serve::traffic::synthetic::MAX_RATE;
use crate::serve::traffic::{
    ArrivalPattern, Assignment, AzureTraffic, CsvTraffic, LengthDistribution, RateScaled, Stream,
    SyntheticTraffic, Target, Traffic, MAX_RATE_SCALE,
};
use crate::time::Nanos;
use crate::workload::WorkloadError;

use super::super::check::Checker;
use super::super::ScenarioError;
use super::schema::{LengthTable, StreamTable, TrafficTable, WeightTable};

/// Most synthetic streams or assigned models.
pub const MAX_STREAMS: usize = 4096;

/// Where a serving run's requests come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrafficSpec {
    /// Seeded streams, one per target.
    Synthetic {
        /// The streams.
        streams: Vec<StreamSpec>,
        /// Stop after this many requests.
        requests: Option<u64>,
        /// Rate multiplier.
        rate_scale: f64,
    },
    /// The Azure LLM inference trace.
    Azure {
        /// Path as written (relative to the scenario), if any.
        path: Option<String>,
        /// Models requests are assigned to, with weights.
        models: Vec<(Target, f64)>,
        /// Rate multiplier.
        rate_scale: f64,
    },
    /// aimsim's inference request CSV.
    Trace {
        /// Path as written (relative to the scenario), if any.
        path: Option<String>,
        /// Rate multiplier.
        rate_scale: f64,
    },
}

/// A stream as the scenario gives it (lengths may name a file).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    /// The model and precision.
    pub target: Target,
    /// Requests per second.
    pub rate: f64,
    /// Gaps between arrivals.
    pub arrivals: ArrivalPattern,
    /// Prompt lengths.
    pub prompt: LengthSpec,
    /// Output lengths.
    pub output: LengthSpec,
    /// Scheduling priority of its requests.
    pub priority: i32,
}

/// A length distribution, or the column of a CSV file to draw from.
#[derive(Debug, Clone, PartialEq)]
pub enum LengthSpec {
    /// A parametric distribution.
    Given(LengthDistribution),
    /// The empirical distribution of a column (path relative to the
    /// scenario).
    Column {
        /// The file.
        path: String,
        /// The column's header.
        column: String,
    },
}

impl TrafficSpec {
    /// The rate multiplier.
    pub fn rate_scale(&self) -> f64 {
        match self {
            TrafficSpec::Synthetic { rate_scale, .. }
            | TrafficSpec::Azure { rate_scale, .. }
            | TrafficSpec::Trace { rate_scale, .. } => *rate_scale,
        }
    }

    /// Sets the rate multiplier (`--rate-scale`); `Err` says the range.
    pub fn set_rate_scale(&mut self, factor: f64) -> Result<(), String> {
        if !(factor.is_finite() && factor > 0.0 && factor <= MAX_RATE_SCALE) {
            return Err(format!(
                "the rate scale must be above 0 and at most {MAX_RATE_SCALE}, got {factor:?}"
            ));
        }
        match self {
            TrafficSpec::Synthetic { rate_scale, .. }
            | TrafficSpec::Azure { rate_scale, .. }
            | TrafficSpec::Trace { rate_scale, .. } => *rate_scale = factor,
        }
        Ok(())
    }

    /// A one-line description for reports.
    pub fn describe(&self, trace: Option<&Path>) -> String {
        let scale = match self.rate_scale() {
            1.0 => String::new(),
            x => format!(" at {x}x rate"),
        };
        let file = trace.map_or("(no file)".to_string(), |p| p.display().to_string());
        match self {
            TrafficSpec::Synthetic {
                streams, requests, ..
            } => {
                let rate: f64 = streams.iter().map(|s| s.rate).sum();
                let cap = requests.map_or(String::new(), |n| format!(", {n} requests"));
                format!(
                    "synthetic: {} stream(s), {rate} req/s{cap}{scale}",
                    streams.len()
                )
            }
            TrafficSpec::Azure { models, .. } => {
                format!(
                    "Azure LLM trace {file}, over {} model(s){scale}",
                    models.len()
                )
            }
            TrafficSpec::Trace { .. } => format!("request trace {file}{scale}"),
        }
    }

    /// Opens the request stream: `trace` is the file of a trace source,
    /// `scenario_dir` resolves empirical length files, `seed` seeds every
    /// draw, `until` ends a synthetic stream.
    pub fn open(
        &self,
        trace: Option<&Path>,
        scenario_dir: &Path,
        seed: u64,
        until: Option<Nanos>,
    ) -> Result<Box<dyn Traffic>, WorkloadError> {
        let missing = || WorkloadError {
            source_name: "traffic.path".into(),
            line: None,
            message: "this traffic source reads a file: give traffic.path or --trace".into(),
        };
        let inner: Box<dyn Traffic> = match self {
            TrafficSpec::Synthetic {
                streams, requests, ..
            } => {
                let streams = streams
                    .iter()
                    .map(|s| {
                        Ok(Stream {
                            target: s.target.clone(),
                            rate: s.rate,
                            arrivals: s.arrivals,
                            prompt: s.prompt.resolve(scenario_dir)?,
                            output: s.output.resolve(scenario_dir)?,
                            priority: s.priority,
                        })
                    })
                    .collect::<Result<Vec<_>, WorkloadError>>()?;
                // The horizon is in scaled time; the generator runs unscaled.
                let until = until.map(|u| Nanos((u.0 as f64 * self.rate_scale()) as u64));
                Box::new(SyntheticTraffic::new(streams, seed, *requests, until))
            }
            TrafficSpec::Azure { models, .. } => {
                let assignment =
                    Assignment::new(models.clone()).expect("weights checked with the scenario");
                Box::new(AzureTraffic::open(
                    trace.ok_or_else(missing)?,
                    assignment,
                    seed,
                )?)
            }
            TrafficSpec::Trace { .. } => Box::new(CsvTraffic::open(trace.ok_or_else(missing)?)?),
        };
        Ok(Box::new(
            RateScaled::new(inner, self.rate_scale()).expect("rate scale checked"),
        ))
    }
}

impl LengthSpec {
    fn resolve(&self, scenario_dir: &Path) -> Result<LengthDistribution, WorkloadError> {
        match self {
            LengthSpec::Given(d) => Ok(d.clone()),
            LengthSpec::Column { path, column } => {
                LengthDistribution::from_csv_column(&scenario_dir.join(path), column)
            }
        }
    }
}

/// Checks `[traffic]`.
pub(super) fn traffic(check: &Checker, raw: &TrafficTable) -> Result<TrafficSpec, ScenarioError> {
    let scale = |value: Option<f64>| -> Result<f64, ScenarioError> {
        let value = value.unwrap_or(1.0);
        if !(value.is_finite() && value > 0.0 && value <= MAX_RATE_SCALE) {
            return Err(check.fail(
                "traffic.rate_scale",
                format!("must be above 0 and at most {MAX_RATE_SCALE}, got {value:?}"),
            ));
        }
        Ok(value)
    };
    Ok(match raw {
        TrafficTable::Synthetic {
            requests,
            rate_scale,
            streams,
        } => {
            if *requests == Some(0) {
                return Err(check.fail("traffic.requests", "must be at least 1"));
            }
            if streams.is_empty() || streams.len() > MAX_STREAMS {
                return Err(check.fail(
                    "traffic.streams",
                    format!("give 1 to {MAX_STREAMS} [[traffic.streams]] entries"),
                ));
            }
            let streams = streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream(check, i, s))
                .collect::<Result<_, _>>()?;
            TrafficSpec::Synthetic {
                streams,
                requests: *requests,
                rate_scale: scale(*rate_scale)?,
            }
        }
        TrafficTable::Azure {
            path,
            rate_scale,
            models,
        } => {
            if models.is_empty() || models.len() > MAX_STREAMS {
                return Err(check.fail(
                    "traffic.models",
                    format!("give 1 to {MAX_STREAMS} [[traffic.models]] entries: the Azure trace names no model"),
                ));
            }
            let models = models
                .iter()
                .enumerate()
                .map(|(i, m)| weighted(check, i, m))
                .collect::<Result<_, _>>()?;
            TrafficSpec::Azure {
                path: path.clone(),
                models,
                rate_scale: scale(*rate_scale)?,
            }
        }
        TrafficTable::Trace { path, rate_scale } => TrafficSpec::Trace {
            path: path.clone(),
            rate_scale: scale(*rate_scale)?,
        },
    })
}

fn target(
    check: &Checker,
    key: &str,
    model: &str,
    precision: Option<&str>,
) -> Result<Target, ScenarioError> {
    if model.is_empty() || model.len() > 256 {
        return Err(check.fail(
            &format!("{key}.model"),
            "expected a model id of 1 to 256 characters",
        ));
    }
    let precision = precision
        .map(|p| check.parsed::<Precision>(&format!("{key}.precision"), p))
        .transpose()?;
    Ok(Target {
        model: model.to_string(),
        precision,
    })
}

fn stream(check: &Checker, i: usize, raw: &StreamTable) -> Result<StreamSpec, ScenarioError> {
    let key = format!("traffic.streams[{i}]");
    let arrivals = match (raw.arrivals.as_deref().unwrap_or("poisson"), raw.cv) {
        ("poisson", None) => ArrivalPattern::Poisson,
        ("uniform", None) => ArrivalPattern::Uniform,
        ("gamma", Some(cv)) => ArrivalPattern::Gamma { cv },
        ("gamma", None) => {
            return Err(check.fail(
                &format!("{key}.cv"),
                "gamma arrivals need cv (the coefficient of variation of the gaps)",
            ))
        }
        ("poisson" | "uniform", Some(_)) => {
            return Err(check.fail(
                &format!("{key}.cv"),
                "applies only with arrivals = \"gamma\"",
            ))
        }
        (other, _) => {
            return Err(check.fail(
                &format!("{key}.arrivals"),
                format!("`{other}`; expected \"poisson\", \"gamma\" or \"uniform\""),
            ))
        }
    };
    let prompt = length(&raw.prompt);
    let output = length(&raw.output);
    let spec = StreamSpec {
        target: target(check, &key, &raw.model, raw.precision.as_deref())?,
        rate: raw.rate,
        arrivals,
        prompt,
        output,
        priority: raw.priority.unwrap_or(0),
    };
    // Check the parametric parts as the generator will.
    let probe = Stream {
        target: spec.target.clone(),
        rate: spec.rate,
        arrivals,
        prompt: given_or_fixed(&spec.prompt),
        output: given_or_fixed(&spec.output),
        priority: spec.priority,
    };
    probe.check().map_err(|(field, message)| {
        let message = if field == "rate" {
            format!("{message} (at most {MAX_RATE})")
        } else {
            message
        };
        check.fail(&format!("{key}.{field}"), message)
    })?;
    Ok(spec)
}

/// A parametric length as is; a file's column stands in as a fixed length
/// for checking (its values are checked as they are read).
fn given_or_fixed(spec: &LengthSpec) -> LengthDistribution {
    match spec {
        LengthSpec::Given(d) => d.clone(),
        LengthSpec::Column { .. } => LengthDistribution::Fixed(1),
    }
}

fn length(raw: &LengthTable) -> LengthSpec {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    match raw {
        LengthTable::Fixed { tokens } => {
            LengthSpec::Given(LengthDistribution::Fixed(clamp(*tokens)))
        }
        LengthTable::Lognormal { median, sigma, max } => {
            LengthSpec::Given(LengthDistribution::LogNormal {
                median: *median,
                sigma: *sigma,
                max: clamp(*max),
            })
        }
        LengthTable::Geometric { mean, max } => LengthSpec::Given(LengthDistribution::Geometric {
            mean: *mean,
            max: clamp(*max),
        }),
        LengthTable::Empirical { path, column } => LengthSpec::Column {
            path: path.clone(),
            column: column.clone(),
        },
        LengthTable::Quantiles { points } => {
            LengthSpec::Given(LengthDistribution::Quantiles(points.as_slice().into()))
        }
    }
}

fn weighted(check: &Checker, i: usize, raw: &WeightTable) -> Result<(Target, f64), ScenarioError> {
    let key = format!("traffic.models[{i}]");
    let weight = raw.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0 && weight <= 1e9) {
        return Err(check.fail(
            &format!("{key}.weight"),
            format!("must be a positive number, got {weight:?}"),
        ));
    }
    Ok((
        target(check, &key, &raw.model, raw.precision.as_deref())?,
        weight,
    ))
}
