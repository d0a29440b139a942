//! Where serving replicas go: by predicted compute load, or by one of the
//! AIM memory policies, and what load each device is then predicted to
//! carry.
//!
//! A replica's predicted load on a device is the share of that device's
//! time its traffic takes: its expected request rate (its deployment's
//! share of the traffic of the targets it serves, split evenly over the
//! replicas serving them, as the router does) over the most requests per
//! second it sustains alone there, which the performance model gives for
//! the traffic's mean prompt and output lengths
//! ([`crate::perf::offline_throughput`] at the engine's `max_seqs`). A
//! device's predicted load is the sum over the replicas on it; above 1 the
//! device cannot keep up, whatever the batching.

use std::fmt;
use std::str::FromStr;

use crate::perf::{offline_throughput, ReplicaModel};
use crate::schedule::Policy;
use crate::units::Mib;

use super::deploy::DeploymentSpec;
use super::traffic::shape::TrafficShape;

/// How a serving run places its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServingPolicy {
    /// After memory fits, the device whose predicted load leaves the most
    /// headroom once the replica is added (ties: the device holding fewer
    /// replicas of the same deployment, then fewer replicas, then the
    /// lowest GPU and partition). Larger replicas are placed first.
    #[default]
    LoadAware,
    /// One of the AIM memory policies, by memory alone, in the scenario's
    /// deployment order.
    Memory(Policy),
}

impl ServingPolicy {
    /// The name of the load-aware policy.
    pub const LOAD_AWARE: &'static str = "load-aware";

    /// The policy the fleet's scheduler is built with: the memory policy,
    /// or for the load-aware one (which chooses every location itself and
    /// books it through [`crate::schedule::Scheduler::schedule_at`]) the
    /// one that never stacks while an empty GPU is left.
    pub fn scheduler_policy(self) -> Policy {
        match self {
            ServingPolicy::LoadAware => Policy::Spread,
            ServingPolicy::Memory(policy) => policy,
        }
    }

    /// Every name a scenario may give, for help and errors.
    pub fn names() -> String {
        format!("{}, {}", ServingPolicy::LOAD_AWARE, Policy::names())
    }
}

impl fmt::Display for ServingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServingPolicy::LoadAware => f.pad(ServingPolicy::LOAD_AWARE),
            ServingPolicy::Memory(policy) => f.pad(policy.name()),
        }
    }
}

impl FromStr for ServingPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case(ServingPolicy::LOAD_AWARE) {
            return Ok(ServingPolicy::LoadAware);
        }
        text.parse::<Policy>()
            .map(ServingPolicy::Memory)
            .map_err(|_| {
                format!(
                    "unknown placement policy `{text}`; expected one of {}",
                    ServingPolicy::names()
                )
            })
    }
}

/// The traffic one replica of a deployment is expected to serve.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReplicaDemand {
    /// Requests per second.
    pub rate: f64,
    /// Mean prompt tokens.
    pub prompt: f64,
    /// Mean output tokens.
    pub output: f64,
}

impl ReplicaDemand {
    /// Each deployment's per-replica demand: every target's rate split
    /// evenly over the replicas of the deployments that serve it.
    pub fn of(deployments: &[DeploymentSpec], traffic: &TrafficShape) -> Vec<ReplicaDemand> {
        let mut sums = vec![(0.0f64, 0.0f64, 0.0f64); deployments.len()];
        for (target, shape) in traffic.targets.iter().zip(&traffic.shapes) {
            let serves = |d: &DeploymentSpec| {
                d.model == target.model && target.precision.is_none_or(|p| p == d.precision)
            };
            let replicas: u64 = deployments
                .iter()
                .filter(|d| serves(d))
                .map(|d| u64::from(d.replicas))
                .sum();
            if replicas == 0 || shape.rate <= 0.0 {
                continue;
            }
            let each = shape.rate / replicas as f64;
            for (sum, _) in sums.iter_mut().zip(deployments).filter(|(_, d)| serves(d)) {
                sum.0 += each;
                sum.1 += each * shape.prompt;
                sum.2 += each * shape.output;
            }
        }
        sums.into_iter()
            .map(|(rate, prompt, output)| {
                if rate > 0.0 {
                    ReplicaDemand {
                        rate,
                        prompt: prompt / rate,
                        output: output / rate,
                    }
                } else {
                    ReplicaDemand::default()
                }
            })
            .collect()
    }

    /// The share of its device's time this demand takes on a replica
    /// modelled by `model`, alone on the device.
    pub fn load_on(&self, model: &ReplicaModel) -> f64 {
        if self.rate <= 0.0 {
            return 0.0;
        }
        let prompt = self.prompt.round().max(1.0) as u32;
        let output = self.output.round().max(1.0) as u32;
        let tokens_per_s = offline_throughput(model, prompt, output, model.limits().max_seqs, 1);
        let requests_per_s = tokens_per_s / f64::from(output);
        if requests_per_s > 0.0 {
            self.rate / requests_per_s
        } else {
            f64::INFINITY
        }
    }
}

/// Devices predicted above their capacity, and those of them a better
/// placement could relieve: holding several replicas while a device that
/// could hold one of them holds none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Imbalance {
    /// Devices predicted above their capacity.
    pub overloaded: u32,
    /// Of those, the devices holding several replicas while an empty
    /// device has room for one of them.
    pub stacked: u32,
    /// Empty devices with room for one of the stacked devices' replicas.
    pub idle: u32,
    /// The highest predicted load of any device.
    pub peak: f64,
}

impl Imbalance {
    /// Reads every device's predicted `loads`, replica `counts`, the least
    /// memory any one of its replicas needs (`needs`, `None` when it holds
    /// none) and the largest partition it could give a new replica
    /// (`room`: zero when its node's host is full).
    pub fn of(loads: &[f64], counts: &[u32], needs: &[Option<Mib>], room: &[Mib]) -> Imbalance {
        let overloaded = loads.iter().filter(|&&l| l > 1.0).count() as u32;
        let peak = loads.iter().copied().fold(0.0, f64::max);
        // The least need of a replica on a device over capacity with several.
        let stacked_needs: Vec<Mib> = (0..loads.len())
            .filter(|&d| loads[d] > 1.0 && counts[d] >= 2)
            .filter_map(|d| needs[d])
            .collect();
        // Empty devices' room, sorted: those with room for `need` are a
        // suffix.
        let mut idle_rooms: Vec<Mib> = (0..loads.len())
            .filter(|&e| counts[e] == 0)
            .map(|e| room[e])
            .collect();
        idle_rooms.sort_unstable();
        let idle_room = |need: Mib| {
            (idle_rooms.len() - idle_rooms.partition_point(|&r| r < need.max(Mib(1)))) as u32
        };
        let stacked = stacked_needs.iter().filter(|&&n| idle_room(n) > 0).count() as u32;
        let idle = stacked_needs
            .iter()
            .map(|&n| idle_room(n))
            .max()
            .unwrap_or(0);
        Imbalance {
            overloaded,
            stacked,
            idle,
            peak,
        }
    }

    /// Whether some device is over capacity with several replicas while
    /// another, empty, could take one of them.
    pub fn left_compute_idle(&self) -> bool {
        self.stacked > 0
    }
}
