//! Placement of model replicas onto the partitions of a set of GPUs.
//!
//! A [`Scheduler`] owns the GPUs' [`GpuState`](crate::partition::GpuState)s
//! and every live replica. [`Scheduler::schedule`] places a
//! [`PlacementRequest`] with a [`Policy`] chosen by name (filter, then
//! score; see [`policies`] for the registered ones and how to add one) or
//! returns a [`Rejection`] that says whether the request could never fit
//! these GPUs or only not now, and why. [`Scheduler::unschedule`] frees
//! exactly what was charged.

mod demand_mix;
mod fallback;
mod index;
mod invariants;
mod node;
pub mod policies;
mod request;
mod scheduler;
mod search;

pub use demand_mix::DemandMix;
pub use fallback::schedule_at_lower_precision;
pub use invariants::InvariantError;
pub use node::NodeRule;
pub use policies::{ConfiguredPolicy, Policy, Scope, UnknownPolicy};
pub use request::{
    Demand, PartitionRef, PerGpu, Placement, PlacementRequest, RejectCode, RejectReason, Rejection,
    ReplicaId, Shard, MAX_SHARDS,
};
pub use scheduler::{NodeUsage, OnlineError, Scheduler, SearchMode, UnscheduleError};

#[cfg(test)]
mod tests;
