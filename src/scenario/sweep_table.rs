//! The `[sweep]` table: the grid a sweep or a plan runs, checked.

use crate::hardware::{ComputeMode, GpuKind, LayoutSpec, MemoryMode};
use crate::profile::PrecisionMix;
use crate::schedule::Policy;
use crate::sim::{FleetSpec, MAX_FLEET_GPUS};

use super::axes::{axes, first_repeat, Axes};
use super::check::{Checker, ScenarioError};
use super::schema::{GpusValue, MixesValue, SweepTable};
use super::{RunMode, Scenario, WorkloadSpec};

/// A checked `[sweep]` table: precision mixes x GPU kinds x layouts x
/// policies x fleet sizes, each point run once per seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Precision mixes; empty runs the workload as it is.
    pub mixes: Vec<PrecisionMix>,
    /// Fleet sizes (GPUs).
    pub gpus: Vec<u32>,
    /// GPU kinds.
    pub kinds: Vec<GpuKind>,
    /// Layouts (each valid on every kind).
    pub layouts: Vec<LayoutSpec>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Replications per grid point; replication `r` runs with seed
    /// `run.seed + r`, the same seeds at every point.
    pub seeds: u32,
    /// Fit rate a fleet must reach to count as enough.
    pub target_fit: f64,
}

/// Fit rate a sweep counts as enough unless `sweep.target_fit` says otherwise.
pub const DEFAULT_TARGET_FIT: f64 = 0.99;

/// Most runs one sweep may ask for.
const MAX_RUNS: u64 = 10_000_000;

/// A scenario that cannot be swept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotSweepable {
    /// The fill experiment is not a replay.
    #[error("run.mode = \"fill\" is for `aimsim simulate`; sweeps and plans replay the workload over time")]
    FillMode,
    /// Without a `[sweep]` table a point is the fleet's one fixed group.
    #[error("a sweep point is one fixed group of GPUs, and this fleet has several groups or an elastic rule; add a [sweep] table with gpus, kinds and layouts")]
    NotOneFixedGroup,
    /// Without a `[sweep]` table there must be a group to sweep.
    #[error("the fleet has no [[fleet.gpus]] group to sweep; add a [sweep] table with gpus, kinds and layouts")]
    NoGroup,
}

impl Scenario {
    /// The sweep grid: the `[sweep]` table, or one point made of the fleet's
    /// first group, its policy and the workload as it is.
    pub fn sweep_spec(&self) -> Result<SweepSpec, NotSweepable> {
        if matches!(self.mode, RunMode::Fill(_)) {
            return Err(NotSweepable::FillMode);
        }
        if let Some(spec) = &self.sweep {
            return Ok(spec.clone());
        }
        if self.fleet.groups.len() > 1 || self.fleet.elastic.is_some() {
            return Err(NotSweepable::NotOneFixedGroup);
        }
        let group = self.fleet.groups.first().ok_or(NotSweepable::NoGroup)?;
        Ok(SweepSpec {
            mixes: Vec::new(),
            gpus: vec![group.count],
            kinds: vec![group.kind],
            layouts: vec![group.layout.clone()],
            policies: vec![self.fleet.policy],
            seeds: 1,
            target_fit: DEFAULT_TARGET_FIT,
        })
    }
}

/// Checks `[sweep]` against the fleet and workload it varies.
pub(super) fn sweep(
    check: &Checker,
    table: &SweepTable,
    fleet: &FleetSpec,
    workload: &WorkloadSpec,
) -> Result<SweepSpec, ScenarioError> {
    let first = fleet.groups.first();
    let mixes: Vec<PrecisionMix> = match &table.mixes {
        None => Vec::new(),
        Some(_) if matches!(workload, WorkloadSpec::Alibaba { .. }) => {
            return Err(check.fail(
                "sweep.mixes",
                "precision mixes apply to synthetic workloads, traces and static sets only",
            ));
        }
        Some(MixesValue::Grid { step }) => PrecisionMix::simplex(*step)
            .map_err(|e| check.fail("sweep.mixes.step", e.to_string()))?,
        Some(MixesValue::List(list)) => {
            if list.is_empty() {
                return Err(check.fail(
                    "sweep.mixes",
                    "the list is empty: the grid would have no point",
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, entry)| check.mix(&format!("sweep.mixes[{i}]"), entry))
                .collect::<Result<_, _>>()?
        }
    };
    let names_its_models = matches!(
        workload,
        WorkloadSpec::Trace { .. } | WorkloadSpec::Static { .. }
    );
    if let Some(twice) = first_repeat(&mixes) {
        return Err(check.fail("sweep.mixes", format!("lists {twice} twice")));
    }
    if names_its_models && mixes.iter().any(|m| m.as_pure().is_none()) {
        return Err(check.fail(
            "sweep.mixes",
            "a trace or a static set takes pure mixes only ({ fp16 = 1 }, { int8 = 1 }, { int4 = 1 }): each puts every request at that precision",
        ));
    }
    let gpus: Vec<u32> = match &table.gpus {
        None => vec![first.map(|g| g.count).ok_or_else(|| {
            check.fail(
                "sweep.gpus",
                "needed: the fleet has no [[fleet.gpus]] group",
            )
        })?],
        Some(GpusValue::List(list)) => list.clone(),
        Some(GpusValue::Range { from, to, step }) => {
            let step = step.unwrap_or(1);
            if step == 0 || from > to {
                return Err(check.fail(
                    "sweep.gpus",
                    format!("range from {from} to {to} by {step} is empty"),
                ));
            }
            (*from..=*to).step_by(step as usize).collect()
        }
    };
    if let Some(twice) = first_repeat(&gpus) {
        return Err(check.fail("sweep.gpus", format!("lists {twice} twice")));
    }
    if gpus.is_empty() || gpus.iter().any(|&g| g == 0 || g > MAX_FLEET_GPUS) {
        return Err(check.fail(
            "sweep.gpus",
            format!("needs at least one fleet size, each between 1 and {MAX_FLEET_GPUS}"),
        ));
    }
    let Axes {
        kinds,
        layouts,
        policies,
    } = axes(
        check,
        "sweep",
        table.kinds.as_deref(),
        table.layouts.as_deref(),
        table.policies.as_deref(),
        (
            first.map_or(GpuKind::Mi300x, |g| g.kind),
            first.map_or(LayoutSpec::Mode(ComputeMode::Spx, MemoryMode::Nps1), |g| {
                g.layout.clone()
            }),
            fleet.policy,
        ),
    )?;
    let seeds = table.seeds.unwrap_or(1);
    if seeds == 0 {
        return Err(check.fail("sweep.seeds", "must be at least 1"));
    }
    let points = mixes.len().max(1) * gpus.len() * kinds.len() * layouts.len() * policies.len();
    if points as u64 * u64::from(seeds) > MAX_RUNS {
        return Err(check.fail(
            "sweep",
            format!("{points} grid points x {seeds} seeds is more than {MAX_RUNS} runs; split the study"),
        ));
    }
    let target_fit = table.target_fit.unwrap_or(DEFAULT_TARGET_FIT);
    if !(target_fit > 0.0 && target_fit <= 1.0) {
        return Err(check.fail(
            "sweep.target_fit",
            format!("must be in (0, 1], got {target_fit:?}"),
        ));
    }
    Ok(SweepSpec {
        mixes,
        gpus,
        kinds,
        layouts,
        policies,
        seeds,
        target_fit,
    })
}
