//! Traffic held in memory: read once from any source, replayed as often as
//! a search needs, whole or one target at a time.

use std::sync::Arc;

use crate::workload::WorkloadError;

use super::{InferenceRequest, Target, Traffic};

/// Most requests a recording holds (about 1.6 GB at 16 bytes each).
pub const MAX_RECORDED: usize = 100_000_000;

/// A request stream kept in memory.
#[derive(Debug, Clone)]
pub struct Recorded {
    requests: Arc<[InferenceRequest]>,
    targets: Arc<[Target]>,
}

impl Recorded {
    /// Reads `traffic` to its end; fails on its first bad record or past
    /// [`MAX_RECORDED`] requests.
    pub fn record(traffic: &mut dyn Traffic) -> Result<Recorded, WorkloadError> {
        let mut requests = Vec::new();
        while let Some(request) = traffic.next_request() {
            if requests.len() == MAX_RECORDED {
                return Err(WorkloadError {
                    source_name: "traffic".into(),
                    line: None,
                    message: format!(
                        "more than {MAX_RECORDED} requests; a plan replays at most that many (shorten run.horizon)"
                    ),
                });
            }
            requests.push(request?);
        }
        Ok(Recorded {
            requests: requests.into(),
            targets: traffic.targets().into(),
        })
    }

    /// The requests for target `target` alone, renumbered as target 0.
    pub fn only(&self, target: u32) -> Recorded {
        let requests: Vec<InferenceRequest> = self
            .requests
            .iter()
            .filter(|r| r.target == target)
            .map(|r| InferenceRequest { target: 0, ..*r })
            .collect();
        Recorded {
            requests: requests.into(),
            targets: vec![self.targets[target as usize].clone()].into(),
        }
    }

    /// The first `limit` requests with every arrival time multiplied by
    /// `factor` (above 1: slower): the same requests at `1 / factor` times
    /// the rate.
    pub fn time_scaled(&self, factor: f64, limit: usize) -> Recorded {
        let requests: Vec<InferenceRequest> = self
            .requests
            .iter()
            .take(limit)
            .map(|r| InferenceRequest {
                arrival: crate::time::Nanos((r.arrival.0 as f64 * factor).round() as u64),
                ..*r
            })
            .collect();
        Recorded {
            requests: requests.into(),
            targets: self.targets.clone(),
        }
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> &[InferenceRequest] {
        &self.requests
    }

    /// The targets requests refer to.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// A stream replaying the recording from its start.
    pub fn replay(&self) -> Replay<'_> {
        Replay {
            recorded: self,
            next: 0,
        }
    }
}

/// A recording played back.
pub struct Replay<'a> {
    recorded: &'a Recorded,
    next: usize,
}

impl Traffic for Replay<'_> {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        let request = self.recorded.requests.get(self.next)?;
        self.next += 1;
        Some(Ok(*request))
    }

    fn targets(&self) -> &[Target] {
        &self.recorded.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Nanos;

    struct Listed(Vec<InferenceRequest>, Vec<Target>);

    impl Traffic for Listed {
        fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
            (!self.0.is_empty()).then(|| Ok(self.0.remove(0)))
        }
        fn targets(&self) -> &[Target] {
            &self.1
        }
    }

    fn request(at: u64, target: u32) -> InferenceRequest {
        InferenceRequest {
            arrival: Nanos(at),
            target,
            prompt: 10 + target,
            output: 5,
            priority: 0,
        }
    }

    #[test]
    fn replays_every_request_and_splits_by_target() {
        let targets = ["a", "b"].map(|m| Target {
            model: m.into(),
            precision: None,
        });
        let listed = vec![request(1, 0), request(2, 1), request(3, 0)];
        let recorded = Recorded::record(&mut Listed(listed.clone(), targets.to_vec())).unwrap();
        let mut replay = recorded.replay();
        let mut again = Vec::new();
        while let Some(r) = replay.next_request() {
            again.push(r.unwrap());
        }
        assert_eq!(again, listed);
        let b = recorded.only(1);
        assert_eq!(b.targets()[0].model, "b");
        assert_eq!(
            b.requests(),
            &[InferenceRequest {
                target: 0,
                ..request(2, 1)
            }]
        );
        assert_eq!(recorded.only(0).requests().len(), 2);
    }
}
