//! Placement of model replicas onto the partitions of a fleet.
//!
//! A [`Scheduler`] owns the fleet's [`GpuState`](crate::partition::GpuState)s
//! and every live replica. [`Scheduler::schedule`] places a
//! [`PlacementRequest`] with a [`Policy`] chosen by name (filter, then score)
//! or returns a [`Rejection`] that says whether the request could never fit
//! this fleet or only not now, and why. [`Scheduler::unschedule`] frees
//! exactly what was charged.

mod index;
mod policy;
mod request;
mod scheduler;
mod search;

pub use policy::{Policy, Scope, UnknownPolicy};
pub use request::{
    Demand, PartitionRef, Placement, PlacementRequest, RejectCode, RejectReason, Rejection,
    ReplicaId, Shard, MAX_SHARDS,
};
pub use scheduler::{Scheduler, SearchMode, UnscheduleError, INDEX_FROM_GPUS};

#[cfg(test)]
mod tests;
