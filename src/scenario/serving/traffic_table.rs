//! `[traffic]` of a serving scenario: synthetic streams, the Azure LLM
//! trace with a model assignment, or aimsim's request CSV, opened as a
//! request stream (checked from the file in [`super::traffic_check`]).

use std::path::Path;

use crate::serve::traffic::synthetic::MAX_RATE;
use crate::serve::traffic::{
    check_rate_scale, scale_for_rate, ArrivalPattern, Assignment, AzureTraffic, CsvTraffic,
    LengthDistribution, RateScaled, Stream, SyntheticTraffic, Target, Traffic, Until,
};
use crate::time::Nanos;
use crate::workload::WorkloadError;

/// The source name of the error a trace source gives without a file
/// (neither `traffic.path` nor `--trace`).
pub const MISSING_TRACE: &str = "traffic.path";

/// Most synthetic streams or assigned models.
pub const MAX_STREAMS: usize = 4096;

/// Most requests synthetic traffic may be asked for, by `traffic.requests`
/// or by its rates times the horizon: 10^9, a week at about 1,650
/// requests/s (a serving run replays some ten million requests a second).
pub const MAX_SYNTHETIC_REQUESTS: u64 = 1_000_000_000;

/// Where a serving run's requests come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrafficSpec {
    /// Seeded streams, one per target.
    Synthetic {
        /// The streams.
        streams: Vec<StreamSpec>,
        /// Stop after this many requests.
        requests: Option<u64>,
        /// Rate multiplier (the streams state their rates).
        rate_scale: f64,
    },
    /// The Azure LLM inference trace.
    Azure {
        /// Path as written (relative to the scenario), if any.
        path: Option<String>,
        /// Models requests are assigned to, with weights.
        models: Vec<(Target, f64)>,
        /// How fast the trace is replayed.
        pace: Pace,
    },
    /// aimsim's inference request CSV.
    Trace {
        /// Path as written (relative to the scenario), if any.
        path: Option<String>,
        /// How fast the trace is replayed.
        pace: Pace,
    },
}

/// How fast a source is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// At this multiple of its own rate (`traffic.rate_scale`): every
    /// arrival time divided by it.
    Scale(f64),
    /// At this headline rate in requests per second (`traffic.rate`, a
    /// trace only): the multiple [`scale_for_rate`] finds.
    Rate(f64),
}

impl Pace {
    /// This pace `factor` times as fast (unchecked).
    pub fn times(self, factor: f64) -> Pace {
        match self {
            Pace::Scale(x) => Pace::Scale(x * factor),
            Pace::Rate(r) => Pace::Rate(r * factor),
        }
    }

    /// Checks the value's range; `Err` says it.
    pub(super) fn check(self) -> Result<Pace, String> {
        match self {
            Pace::Scale(x) => check_rate_scale(x).map(Pace::Scale),
            Pace::Rate(r) => {
                if r.is_finite() && r > 0.0 && r <= MAX_RATE {
                    Ok(self)
                } else {
                    Err(format!(
                        "the rate must be above 0 and at most {MAX_RATE} requests/s, got {r:?}"
                    ))
                }
            }
        }
    }
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
    /// How fast it is replayed.
    pub fn pace(&self) -> Pace {
        match self {
            TrafficSpec::Synthetic { rate_scale, .. } => Pace::Scale(*rate_scale),
            TrafficSpec::Azure { pace, .. } | TrafficSpec::Trace { pace, .. } => *pace,
        }
    }

    /// Replays it `factor` times as fast (`--rate-scale`, a plan's
    /// `rate_scales`): a rate multiple or a headline rate, multiplied;
    /// `Err` says the range it left.
    pub fn scale_rate(&mut self, factor: f64) -> Result<(), String> {
        match self {
            TrafficSpec::Synthetic { rate_scale, .. } => {
                *rate_scale = check_rate_scale(*rate_scale * factor)?
            }
            TrafficSpec::Azure { pace, .. } | TrafficSpec::Trace { pace, .. } => {
                *pace = pace.times(factor).check()?
            }
        }
        Ok(())
    }

    /// A one-line description for reports.
    pub fn describe(&self, trace: Option<&Path>) -> String {
        let scale = match self.pace() {
            Pace::Scale(1.0) => String::new(),
            Pace::Scale(x) => format!(" at {x}x rate"),
            Pace::Rate(r) => format!(", rescaled to {r} requests/s"),
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
    /// draw; the stream ends at `horizon` (no arrival after it), the span
    /// a headline rate is measured over. A headline rate reads the trace
    /// once more first, for its multiplier.
    pub fn open(
        &self,
        trace: Option<&Path>,
        scenario_dir: &Path,
        seed: u64,
        horizon: Option<Nanos>,
    ) -> Result<Box<dyn Traffic>, WorkloadError> {
        self.check_volume(horizon)?;
        let factor = match self.pace() {
            Pace::Scale(x) => x,
            Pace::Rate(rate) => {
                let mut unscaled = self.unscaled(trace, scenario_dir, seed, horizon)?;
                scale_for_rate(&mut *unscaled, rate, horizon).map_err(|message| WorkloadError {
                    source_name: "traffic.rate".into(),
                    line: None,
                    message,
                })?
            }
        };
        let scaled = RateScaled::new(self.unscaled(trace, scenario_dir, seed, horizon)?, factor)
            .expect("rate scale checked");
        Ok(match horizon {
            Some(horizon) => Box::new(Until::new(scaled, horizon)),
            None => Box::new(scaled),
        })
    }

    /// Refuses synthetic traffic whose rates over `horizon` ask for more
    /// than [`MAX_SYNTHETIC_REQUESTS`] (a trace is bounded by its file).
    fn check_volume(&self, horizon: Option<Nanos>) -> Result<(), WorkloadError> {
        let (
            TrafficSpec::Synthetic {
                streams,
                requests: None,
                rate_scale,
            },
            Some(horizon),
        ) = (self, horizon)
        else {
            return Ok(());
        };
        let rate: f64 = streams.iter().map(|s| s.rate).sum::<f64>() * rate_scale;
        let expected = rate * horizon.0 as f64 / 1e9;
        if expected <= MAX_SYNTHETIC_REQUESTS as f64 {
            return Ok(());
        }
        Err(WorkloadError {
            source_name: "run.horizon".into(),
            line: None,
            message: format!(
                "{rate} requests/s over {} s asks for {expected:.3e} requests; a run generates at most {MAX_SYNTHETIC_REQUESTS}: shorten the horizon or lower the rates",
                horizon.0 / 1_000_000_000
            ),
        })
    }

    /// The request stream at its own pace.
    fn unscaled(
        &self,
        trace: Option<&Path>,
        scenario_dir: &Path,
        seed: u64,
        horizon: Option<Nanos>,
    ) -> Result<Box<dyn Traffic>, WorkloadError> {
        let missing = || WorkloadError {
            source_name: MISSING_TRACE.into(),
            line: None,
            message: "this traffic source reads a file: give traffic.path or --trace".into(),
        };
        Ok(match self {
            TrafficSpec::Synthetic {
                streams,
                requests,
                rate_scale,
            } => {
                let streams = streams
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let resolve = |spec: &LengthSpec, side: &str| {
                            spec.resolve(scenario_dir).map_err(|mut e| {
                                e.message = format!("traffic.streams[{i}].{side}: {}", e.message);
                                e
                            })
                        };
                        Ok(Stream {
                            target: s.target.clone(),
                            rate: s.rate,
                            arrivals: s.arrivals,
                            prompt: resolve(&s.prompt, "prompt")?,
                            output: resolve(&s.output, "output")?,
                            priority: s.priority,
                        })
                    })
                    .collect::<Result<Vec<_>, WorkloadError>>()?;
                // The horizon is in scaled time; the generator runs unscaled.
                let until = horizon.map(|u| Nanos((u.0 as f64 * rate_scale) as u64));
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
        })
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
