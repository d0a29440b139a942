//! Scenario files: a run, a fleet and a workload, in TOML.
//!
//! [`Scenario::parse`] reads the text (with optional `key=value`
//! overrides), rejects unknown keys, wrong types and out-of-range values
//! with an error naming the file, the key (and line and column where the
//! TOML parser knows them) and what was expected, and returns checked
//! engine inputs. `scenarios/README.md` documents every key.

mod axes;
pub use axes::{check_price, MAX_PRICE};
mod check;
mod fleet_table;
mod overrides;
mod schema;
mod serving;
mod source;
mod sweep_table;
mod workload_table;

pub use check::ScenarioError;
pub use serving::answer;
pub use serving::{
    LengthSpec, Pace, ServePlanSpec, ServeScenario, StreamSpec, TrafficSpec, MAX_PLAN_CELLS,
    MISSING_TRACE,
};
pub use source::{SourceError, Survey, WorkloadSource};
pub use sweep_table::{NotSweepable, SweepSpec, DEFAULT_TARGET_FIT};

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::hardware::GpuKind;
use crate::profile::{Catalog, Precision};
use crate::sim::fill::FillSpec;
use crate::sim::FleetSpec;
use crate::time::SimTime;
use crate::workload::alibaba::TraceGpu;
use crate::workload::static_set::StaticDeployment;
use crate::workload::synthetic::{SyntheticSpec, MAX_REQUESTS};

use check::Checker;
use schema::ScenarioFile;

/// A checked scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name used for the report folder (the `name` key, or the file stem).
    pub name: String,
    /// Free text for the report.
    pub description: Option<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// End of the run, if fixed.
    pub horizon: Option<SimTime>,
    /// Start of the measured window.
    pub warmup: SimTime,
    /// Sampling interval of the time series, if given.
    pub interval: Option<SimTime>,
    /// Replay over time, or the fill experiment.
    pub mode: RunMode,
    /// The fleet.
    pub fleet: FleetSpec,
    /// The workload.
    pub workload: WorkloadSpec,
    /// The `[sweep]` grid, if the file has one.
    pub sweep: Option<SweepSpec>,
    /// Price per GPU-hour by kind, for cost columns.
    pub prices: BTreeMap<GpuKind, f64>,
    /// Place a request that fits nowhere at its precision at the next lower
    /// one that fits (`fleet.precision_fallback`, `--fallback`).
    pub precision_fallback: bool,
    /// What a replica is charged: its profile's memory, or its model's
    /// physical size (`workload.sizes`).
    pub sizes: Sizes,
}

/// What a replica of a catalog model is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// The profile's `memory_requirement_gb` and GPU count: the runtime's
    /// contract, the default.
    Profile,
    /// Its weights at the precision plus the catalog's headroom, split over
    /// the fewest GPUs of the fleet's kind that hold it
    /// ([`crate::profile::physical`]).
    Physical,
}

impl Scenario {
    /// The catalog this scenario's runs charge: `catalog` as is, or at
    /// physical sizes for the fleet's first GPU kind.
    pub fn sized_catalog<'c>(&self, catalog: &'c Catalog) -> std::borrow::Cow<'c, Catalog> {
        match self.sizes {
            Sizes::Profile => std::borrow::Cow::Borrowed(catalog),
            Sizes::Physical => {
                let kind = self
                    .fleet
                    .groups
                    .first()
                    .map(|g| g.kind)
                    .or(self.fleet.elastic.as_ref().map(|e| e.kind))
                    .unwrap_or(GpuKind::Mi300x);
                std::borrow::Cow::Owned(crate::profile::physical::physical_catalog(
                    catalog,
                    &crate::profile::ArchitectureTable::builtin(),
                    kind.memory(),
                ))
            }
        }
    }
}

/// What a run does with the workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunMode {
    /// Replay arrivals and departures over time.
    Replay,
    /// Draw from the workload's demand mix until requested memory reaches
    /// a share of capacity, with no departures.
    Fill(FillSpec),
}

/// Where requests come from.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadSpec {
    /// A seeded generator; an empty model list means the whole catalog.
    Synthetic(SyntheticSpec),
    /// aimsim's trace CSV.
    Trace {
        /// Path as written in the scenario (relative to the scenario's
        /// folder), if any; `--trace` overrides it.
        path: Option<String>,
        /// Skip rows whose model the catalog lacks (counted) instead of failing.
        skip_unknown_models: bool,
        /// Every row at this precision instead of its own.
        precision: Option<Precision>,
    },
    /// The Alibaba GPU-sharing pod trace.
    Alibaba {
        /// Path as written in the scenario, if any.
        path: Option<String>,
        /// Map each single-GPU pod to the closest AIM profile.
        map_to_profiles: bool,
        /// GPU whose memory a `gpu_milli` share is taken of (default: the
        /// fleet's first kind).
        gpu: Option<GpuKind>,
        /// Whether a trace GPU is a whole GPU or one partition.
        per_partition: bool,
    },
    /// Deployments all present at once, as listed.
    Static {
        /// Each model, precision and replica count.
        deployments: Vec<StaticDeployment>,
        /// Every deployment at this precision instead of its own.
        precision: Option<Precision>,
    },
}

impl WorkloadSpec {
    /// Sets every request's precision, for workloads that name models
    /// (a trace, a static set); `false` for the others.
    pub fn override_precision(&mut self, to: Precision) -> bool {
        match self {
            WorkloadSpec::Trace { precision, .. } | WorkloadSpec::Static { precision, .. } => {
                *precision = Some(to);
                true
            }
            WorkloadSpec::Synthetic(_) | WorkloadSpec::Alibaba { .. } => false,
        }
    }
}

impl Scenario {
    /// Parses and checks `text`. `file` names it in errors (and gives the
    /// default name: its stem). `overrides` are `key=value` pairs applied
    /// before checking, the value written as in TOML (`run.seed=7`,
    /// `fleet.policy="best-fit"`; a bare word is taken as a string).
    pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let raw: ScenarioFile = check::deserialize(text, file, overrides)?;
        let check = Checker { file };
        let name = report_name(&check, raw.name.as_deref(), file)?;
        let run = &raw.run;
        let horizon = run
            .horizon
            .as_deref()
            .map(|h| check.positive_duration("run.horizon", h))
            .transpose()?;
        let warmup = run
            .warmup
            .as_deref()
            .map(|w| check.duration("run.warmup", w))
            .transpose()?
            .unwrap_or_default();
        if horizon.is_some_and(|h| warmup >= h) {
            return Err(check.fail("run.warmup", "must end before run.horizon"));
        }
        let interval = run
            .interval
            .as_deref()
            .map(|i| check.positive_duration("run.interval", i))
            .transpose()?;
        if let (Some(h), Some(i)) = (horizon, interval) {
            if (h.0 - warmup.0) / i.0 > crate::sim::MAX_SAMPLES {
                return Err(check.fail(
                    "run.interval",
                    format!(
                        "gives more than {} samples over the horizon; take a longer one",
                        crate::sim::MAX_SAMPLES
                    ),
                ));
            }
        }
        for (key, given) in [
            ("run.drain", run.drain.is_some()),
            ("run.max_in_system", run.max_in_system.is_some()),
        ] {
            if given {
                return Err(check.fail(key, "applies to serving scenarios (with [traffic]) only"));
            }
        }
        let mode = match run.mode.as_deref().unwrap_or("replay") {
            "replay" => {
                if run.fill_target.is_some() || run.fill_step.is_some() {
                    return Err(
                        check.fail("run.fill_target", "applies only with run.mode = \"fill\"")
                    );
                }
                RunMode::Replay
            }
            "fill" => {
                let target = check.within(
                    "run.fill_target",
                    run.fill_target.unwrap_or(1.0),
                    1e-3,
                    10.0,
                )?;
                let step =
                    check.within("run.fill_step", run.fill_step.unwrap_or(0.05), 1e-4, target)?;
                RunMode::Fill(FillSpec { target, step })
            }
            other => {
                return Err(check.fail(
                    "run.mode",
                    format!("`{other}`; expected \"replay\" or \"fill\""),
                ))
            }
        };
        let fleet = fleet_table::fleet(&check, &raw.fleet)?;
        if matches!(mode, RunMode::Fill(_)) && fleet.elastic.is_some() {
            return Err(check.fail("fleet.elastic", "the fill experiment needs a fixed fleet"));
        }
        let workload = workload_table::workload(
            &check,
            &workload_table::workload_table(&check, &raw.workload)?,
        )?;
        let sizes = match raw.workload.get("sizes") {
            None => Sizes::Profile,
            Some(toml::Value::String(s)) if s == "profile" => Sizes::Profile,
            Some(toml::Value::String(s)) if s == "physical" => Sizes::Physical,
            Some(other) => {
                return Err(check.fail(
                    "workload.sizes",
                    format!("`{other}`; expected \"profile\" or \"physical\""),
                ))
            }
        };
        if let WorkloadSpec::Synthetic(spec) = &workload {
            let finite = spec.count.is_some();
            if horizon.is_none() && !finite && mode == RunMode::Replay {
                return Err(check.fail(
                    "run.horizon",
                    "a synthetic workload without workload.requests needs a horizon",
                ));
            }
            let expected = horizon.and_then(|h| spec.arrivals.expected_before(h));
            if !finite && expected.is_some_and(|n| n > MAX_REQUESTS as f64) {
                return Err(check.fail(
                    "run.horizon",
                    format!(
                        "gives about {:.2e} requests at this arrival rate, more than the {MAX_REQUESTS} a run may generate; shorten it or set workload.requests",
                        expected.unwrap_or_default()
                    ),
                ));
            }
        }
        let sweep = raw
            .sweep
            .as_ref()
            .map(|table| sweep_table::sweep(&check, table, &fleet, &workload))
            .transpose()?;
        let prices = axes::prices(&check, &raw.prices)?;
        Ok(Scenario {
            name,
            description: raw.description,
            seed: run.seed,
            horizon,
            warmup,
            interval,
            mode,
            fleet,
            workload,
            sweep,
            prices,
            precision_fallback: raw.fleet.precision_fallback,
            sizes,
        })
    }
}

/// A scenario's name: the `name` key, else the file's stem; it must be
/// usable as a report folder's name.
fn report_name(check: &Checker, name: Option<&str>, file: &str) -> Result<String, ScenarioError> {
    let name = name.map_or_else(
        || {
            std::path::Path::new(file)
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        },
        str::to_string,
    );
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(check.fail("name", format!("`{name}` cannot name a report folder")));
    }
    Ok(name)
}

impl Scenario {
    /// Checks that every model a synthetic workload or a static set lists
    /// is in `catalog` at every precision it draws, naming the entry's key
    /// (`workload.models[1]`, `workload.deployments[0].model`) in `file`.
    pub fn check_models(&self, catalog: &Catalog, file: &str) -> Result<(), ScenarioError> {
        let check = Checker { file };
        let lookup = |key: String, model: &str, precision: Precision| {
            catalog
                .find(model, precision)
                .map(|_| ())
                .map_err(|e| check.fail(&key, e.to_string()))
        };
        match &self.workload {
            WorkloadSpec::Synthetic(spec) => {
                for (i, model) in spec.models.iter().enumerate() {
                    for precision in Precision::ALL {
                        if spec.precision_mix.share(precision) > 0.0 {
                            lookup(format!("workload.models[{i}]"), model, precision)?;
                        }
                    }
                }
            }
            WorkloadSpec::Static {
                deployments,
                precision,
            } => {
                for (i, d) in deployments.iter().enumerate() {
                    let key = format!("workload.deployments[{i}].model");
                    lookup(key, &d.model, precision.unwrap_or(d.precision))?;
                }
            }
            WorkloadSpec::Trace { .. } | WorkloadSpec::Alibaba { .. } => {}
        }
        Ok(())
    }

    /// How a replay of this scenario runs: its horizon and warm-up, and its
    /// sampling interval (by default 1/100 of the measured span, at least a
    /// second; none when the span is unknown). `last_arrival` is a trace's.
    pub fn run_config(&self, last_arrival: Option<SimTime>) -> crate::sim::RunConfig {
        let interval = self.interval.or_else(|| {
            let span = self
                .horizon
                .or(last_arrival)?
                .0
                .saturating_sub(self.warmup.0);
            Some(SimTime((span / 100).max(1000)))
        });
        crate::sim::RunConfig {
            horizon: self.horizon,
            warmup: self.warmup,
            interval,
            precision_fallback: self.precision_fallback,
        }
    }

    /// The trace path to read: `--trace` if given, else the scenario's
    /// `workload.path` relative to the scenario's folder.
    pub fn trace_path(
        &self,
        scenario_dir: &std::path::Path,
        cli: Option<&std::path::Path>,
    ) -> Option<PathBuf> {
        if let Some(path) = cli {
            return Some(path.to_path_buf());
        }
        match &self.workload {
            WorkloadSpec::Trace { path, .. } | WorkloadSpec::Alibaba { path, .. } => {
                path.as_deref().map(|p| scenario_dir.join(p))
            }
            WorkloadSpec::Synthetic(_) | WorkloadSpec::Static { .. } => None,
        }
    }

    /// What one GPU of an Alibaba trace becomes: a whole GPU of
    /// `workload.gpu` (default: the fleet's first kind), or, with
    /// `unit = "partition"`, the largest partition of the fleet's first
    /// layout.
    pub fn trace_gpu(&self) -> TraceGpu {
        let first = self
            .fleet
            .groups
            .first()
            .map(|g| (g.kind, g.layout.clone()))
            .or(self
                .fleet
                .elastic
                .as_ref()
                .map(|e| (e.kind, e.layout.clone())));
        match &self.workload {
            WorkloadSpec::Alibaba {
                per_partition: true,
                ..
            } => {
                let partition = first
                    .and_then(|(kind, layout)| layout.build(kind).ok())
                    .map_or(GpuKind::Mi300x.memory(), |l| l.largest_partition());
                TraceGpu::Partition(partition)
            }
            WorkloadSpec::Alibaba {
                gpu: Some(kind), ..
            } => TraceGpu::Gpu(kind.memory()),
            _ => TraceGpu::Gpu(first.map_or(GpuKind::Mi300x, |f| f.0).memory()),
        }
    }
}
