//! Running grid points: one scenario variant per point, one run per seed,
//! in parallel.

use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::profile::{Catalog, Precision};
use crate::scenario::{Scenario, SourceError, Survey, SweepSpec, WorkloadSource, WorkloadSpec};
use crate::sim::{ElasticSpec, FleetSpec, RunResult, ELASTIC_CAP};
use crate::workload::alibaba::TraceGpu;

use super::grid::{cells, Cell, GridShard};

/// What one run of one grid point measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Grid index of the point.
    pub cell: usize,
    /// Fleet size run (for elastic runs: the cap).
    pub gpus: u32,
    /// Replication number, from 0.
    pub replication: u32,
    /// Seed used (`run.seed + replication`).
    pub seed: u64,
    /// Arrivals in the measured window.
    pub arrivals: u64,
    /// Placed.
    pub placed: u64,
    /// Rejected for lack of room now.
    pub rejected_no_capacity: u64,
    /// Rejected because they can never fit this fleet.
    pub rejected_never_fits: u64,
    /// placed / arrivals.
    pub fit_rate: f64,
    /// Time-weighted mean of GPUs holding a replica.
    pub gpus_busy_mean: f64,
    /// Peak of GPUs holding a replica.
    pub gpus_busy_peak: u32,
    /// Peak of GPUs online (an elastic fleet's size).
    pub gpus_online_peak: u32,
    /// Time-weighted mean memory utilisation.
    pub utilisation_mean: f64,
    /// Time-weighted mean fragmentation.
    pub fragmentation_mean: f64,
    /// GPU-hours of GPUs online.
    pub gpu_hours_online: f64,
}

impl RunRow {
    fn new(cell: usize, gpus: u32, replication: u32, seed: u64, result: &RunResult) -> RunRow {
        let s = &result.summary;
        let t = &s.totals;
        RunRow {
            cell,
            gpus,
            replication,
            seed,
            arrivals: t.arrived,
            placed: t.placed,
            rejected_no_capacity: t.rejected[0],
            rejected_never_fits: t.rejected[1],
            fit_rate: t.fit_rate(),
            gpus_busy_mean: s.gpus_busy_mean,
            gpus_busy_peak: s.gpus_busy_peak,
            gpus_online_peak: s.gpus_online_peak,
            utilisation_mean: s.utilisation_mean,
            fragmentation_mean: s.fragmentation_mean,
            gpu_hours_online: s.gpu_hours_online,
        }
    }
}

/// A run that failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The workload could not be read or built.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// No request arrives in a run's measured window.
    #[error("{0}: no request arrives in the measured window (check run.warmup, run.horizon and the workload)")]
    NoArrivals(String),
}

/// What a trace's survey depends on: what a trace GPU becomes, and the
/// precision every row is put at, if any.
type TraceKey = (TraceGpu, Option<Precision>);

/// Most requests of a static workload whose bin-packing bounds a plan
/// computes (16 bytes each).
pub const MAX_STATIC_DEMANDS: usize = 10_000_000;

/// Runs variants of a base scenario.
pub struct Sweeper<'a> {
    base: &'a Scenario,
    catalog: &'a Catalog,
    scenario_dir: &'a Path,
    trace: Option<&'a Path>,
    /// A trace's survey depends only on what a trace GPU becomes and on a
    /// precision override: read it once per distinct pair.
    trace_surveys: Mutex<Vec<(TraceKey, Survey)>>,
}

impl<'a> Sweeper<'a> {
    /// A sweeper over `base`; `scenario_dir` and `trace` locate a trace.
    pub fn new(
        base: &'a Scenario,
        catalog: &'a Catalog,
        scenario_dir: &'a Path,
        trace: Option<&'a Path>,
    ) -> Self {
        Sweeper {
            base,
            catalog,
            scenario_dir,
            trace,
            trace_surveys: Mutex::new(Vec::new()),
        }
    }

    /// The base scenario with the cell's mix and policy, and `fleet` on the
    /// base scenario's nodes.
    fn variant(&self, cell: &Cell, fleet: FleetSpec, seed: u64) -> Scenario {
        let mut scenario = self.base.clone();
        scenario.seed = seed;
        scenario.fleet = fleet.on_nodes(self.base.fleet.node);
        if let Some(mix) = cell.mix {
            match &mut scenario.workload {
                WorkloadSpec::Synthetic(spec) => spec.precision_mix = mix,
                workload => {
                    let pure = mix.as_pure().expect("checked: pure mixes only");
                    workload.override_precision(pure);
                }
            }
        }
        scenario
    }

    /// A fixed fleet of `gpus` GPUs of the cell's kind and layout.
    pub fn fixed_fleet(cell: &Cell, gpus: u32) -> FleetSpec {
        FleetSpec::uniform(cell.kind, gpus, cell.layout.clone(), cell.policy)
    }

    /// An empty fleet that adds a GPU of the cell's kind and layout whenever
    /// nothing fits, never releasing one: its peak is the GPUs the policy
    /// needs to place everything that can fit.
    pub fn elastic_fleet(cell: &Cell) -> FleetSpec {
        FleetSpec {
            groups: Vec::new(),
            node: crate::hardware::NodeShape::REFERENCE,
            elastic: Some(ElasticSpec {
                kind: cell.kind,
                layout: cell.layout.clone(),
                max_gpus: ELASTIC_CAP,
                release_after: None,
            }),
            policy: cell.policy,
        }
    }

    /// Runs `cell` once on `fleet` with replication `replication`.
    pub fn run(
        &self,
        cell: &Cell,
        fleet: FleetSpec,
        replication: u32,
    ) -> Result<RunRow, SweepError> {
        let seed = self.base.seed.wrapping_add(u64::from(replication));
        let gpus = fleet
            .elastic
            .as_ref()
            .map_or(fleet.initial_gpus(), |e| e.max_gpus);
        let scenario = self.variant(cell, fleet, seed);
        let source = WorkloadSource::new(&scenario, self.catalog, self.scenario_dir, self.trace)?;
        let survey = self.survey(&scenario, &source)?;
        // Sweeps read the summary only: no time series.
        let mut config = scenario.run_config(survey.last_arrival);
        config.interval = None;
        let result = source.replay(seed, &survey, config, &mut |_| {})?;
        if result.summary.totals.arrived == 0 {
            return Err(SweepError::NoArrivals(self.base.name.clone()));
        }
        Ok(RunRow::new(cell.index, gpus, replication, seed, &result))
    }

    fn survey(&self, scenario: &Scenario, source: &WorkloadSource) -> Result<Survey, SweepError> {
        let key = match &scenario.workload {
            WorkloadSpec::Synthetic(_) | WorkloadSpec::Static { .. } => {
                return Ok(source.survey(false)?)
            }
            WorkloadSpec::Trace { precision, .. } => (scenario.trace_gpu(), *precision),
            WorkloadSpec::Alibaba { .. } => (scenario.trace_gpu(), None),
        };
        let cached = self
            .trace_surveys
            .lock()
            .expect("no panic holds the lock")
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.clone());
        if let Some(survey) = cached {
            return Ok(survey);
        }
        let survey = source.survey(false)?;
        self.trace_surveys
            .lock()
            .expect("no panic holds the lock")
            .push((key, survey.clone()));
        Ok(survey)
    }

    /// Runs every grid point of `spec` in `shard` once per seed, in
    /// parallel; rows come back in (point, replication) order. `tick` is
    /// called after each run.
    pub fn sweep(
        &self,
        spec: &SweepSpec,
        shard: GridShard,
        tick: &(dyn Fn() + Sync),
    ) -> Result<Vec<RunRow>, SweepError> {
        let tasks: Vec<(Cell, u32)> = cells(spec)
            .into_iter()
            .filter(|cell| shard.contains(cell.index))
            .flat_map(|cell| (0..spec.seeds).map(move |r| (cell.clone(), r)))
            .collect();
        tasks
            .par_iter()
            .map(|(cell, replication)| {
                let gpus = cell.gpus.expect("sweep cells have a fleet size");
                let row = self.run(cell, Self::fixed_fleet(cell, gpus), *replication);
                tick();
                row
            })
            .collect()
    }

    /// The demands a static workload makes under replication
    /// `replication`, in arrival order: every request present at the end,
    /// so that bin-packing bounds apply. That is a synthetic workload whose
    /// requests all arrive at once, a static set, or a trace (aimsim's or
    /// the Alibaba one) in which no request departs. `None` otherwise, or
    /// past [`MAX_STATIC_DEMANDS`] requests.
    pub fn static_demands(
        &self,
        cell: &Cell,
        replication: u32,
    ) -> Result<Option<Vec<crate::schedule::Demand>>, SweepError> {
        if let WorkloadSpec::Synthetic(spec) = &self.base.workload {
            if spec.arrivals != crate::workload::synthetic::ArrivalProcess::AllAtOnce {
                return Ok(None);
            }
        }
        let seed = self.base.seed.wrapping_add(u64::from(replication));
        let scenario = self.variant(cell, Self::elastic_fleet(cell), seed);
        let source = WorkloadSource::new(&scenario, self.catalog, self.scenario_dir, self.trace)?;
        let mut workload = source.open(seed)?;
        let mut demands = Vec::new();
        while let Some(request) = workload.next_request() {
            let request = request.map_err(SourceError::from)?;
            if request.lifetime.is_some() || demands.len() == MAX_STATIC_DEMANDS {
                return Ok(None);
            }
            demands.push(request.demand);
        }
        Ok(Some(demands))
    }

    /// Runs `fleet` for `cell` once per seed, in parallel, in replication order.
    pub fn replicate(
        &self,
        cell: &Cell,
        fleet: &FleetSpec,
        seeds: u32,
    ) -> Result<Vec<RunRow>, SweepError> {
        (0..seeds)
            .into_par_iter()
            .map(|r| self.run(cell, fleet.clone(), r))
            .collect()
    }
}
