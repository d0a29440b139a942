//! Capacity plans: for each grid point, the smallest fleet whose fit rate
//! reaches a target, found by bisection on the fleet size, beside the peak
//! of an elastic fleet and, for static workloads, bin-packing lower bounds.

use rayon::prelude::*;

use crate::scenario::{SourceError, SweepSpec};
use crate::schedule::Demand;
use crate::sim::{FleetError, MAX_FLEET_GPUS};

use super::bounds::{l1, l2};
use super::grid::{plan_cells, Cell};
use super::run::{RunRow, SweepError, Sweeper};
use super::stats::Estimate;

/// Which estimate of the fit rate must reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitCriterion {
    /// The mean over seeds.
    Mean,
    /// The lower end of its 95% confidence interval (stricter).
    LowerBound,
}

impl FitCriterion {
    /// The value compared with the target.
    pub fn value(self, estimate: &Estimate) -> f64 {
        match self {
            FitCriterion::Mean => estimate.mean,
            FitCriterion::LowerBound => estimate.lower(),
        }
    }

    /// `mean` or `lower`.
    pub fn name(self) -> &'static str {
        match self {
            FitCriterion::Mean => "mean",
            FitCriterion::LowerBound => "lower",
        }
    }
}

/// What a plan found for one grid point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// This many GPUs reach the target; one fewer does not.
    Gpus(u32),
    /// Even an unbounded fleet does not: too many requests can never fit.
    Unreachable,
    /// No fleet up to this size reached the target (the search stops there).
    NotFoundUpTo(u32),
}

impl Needed {
    /// The GPU count, when found.
    pub fn gpus(self) -> Option<u32> {
        match self {
            Needed::Gpus(g) => Some(g),
            _ => None,
        }
    }
}

impl std::fmt::Display for Needed {
    /// `76`, `unreachable`, `> 1000000`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Needed::Gpus(g) => write!(f, "{g}"),
            Needed::Unreachable => f.write_str("unreachable"),
            Needed::NotFoundUpTo(n) => write!(f, "> {n}"),
        }
    }
}

/// Bin-packing lower bounds on the GPUs a static workload needs (means
/// over seeds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticBounds {
    /// ceil(total memory / memory of one GPU's partitions).
    pub l1: f64,
    /// The Martello-Toth L2 bound on partitions, divided by partitions per
    /// GPU and rounded up (only for layouts whose partitions are equal).
    pub l2: Option<f64>,
}

/// The plan of one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    /// The grid point (without a fleet size).
    pub cell: Cell,
    /// The smallest fleet that reaches the target.
    pub needed: Needed,
    /// The fit rate at `needed`.
    pub fit: Option<Estimate>,
    /// The fit rate of an unbounded elastic fleet: the share of requests
    /// that can fit this GPU kind and layout at all.
    pub reachable: Estimate,
    /// GPUs an elastic fleet (adding one whenever nothing fits) brings online.
    pub elastic_peak: Estimate,
    /// Bounds, for static workloads.
    pub bounds: Option<StaticBounds>,
    /// Simulation runs the plan took.
    pub runs: u64,
    /// Every fleet size the search ran, with its fit rate, smallest first.
    pub evaluated: Vec<(u32, Estimate)>,
}

/// Plans every point of `spec` (without its fleet sizes), in parallel;
/// rows come back in grid order. `tick` is called after each point.
pub fn plan(
    sweeper: &Sweeper,
    spec: &SweepSpec,
    target: f64,
    criterion: FitCriterion,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<PlanRow>, SweepError> {
    let cells: Vec<Cell> = plan_cells(spec);
    cells
        .par_iter()
        .map(|cell| {
            let row = plan_cell(sweeper, cell, spec.seeds, target, criterion);
            tick();
            row
        })
        .collect()
}

/// Plans one grid point: measure an elastic fleet, then bisect on the size
/// of a fixed one. Assumes the fit rate grows with the fleet (it can dip by
/// noise; the fit at the size found is reported).
pub fn plan_cell(
    sweeper: &Sweeper,
    cell: &Cell,
    seeds: u32,
    target: f64,
    criterion: FitCriterion,
) -> Result<PlanRow, SweepError> {
    let elastic = sweeper.replicate(cell, &Sweeper::elastic_fleet(cell), seeds)?;
    let reachable = Estimate::of(&elastic.iter().map(|r| r.fit_rate).collect::<Vec<_>>());
    let elastic_peak = Estimate::of(
        &elastic
            .iter()
            .map(|r| f64::from(r.gpus_online_peak))
            .collect::<Vec<_>>(),
    );
    let bounds = static_bounds(sweeper, cell, seeds)?;
    let mut runs = u64::from(seeds);
    let mut fits: Vec<(u32, Estimate)> = Vec::new();
    let mut fit_at = |gpus: u32, runs: &mut u64| -> Result<Estimate, SweepError> {
        if let Some((_, e)) = fits.iter().find(|(n, _)| *n == gpus) {
            return Ok(*e);
        }
        let rows: Vec<RunRow> =
            sweeper.replicate(cell, &Sweeper::fixed_fleet(cell, gpus), seeds)?;
        *runs += u64::from(seeds);
        let estimate = Estimate::of(&rows.iter().map(|r| r.fit_rate).collect::<Vec<_>>());
        fits.push((gpus, estimate));
        Ok(estimate)
    };
    let enough = |e: &Estimate| criterion.value(e) >= target;
    let mut needed = Needed::Unreachable;
    if enough(&reachable) {
        let peak = elastic
            .iter()
            .map(|r| r.gpus_online_peak)
            .max()
            .unwrap_or(1)
            .clamp(1, MAX_FLEET_GPUS);
        // Double from the elastic peak until the target is met; `lo` is the
        // largest size known to fall short (0: none tried).
        let (mut lo, mut hi) = (0, peak);
        let mut found = false;
        loop {
            if enough(&fit_at(hi, &mut runs)?) {
                found = true;
                break;
            }
            if hi == MAX_FLEET_GPUS {
                break;
            }
            lo = hi;
            hi = hi.saturating_mul(2).min(MAX_FLEET_GPUS);
        }
        needed = Needed::NotFoundUpTo(MAX_FLEET_GPUS);
        if found {
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if enough(&fit_at(mid, &mut runs)?) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            needed = Needed::Gpus(hi);
        }
    }
    let fit = match needed {
        Needed::Gpus(n) => Some(fit_at(n, &mut runs)?),
        _ => None,
    };
    fits.sort_by_key(|(n, _)| *n);
    Ok(PlanRow {
        cell: cell.clone(),
        needed,
        fit,
        reachable,
        elastic_peak,
        bounds,
        runs,
        evaluated: fits,
    })
}

/// The bounds of a static workload, as means over seeds; `None` otherwise.
fn static_bounds(
    sweeper: &Sweeper,
    cell: &Cell,
    seeds: u32,
) -> Result<Option<StaticBounds>, SweepError> {
    let layout = cell
        .layout
        .build(cell.kind)
        .map_err(|e| SourceError::from(FleetError::from(e)))?;
    let partitions = layout.partitions();
    let gpu_capacity: u64 = partitions.iter().map(|p| p.0).sum();
    let largest = layout.largest_partition().0;
    let uniform = partitions.iter().all(|p| p.0 == largest);
    let (mut l1_sum, mut l2_sum) = (0.0, 0.0);
    for replication in 0..seeds {
        let Some(demands) = sweeper.static_demands(cell, replication)? else {
            return Ok(None);
        };
        // Each partition a request is charged on is one item; requests that
        // can never fit a partition of this layout are left out.
        let items: Vec<u64> = demands
            .iter()
            .filter(|d: &&Demand| d.size.0 <= largest)
            .flat_map(|d| std::iter::repeat_n(d.size.0, d.shards() as usize))
            .collect();
        l1_sum += l1(&items, gpu_capacity) as f64;
        if uniform {
            l2_sum += l2(&items, largest).div_ceil(partitions.len() as u64) as f64;
        }
    }
    let n = f64::from(seeds);
    Ok(Some(StaticBounds {
        l1: l1_sum / n,
        l2: uniform.then_some(l2_sum / n),
    }))
}
