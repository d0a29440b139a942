//! Which replicas serve each target of the traffic, found on first sight,
//! and how many requests found none.

use crate::profile::Precision;

use super::deploy::ReplicaSetup;
use super::traffic::Target;

/// Replicas serving each target, resolved on first sight.
#[derive(Debug, Default)]
pub(super) struct Routes {
    /// By target index: the replicas serving it, once resolved.
    pub(super) by_target: Vec<Option<Vec<u32>>>,
    /// By target index: requests that found no replica.
    pub(super) unserved: Vec<u64>,
}

impl Routes {
    /// Finds the replicas of `setups` (of `deployments`, named model and
    /// precision) serving target `t` on first sight; whether any does.
    pub(super) fn resolve(
        &mut self,
        t: usize,
        targets: &[Target],
        setups: &[ReplicaSetup],
        deployments: &[(String, Precision)],
    ) -> bool {
        if t >= self.by_target.len() {
            self.by_target.resize(t + 1, None);
            self.unserved.resize(t + 1, 0);
        }
        if self.by_target[t].is_none() {
            let wanted = &targets[t];
            let serving: Vec<u32> = setups
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    let (model, precision) = &deployments[s.deployment as usize];
                    *model == wanted.model && wanted.precision.is_none_or(|p| p == *precision)
                })
                .map(|(i, _)| i as u32)
                .collect();
            self.by_target[t] = Some(serving);
        }
        self.by_target[t]
            .as_ref()
            .is_some_and(|serving| !serving.is_empty())
    }
}
