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
pub use recorded::{Recorded, Replay};
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

impl<T: Traffic> RateScaled<T> {
    /// `inner` at `factor` times its rate; `factor` must be in (0,
    /// [`MAX_RATE_SCALE`]].
    pub fn new(inner: T, factor: f64) -> Result<RateScaled<T>, String> {
        if !(factor.is_finite() && factor > 0.0 && factor <= MAX_RATE_SCALE) {
            return Err(format!(
                "the rate scale must be a number above 0 and at most {MAX_RATE_SCALE}, got {factor:?}"
            ));
        }
        Ok(RateScaled { inner, factor })
    }
}

impl<T: Traffic> Traffic for RateScaled<T> {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        let factor = self.factor;
        self.inner.next_request().map(|r| {
            r.map(|mut request| {
                if factor != 1.0 {
                    request.arrival = Nanos((request.arrival.0 as f64 / factor).round() as u64);
                }
                request
            })
        })
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
