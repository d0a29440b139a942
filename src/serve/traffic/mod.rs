//! Inference traffic: time-ordered streams of inference requests (one call
//! to a deployed model: arrival, prompt and output tokens).
//!
//! Sources: the Azure LLM inference trace ([`azure`]), aimsim's own request
//! CSV ([`csv_trace`]) and a seeded generator ([`synthetic`]). Each request
//! names a [`Target`] (a model, and optionally a precision) by index; the
//! serving simulator routes it to a replica of that target. Records are read
//! one at a time, so a trace of any length replays in bounded memory.

pub mod azure;
pub mod csv_trace;
pub mod headline;
pub mod lengths;
pub mod recorded;
pub mod shape;
pub mod synthetic;

use std::fmt;

use serde::Serialize;

use crate::profile::Precision;
use crate::time::Nanos;
use crate::workload::WorkloadError;

pub use azure::AzureTraffic;
pub use csv_trace::CsvTraffic;
pub use headline::scale_for_rate;
pub use recorded::{Recorded, Replay, MAX_RECORDED};
pub use shape::{TargetShape, TrafficShape};
pub use synthetic::{ArrivalPattern, LengthDistribution, Stream, SyntheticTraffic};

/// Most tokens a prompt or an output may have.
pub const MAX_TOKENS: u32 = 1 << 24;

/// What a request asks for: a model, at a precision if it names one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Target {
    /// Model id.
    pub model: String,
    /// Precision, when the request insists on one.
    pub precision: Option<Precision>,
}

impl fmt::Display for Target {
    /// `model` or `model:precision`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.precision {
            Some(p) => write!(f, "{}:{p}", self.model),
            None => f.write_str(&self.model),
        }
    }
}

/// One inference request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceRequest {
    /// When it arrives.
    pub arrival: Nanos,
    /// Index of its target in the source's [`Traffic::targets`].
    pub target: u32,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens to generate.
    pub output: u32,
    /// Scheduling priority (lower first under the engine's `priority`
    /// policy; 0 when the source gives none).
    pub priority: i32,
}

/// A stream of inference requests in non-decreasing arrival order.
pub trait Traffic {
    /// The next request, `None` at the end, or an error for a bad record.
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>>;

    /// The targets requests refer to.
    fn targets(&self) -> &[Target];
}

/// A stream replayed `factor` times as fast: every arrival time divided
/// by it (2 replays a trace at twice its rate), without rewriting it.
pub struct RateScaled<T> {
    inner: T,
    factor: f64,
}

/// Largest rate multiplier.
pub const MAX_RATE_SCALE: f64 = 1e4;

/// Smallest rate multiplier: slower stretches a trace's hour past a
/// year, and its arrival times past what a run's clock can count.
pub const MIN_RATE_SCALE: f64 = 1e-4;

/// `factor` if it is a rate multiplier aimsim replays at, from
/// [`MIN_RATE_SCALE`] to [`MAX_RATE_SCALE`]; `Err` says the range.
pub fn check_rate_scale(factor: f64) -> Result<f64, String> {
    if factor.is_finite() && (MIN_RATE_SCALE..=MAX_RATE_SCALE).contains(&factor) {
        Ok(factor)
    } else {
        Err(format!(
            "the rate scale must be from {MIN_RATE_SCALE} to {MAX_RATE_SCALE}, got {factor:?}"
        ))
    }
}

impl<T: Traffic> RateScaled<T> {
    /// `inner` at `factor` times its rate; `factor` must pass
    /// [`check_rate_scale`].
    pub fn new(inner: T, factor: f64) -> Result<RateScaled<T>, String> {
        Ok(RateScaled {
            inner,
            factor: check_rate_scale(factor)?,
        })
    }
}

impl<T: Traffic> Traffic for RateScaled<T> {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        let factor = self.factor;
        self.inner.next_request().map(|r| {
            let mut request = r?;
            if factor != 1.0 {
                let scaled = (request.arrival.0 as f64 / factor).round();
                // A float cast saturates: refuse rather than stack every
                // later arrival at the clock's end.
                if scaled >= u64::MAX as f64 {
                    return Err(WorkloadError {
                        source_name: "traffic".into(),
                        line: None,
                        message: format!(
                            "an arrival at {} s replayed at {factor}x the rate falls past the simulated clock's end",
                            request.arrival.0 as f64 / 1e9
                        ),
                    });
                }
                request.arrival = Nanos(scaled as u64);
            }
            Ok(request)
        })
    }

    fn targets(&self) -> &[Target] {
        self.inner.targets()
    }
}

/// A stream that ends at its first arrival after `horizon`: a trace cut to
/// a run's window (a synthetic stream ends there itself).
pub struct Until<T> {
    inner: T,
    horizon: Nanos,
    ended: bool,
}

impl<T: Traffic> Until<T> {
    /// `inner` up to and including arrivals at `horizon`.
    pub fn new(inner: T, horizon: Nanos) -> Until<T> {
        Until {
            inner,
            horizon,
            ended: false,
        }
    }
}

impl<T: Traffic> Traffic for Until<T> {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        if self.ended {
            return None;
        }
        let next = self.inner.next_request();
        if let Some(Ok(request)) = &next {
            if request.arrival > self.horizon {
                self.ended = true;
                return None;
            }
        }
        next
    }

    fn targets(&self) -> &[Target] {
        self.inner.targets()
    }
}

impl<T: Traffic + ?Sized> Traffic for Box<T> {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        (**self).next_request()
    }

    fn targets(&self) -> &[Target] {
        (**self).targets()
    }
}

/// Checks a token count read from a record.
pub(crate) fn tokens(value: u64, name: &str) -> Result<u32, String> {
    if value == 0 || value > u64::from(MAX_TOKENS) {
        return Err(format!(
            "{name} must be between 1 and {MAX_TOKENS} tokens, got {value}"
        ));
    }
    Ok(value as u32)
}

/// How the requests of a trace that names no model are given one: a
/// weighted draw, seeded, per request.
#[derive(Debug, Clone)]
pub struct Assignment {
    targets: Vec<Target>,
    cumulative: Vec<f64>,
}

impl Assignment {
    /// Targets with positive, finite weights.
    pub fn new(weighted: Vec<(Target, f64)>) -> Result<Assignment, String> {
        if weighted.is_empty() {
            return Err("no model to assign requests to".into());
        }
        if weighted.iter().any(|(_, w)| !(w.is_finite() && *w > 0.0)) {
            return Err("model weights must be positive numbers".into());
        }
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let mut running = 0.0;
        let mut cumulative = Vec::new();
        let mut targets = Vec::new();
        for (target, weight) in weighted {
            running += weight / total;
            cumulative.push(running);
            targets.push(target);
        }
        Ok(Assignment {
            targets,
            cumulative,
        })
    }

    /// The targets, by index.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The target a uniform draw `u` in [0, 1) picks.
    pub fn pick(&self, u: f64) -> u32 {
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.cumulative.len() - 1) as u32
    }
}
