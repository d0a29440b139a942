//! What a placement needs to know of the traffic before it starts: each
//! target's request rate and mean prompt and output lengths, read in one
//! pass in constant memory.

use crate::time::Nanos;
use crate::workload::WorkloadError;

use super::{Target, Traffic};

/// One target's traffic in aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TargetShape {
    /// Requests per second over the traffic's span.
    pub rate: f64,
    /// Mean prompt tokens.
    pub prompt: f64,
    /// Mean output tokens.
    pub output: f64,
}

/// Every target's traffic in aggregate, in the source's target order.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficShape {
    /// The targets requests name.
    pub targets: Vec<Target>,
    /// Their aggregates, by target index.
    pub shapes: Vec<TargetShape>,
}

impl TrafficShape {
    /// Reads `traffic` to its end (or to `horizon`, the arrivals a run
    /// would see). Rates are over the span from time 0 to the horizon, or
    /// to the last arrival when there is none (at least one second).
    pub fn measure(
        traffic: &mut dyn Traffic,
        horizon: Option<Nanos>,
    ) -> Result<TrafficShape, WorkloadError> {
        let mut sums: Vec<(u64, u64, u64)> = Vec::new();
        let mut last = 0u64;
        while let Some(request) = traffic.next_request() {
            let request = request?;
            if horizon.is_some_and(|h| request.arrival >= h) {
                break;
            }
            last = request.arrival.0;
            let t = request.target as usize;
            if sums.len() <= t {
                sums.resize(t + 1, (0, 0, 0));
            }
            let s = &mut sums[t];
            s.0 += 1;
            s.1 += u64::from(request.prompt);
            s.2 += u64::from(request.output);
        }
        let targets = traffic.targets().to_vec();
        sums.resize(targets.len().max(sums.len()), (0, 0, 0));
        let span = horizon.map_or(last, |h| h.0).max(1_000_000_000) as f64 / 1e9;
        let shapes = sums
            .iter()
            .map(|&(n, prompt, output)| {
                if n == 0 {
                    return TargetShape::default();
                }
                let count = n as f64;
                TargetShape {
                    rate: count / span,
                    prompt: prompt as f64 / count,
                    output: output as f64 / count,
                }
            })
            .collect();
        Ok(TrafficShape { targets, shapes })
    }

    /// No traffic at all: every replica's predicted load is zero.
    pub fn none() -> TrafficShape {
        TrafficShape {
            targets: Vec::new(),
            shapes: Vec::new(),
        }
    }
}
