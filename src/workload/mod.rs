//! Workloads: time-ordered streams of deployment requests.
//!
//! A workload yields [`DeploymentRequest`]s in arrival order, one at a time,
//! so a multi-gigabyte trace is never held whole. Sources: a seeded
//! [`synthetic`] generator, aimsim's own [`trace`] CSV, and the Alibaba
//! GPU-sharing pod trace ([`alibaba`]), and a [`static_set`] of deployments all
//! present at once. Each request belongs to a
//! [`RequestClass`] (a model at a precision, or a raw pod size) so fit rates
//! can be reported per model and per precision.

pub mod alibaba;
mod classes;
pub(crate) mod csv_rows;
mod scan;
pub mod static_set;
pub mod synthetic;
pub mod trace;

use std::fmt;

pub use classes::{ClassId, ClassTable, RequestClass};
pub use scan::{scan, WorkloadScan};

use crate::profile::{Catalog, Precision, Variant};
use crate::schedule::Demand;
use crate::time::SimTime;

/// The demand one replica of `variant` makes: its memory on each of its
/// GPUs, one partition each.
pub fn variant_demand(variant: &Variant) -> Demand {
    Demand {
        size: variant.memory,
        gpu_count: variant.gpu_count,
        partitions: 1,
        host: variant.host,
    }
}

/// One model's demand at FP16, INT8 and INT4 (by [`Precision::index`]),
/// `None` where the catalog lacks the precision: what precision fallback
/// tries.
pub(crate) type PrecisionLadder = [Option<Demand>; 3];

/// The [`PrecisionLadder`] of `model` in `catalog`.
pub(crate) fn precision_ladder(catalog: &Catalog, model: &str) -> PrecisionLadder {
    Precision::ALL.map(|p| {
        catalog
            .find(model, p)
            .ok()
            .map(|id| variant_demand(catalog.variant(id)))
    })
}

/// One deployment request: a replica that arrives, may be placed, and
/// departs after its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentRequest {
    /// When it arrives.
    pub arrival: SimTime,
    /// How long the replica lives once placed; `None` stays to the end.
    pub lifetime: Option<SimTime>,
    /// The memory it needs.
    pub demand: Demand,
    /// Its class (model and precision, or raw size), for per-class metrics.
    pub class: ClassId,
    /// Higher is admitted first among simultaneous arrivals.
    pub priority: i32,
}

/// A malformed workload record: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WorkloadError {
    /// The file (or `synthetic`).
    pub source_name: String,
    /// One-based line number, when the problem is on one line.
    pub line: Option<u64>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.source_name, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

/// A stream of deployment requests in non-decreasing arrival order.
pub trait Workload {
    /// The next request, `None` at the end, or an error for a bad record.
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>>;

    /// The classes requests refer to (it may grow while the stream is read).
    fn classes(&self) -> &ClassTable;

    /// Records read so far that were skipped rather than replayed, by cause.
    fn skipped(&self) -> Vec<Skipped> {
        Vec::new()
    }

    /// The demand of `class`'s model at `precision` instead of its own, for
    /// precision fallback; `None` if the workload does not name models or
    /// the catalog lacks that precision.
    fn demand_at(&self, _class: ClassId, _precision: Precision) -> Option<Demand> {
        None
    }
}

impl<W: Workload + ?Sized> Workload for Box<W> {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        (**self).next_request()
    }

    fn classes(&self) -> &ClassTable {
        (**self).classes()
    }

    fn skipped(&self) -> Vec<Skipped> {
        (**self).skipped()
    }

    fn demand_at(&self, class: ClassId, precision: Precision) -> Option<Demand> {
        (**self).demand_at(class, precision)
    }
}

/// Records a workload skipped for one cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The cause, for people.
    pub what: String,
    /// How many records.
    pub rows: u64,
    /// Whether the cause is a model the catalog lacks (an error unless the
    /// user asked to skip such rows).
    pub unknown_model: bool,
}
