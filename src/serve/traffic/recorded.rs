//! Traffic held in memory: read once from any source, replayed as often as
//! a search needs, whole or one target at a time.

use std::sync::Arc;

use crate::workload::WorkloadError;

use super::{InferenceRequest, Target, Traffic};

/// Most requests a plan holds in memory, over all its recordings: 2^23
/// (8.4 M). A request takes 24 bytes; a plan holds each recording, its
/// split by model and one time-scaled copy per search thread, so its
/// requests take under 1 GB. A plan replays its traffic hundreds of
/// times: more requests than this would take hours.
pub const MAX_RECORDED: usize = 1 << 23;

/// A request stream kept in memory.
#[derive(Debug, Clone)]
pub struct Recorded {
    requests: Arc<Vec<InferenceRequest>>,
    targets: Arc<[Target]>,
}

impl Recorded {
    /// Reads `traffic` to its end; fails on its first bad record or past
    /// `limit` requests (at most [`MAX_RECORDED`] over a plan).
    pub fn record(traffic: &mut dyn Traffic, limit: usize) -> Result<Recorded, WorkloadError> {
        let mut requests = Vec::new();
        while let Some(request) = traffic.next_request() {
            if requests.len() == limit {
                return Err(WorkloadError {
                    source_name: "traffic".into(),
                    line: None,
                    message: format!(
                        "more than {limit} requests; a plan holds at most {MAX_RECORDED} over all its rates (shorten run.horizon or lower the rates)"
                    ),
                });
            }
            requests.push(request?);
        }
        requests.shrink_to_fit();
        Ok(Recorded {
            requests: Arc::new(requests),
            targets: traffic.targets().into(),
        })
    }

    /// How many requests it holds.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
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
            requests: Arc::new(requests),
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
            requests: Arc::new(requests),
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
        let recorded = Recorded::record(&mut Listed(listed.clone(), targets.to_vec()), 3).unwrap();
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

    #[test]
    fn a_recording_past_its_limit_is_refused_with_the_limit() {
        let targets = vec![Target {
            model: "a".into(),
            precision: None,
        }];
        let listed: Vec<_> = (0..5).map(|i| request(i, 0)).collect();
        let error = Recorded::record(&mut Listed(listed.clone(), targets.clone()), 4).unwrap_err();
        assert!(error.message.contains("more than 4 requests"), "{error}");
        let whole = Recorded::record(&mut Listed(listed, targets), 5).unwrap();
        assert_eq!(whole.len(), 5);
    }
}
