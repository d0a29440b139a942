//! SLO-aware capacity plans: for inference traffic and latency targets, the
//! fewest GPUs of each kind, layout and precision (under each placement
//! policy) whose replicas serve the traffic within the targets, found with
//! the request-level simulator ([`crate::serve`]) and placed by the same
//! scheduler as every other run.
//!
//! One plan is a grid of [`Cell`]s (kind x layout x precision x policy x
//! rate); each cell is searched on its own ([`search`]), in parallel, and
//! gives the same answer at any thread count. The search, in four stages:
//!
//! Every simulation replays the recorded requests and runs until the last
//! one has finished: a request arriving just before the traffic's end is
//! measured like any other, not counted a miss for want of time.
//!
//! 1. **Floors** ([`bounds`]): each measured request (arriving after the
//!    warm-up) alone on an idle replica; if fewer than the SLO's share of
//!    requests could meet the targets even so, the cell is unreachable,
//!    with the reason, and nothing is searched.
//! 2. **Isolated replicas**: per model, the fewest replicas, each alone on
//!    its own device, that meet the SLO on that model's traffic (probe at
//!    the performance model's throughput bound, double until met, then
//!    bisect; the answer `n` is met and `n - 1` is checked not to be).
//! 3. **Packed check**: all models' replicas, each given the engine's
//!    memory setting ([`crate::serve::ReplicaMemory`]), are placed by the
//!    cell's policy on the fewest GPUs that hold them, and the whole
//!    traffic is simulated on that fleet. Co-tenants of a device slow each
//!    other, so a model that misses the SLO then, under the `profile`
//!    setting, reserves a larger share of its device's memory (a quarter
//!    more, plus 5 points of the partition, given to its engine too), which
//!    leaves fewer co-tenants beside it; once it reserves a whole partition,
//!    or under any other setting, it gets an eighth more replicas instead;
//!    the fleet is packed and simulated again. The answer keeps where
//!    every replica went, so it can be written as a scenario and replayed.
//! 4. **Trim**: one GPU less is tried, first with the same replicas
//!    reserving less room (cut by a fifth at a time until they fit), then
//!    dropping replicas (never below a model's isolated minimum, the model
//!    with most slack first) until the rest fit, and simulated; a success
//!    becomes the answer and the trim goes on, a failure ends the search.
//!    So an answer of `G` GPUs was met in simulation and `G - 1` was tried
//!    (one or two candidates) and missed or could not be placed, both
//!    recorded in the cell's steps; this is not a proof that no other
//!    configuration of `G - 1` GPUs meets the SLO.

pub mod bounds;
pub mod evaluate;
pub mod mixed;
pub mod outcome;
pub mod search;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::hardware::{GpuKind, LayoutSpec, NodeShape};
use crate::perf::{Efficiency, MeasuredSet};
use crate::profile::{ArchitectureTable, Catalog, Precision};
use crate::serve::traffic::Recorded;
use crate::serve::ServingPolicy;
use crate::serve::{EngineConfig, Routing, Slo};
use crate::time::Nanos;

pub use evaluate::{Evaluation, ModelResult};
pub use outcome::{CellPlan, SearchStep, Stage, Verdict};

/// Most GPUs one cell's search may use (a plan's `max_gpus` is at most this).
pub const MAX_PLAN_GPUS: u32 = 4096;

/// Everything a plan holds fixed across its cells.
pub struct PlanContext<'a> {
    /// The profiles.
    pub catalog: &'a Catalog,
    /// Model architectures for the performance model.
    pub architectures: &'a ArchitectureTable,
    /// Measured step times used instead of the model where they apply.
    pub measured: Option<&'a MeasuredSet>,
    /// The performance model's fitted efficiencies.
    pub efficiency: Efficiency,
    /// The engine every replica runs.
    pub engine: EngineConfig,
    /// How requests pick a replica.
    pub routing: Routing,
    /// The latency targets every model must meet.
    pub slo: Slo,
    /// Seed of routing draws.
    pub seed: u64,
    /// Requests arriving before this are served but not measured.
    pub warmup: Nanos,
    /// Most requests in the system at once (`run.max_in_system`).
    pub max_in_system: u64,
    /// Most GPUs a cell may use before the search gives up.
    pub max_gpus: u32,
    /// The servers the cell's GPUs sit in.
    pub node: NodeShape,
}

/// One point of a plan's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// GPU kind.
    pub kind: GpuKind,
    /// How every GPU is partitioned.
    pub layout: LayoutSpec,
    /// Precision of every replica.
    pub precision: Precision,
    /// Placement policy.
    pub policy: ServingPolicy,
    /// Index into the plan's traffic (one recording per rate).
    pub traffic: usize,
}

/// Traffic at one rate.
#[derive(Debug, Clone)]
pub struct RatedTraffic {
    /// The rate multiplier it was recorded at.
    pub rate_scale: f64,
    /// The requests.
    pub recorded: Recorded,
}

/// Why a plan cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A request names a precision: the plan chooses it.
    #[error(
        "traffic target `{0}` names a precision; a plan chooses the precision, so leave it out"
    )]
    TargetPrecision(String),
    /// No traffic.
    #[error("the traffic has no request to plan for")]
    NoTraffic,
    /// The traffic recordings name different models.
    #[error("the traffic at every rate must name the same models")]
    TargetsDiffer,
}

/// The models `traffic` asks for, which a plan serves; an error when a
/// target names a precision (the plan chooses it).
pub fn planned_models(traffic: &Recorded) -> Result<Vec<String>, PlanError> {
    traffic
        .targets()
        .iter()
        .map(|t| match t.precision {
            Some(_) => Err(PlanError::TargetPrecision(t.to_string())),
            None => Ok(t.model.clone()),
        })
        .collect()
}

/// `traffic` split by target: one recording per model, in target order.
pub fn per_model(traffic: &Recorded) -> Vec<Recorded> {
    (0..traffic.targets().len() as u32)
        .map(|m| traffic.only(m))
        .collect()
}

/// Searches every cell, in parallel; `progress` is called with the cells
/// done so far after each one. The result is in `cells` order and the same
/// at any thread count.
pub fn plan(
    context: &PlanContext,
    cells: &[Cell],
    traffic: &[RatedTraffic],
    progress: impl Fn(usize) + Sync,
) -> Result<Vec<CellPlan>, PlanError> {
    let first = traffic.first().ok_or(PlanError::NoTraffic)?;
    let models = planned_models(&first.recorded)?;
    if traffic
        .iter()
        .any(|t| t.recorded.targets() != first.recorded.targets())
    {
        return Err(PlanError::TargetsDiffer);
    }
    if traffic.iter().all(|t| t.recorded.requests().is_empty()) {
        return Err(PlanError::NoTraffic);
    }
    let per_model: Vec<Vec<Recorded>> = traffic.iter().map(|t| per_model(&t.recorded)).collect();
    let done = AtomicUsize::new(0);
    Ok(cells
        .par_iter()
        .map(|cell| {
            let plan = search::search_cell(
                context,
                cell,
                &models,
                &traffic[cell.traffic].recorded,
                &per_model[cell.traffic],
            );
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            plan
        })
        .collect())
}
