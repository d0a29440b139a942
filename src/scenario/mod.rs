//! Scenario files: a run, a fleet and a workload, in TOML.
//!
//! [`Scenario::parse`] reads the text (with optional `key=value`
//! overrides), rejects unknown keys, wrong types and out-of-range values
//! with an error naming the file, the key (and line and column where the
//! TOML parser knows them) and what was expected, and returns checked
//! engine inputs. `scenarios/README.md` documents every key.

mod overrides;
mod schema;
mod source;

pub use source::{SourceError, Survey, WorkloadSource};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::Precision;
use crate::schedule::Policy;
use crate::sim::fill::FillSpec;
use crate::sim::{ElasticSpec, FleetSpec, GpuGroup};
use crate::sweep::{simplex, Mix, SweepSpec};
use crate::time::SimTime;
use crate::workload::alibaba::TraceGpu;
use crate::workload::synthetic::{ArrivalProcess, LifetimeDistribution, Popularity, SyntheticSpec};

use schema::{
    AlibabaTable, ArrivalsTable, GpusValue, LayoutValue, LifetimeTable, MixesValue,
    PopularityTable, ScenarioFile, SweepTable, SyntheticTable, TraceTable, WorkloadTable,
};

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
}

/// A scenario that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// Line and column, when the TOML parser knows them.
    pub position: Option<(usize, usize)>,
    /// The dotted key concerned.
    pub key: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ": line {line}, column {column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Checks values and builds errors that name the key.
struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn fail(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            position: None,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    fn duration(&self, key: &str, text: &str) -> Result<SimTime, ScenarioError> {
        text.parse::<SimTime>()
            .map_err(|e| self.fail(key, e.to_string()))
    }

    fn positive_duration(&self, key: &str, text: &str) -> Result<SimTime, ScenarioError> {
        let value = self.duration(key, text)?;
        if value == SimTime::ZERO {
            return Err(self.fail(key, format!("must be longer than zero, got `{text}`")));
        }
        Ok(value)
    }

    fn positive(&self, key: &str, value: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(self.fail(key, format!("must be a positive number, got {value}")))
        }
    }

    /// A number in [min, max].
    fn within(&self, key: &str, value: f64, min: f64, max: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.fail(key, format!("must be between {min} and {max}, got {value}")))
        }
    }

    fn parsed<T: std::str::FromStr>(&self, key: &str, text: &str) -> Result<T, ScenarioError>
    where
        T::Err: fmt::Display,
    {
        text.parse::<T>().map_err(|e| self.fail(key, e.to_string()))
    }

    fn layout(
        &self,
        key: &str,
        value: &LayoutValue,
        kind: GpuKind,
    ) -> Result<LayoutSpec, ScenarioError> {
        let spec = match value {
            LayoutValue::Mode(text) => self.parsed::<LayoutSpec>(key, text)?,
            LayoutValue::Sizes(sizes) => {
                let text: Vec<String> = sizes.iter().map(f64::to_string).collect();
                self.parsed::<LayoutSpec>(key, &text.join(","))?
            }
        };
        spec.build(kind)
            .map_err(|e| self.fail(key, e.to_string()))?;
        Ok(spec)
    }

    /// Shares that must each be in [0, 1] and sum to 1.
    fn shares(&self, key: &str, shares: &[f64]) -> Result<(), ScenarioError> {
        if let Some(bad) = shares
            .iter()
            .find(|s| !(s.is_finite() && (0.0..=1.0).contains(*s)))
        {
            return Err(self.fail(
                key,
                format!("every share must be between 0 and 1, got {bad}"),
            ));
        }
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(self.fail(key, format!("shares must sum to 1, they sum to {sum}")));
        }
        Ok(())
    }
}

impl Scenario {
    /// Parses and checks `text`. `file` names it in errors (and gives the
    /// default name: its stem). `overrides` are `key=value` pairs applied
    /// before checking, the value written as in TOML (`run.seed=7`,
    /// `fleet.policy="best-fit"`; a bare word is taken as a string).
    pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let raw: ScenarioFile = if overrides.is_empty() {
            let deserializer = toml::Deserializer::new(text);
            serde_path_to_error::deserialize(deserializer).map_err(|e| toml_error(text, file, e))?
        } else {
            let value = overrides::apply(text, file, overrides)?;
            serde_path_to_error::deserialize(value).map_err(|e| {
                let key = e.path().to_string();
                ScenarioError {
                    file: file.to_string(),
                    position: None,
                    key: (key != ".").then_some(key),
                    message: e.into_inner().message().to_string(),
                }
            })?
        };
        let check = Checker { file };
        let name = raw.name.clone().unwrap_or_else(|| {
            std::path::Path::new(file)
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        });
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(check.fail("name", format!("`{name}` cannot name a report folder")));
        }
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
        let fleet = fleet(&check, &raw)?;
        if matches!(mode, RunMode::Fill(_)) && fleet.elastic.is_some() {
            return Err(check.fail("fleet.elastic", "the fill experiment needs a fixed fleet"));
        }
        let workload = workload(&check, &workload_table(&check, &raw.workload)?)?;
        if let WorkloadSpec::Synthetic(spec) = &workload {
            let finite = spec.count.is_some();
            if horizon.is_none() && !finite && mode == RunMode::Replay {
                return Err(check.fail(
                    "run.horizon",
                    "a synthetic workload without workload.requests needs a horizon",
                ));
            }
        }
        let sweep = raw
            .sweep
            .as_ref()
            .map(|table| sweep(&check, table, &fleet, &workload))
            .transpose()?;
        let mut prices = BTreeMap::new();
        for (kind, &price) in &raw.prices {
            let key = format!("prices.{kind}");
            let kind: GpuKind = check.parsed(&key, kind)?;
            if !(price.is_finite() && price >= 0.0) {
                return Err(check.fail(
                    &key,
                    format!("must be a non-negative price per GPU-hour, got {price}"),
                ));
            }
            prices.insert(kind, price);
        }
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
        })
    }

    /// The sweep grid: the `[sweep]` table, or one point made of the fleet's
    /// first group, its policy and the workload as it is.
    pub fn sweep_spec(&self) -> Result<SweepSpec, String> {
        if matches!(self.mode, RunMode::Fill(_)) {
            return Err("run.mode = \"fill\" is for `aimsim simulate`; sweeps and plans replay the workload over time".into());
        }
        if let Some(spec) = &self.sweep {
            return Ok(spec.clone());
        }
        if self.fleet.groups.len() > 1 || self.fleet.elastic.is_some() {
            return Err("a sweep point is one fixed group of GPUs, and this fleet has several groups or an elastic rule; add a [sweep] table with gpus, kinds and layouts".into());
        }
        let group = self
            .fleet
            .groups
            .first()
            .ok_or("the fleet has no [[fleet.gpus]] group to sweep; add a [sweep] table with gpus, kinds and layouts")?;
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

/// Slowest and fastest Poisson arrival rates (per hour): beyond them a run
/// would never see an arrival, or never get past its first instant.
const MIN_RATE: f64 = 1e-6;
const MAX_RATE: f64 = 1e6;
/// Most runs one sweep may ask for.
const MAX_RUNS: u64 = 10_000_000;
/// Most GPUs a fixed fleet may have.
pub const MAX_FLEET_GPUS: u32 = 1_000_000;

/// Fit rate a sweep counts as enough unless `sweep.target_fit` says otherwise.
pub const DEFAULT_TARGET_FIT: f64 = 0.99;

fn sweep(
    check: &Checker,
    table: &SweepTable,
    fleet: &FleetSpec,
    workload: &WorkloadSpec,
) -> Result<SweepSpec, ScenarioError> {
    let first = fleet.groups.first();
    let mixes: Vec<Mix> = match &table.mixes {
        None => Vec::new(),
        Some(_) if !matches!(workload, WorkloadSpec::Synthetic(_)) => {
            return Err(check.fail(
                "sweep.mixes",
                "precision mixes apply to synthetic workloads only",
            ));
        }
        Some(MixesValue::Grid { step }) => {
            simplex(*step).map_err(|e| check.fail("sweep.mixes.step", e))?
        }
        Some(MixesValue::List(list)) => {
            let mut mixes = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                let key = format!("sweep.mixes[{i}]");
                let mut mix = [0.0; 3];
                for (name, share) in entry {
                    let precision: Precision = check.parsed(&format!("{key}.{name}"), name)?;
                    mix[precision.index()] = *share;
                }
                check.shares(&key, &mix)?;
                mixes.push(mix);
            }
            mixes
        }
    };
    if matches!(table.mixes, Some(MixesValue::List(ref l)) if l.is_empty()) {
        return Err(check.fail(
            "sweep.mixes",
            "the list is empty: the grid would have no point",
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
    if gpus.is_empty() || gpus.iter().any(|&g| g == 0 || g > MAX_FLEET_GPUS) {
        return Err(check.fail(
            "sweep.gpus",
            format!("needs at least one fleet size, each between 1 and {MAX_FLEET_GPUS}"),
        ));
    }
    let kinds: Vec<GpuKind> = match &table.kinds {
        None => vec![first.map_or(GpuKind::Mi300x, |g| g.kind)],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, k)| check.parsed(&format!("sweep.kinds[{i}]"), k))
            .collect::<Result<_, _>>()?,
    };
    let layouts: Vec<LayoutSpec> = match &table.layouts {
        None => vec![first.map_or(
            LayoutSpec::Mode(
                crate::hardware::ComputeMode::Spx,
                crate::hardware::MemoryMode::Nps1,
            ),
            |g| g.layout.clone(),
        )],
        Some(list) => {
            let mut layouts = Vec::new();
            for (i, value) in list.iter().enumerate() {
                let key = format!("sweep.layouts[{i}]");
                let mut spec = None;
                for &kind in &kinds {
                    spec = Some(check.layout(&key, value, kind)?);
                }
                layouts.push(spec.expect("kinds is not empty"));
            }
            layouts
        }
    };
    let policies: Vec<Policy> = match &table.policies {
        None => vec![fleet.policy],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| check.parsed(&format!("sweep.policies[{i}]"), p))
            .collect::<Result<_, _>>()?,
    };
    for (key, empty) in [
        ("sweep.kinds", kinds.is_empty()),
        ("sweep.layouts", layouts.is_empty()),
        ("sweep.policies", policies.is_empty()),
    ] {
        if empty {
            return Err(check.fail(key, "the list is empty: the grid would have no point"));
        }
    }
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
            format!("must be in (0, 1], got {target_fit}"),
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

fn fleet(check: &Checker, raw: &ScenarioFile) -> Result<FleetSpec, ScenarioError> {
    let policy: Policy = check.parsed("fleet.policy", &raw.fleet.policy)?;
    let mut groups = Vec::new();
    for (i, group) in raw.fleet.gpus.iter().enumerate() {
        let kind: GpuKind = check.parsed(&format!("fleet.gpus[{i}].kind"), &group.kind)?;
        if group.count == 0 || group.count > MAX_FLEET_GPUS {
            return Err(check.fail(
                &format!("fleet.gpus[{i}].count"),
                format!(
                    "must be between 1 and {MAX_FLEET_GPUS}, got {}",
                    group.count
                ),
            ));
        }
        let layout = check.layout(&format!("fleet.gpus[{i}].layout"), &group.layout, kind)?;
        groups.push(GpuGroup {
            kind,
            count: group.count,
            layout,
        });
    }
    let initial: u64 = groups.iter().map(|g| u64::from(g.count)).sum();
    if initial > u64::from(MAX_FLEET_GPUS) {
        return Err(check.fail(
            "fleet.gpus",
            format!("{initial} GPUs in all; a fleet has at most {MAX_FLEET_GPUS}"),
        ));
    }
    let initial = initial as u32;
    let elastic = match &raw.fleet.elastic {
        Some(e) => {
            let kind: GpuKind = check.parsed("fleet.elastic.kind", &e.kind)?;
            let layout = check.layout("fleet.elastic.layout", &e.layout, kind)?;
            if e.max_gpus == 0 || e.max_gpus < initial || e.max_gpus > crate::sweep::ELASTIC_CAP {
                return Err(check.fail(
                    "fleet.elastic.max_gpus",
                                        format!(
                        "must be at least 1, at least the {initial} GPUs of fleet.gpus and at most {}, got {}",
                        crate::sweep::ELASTIC_CAP,
                        e.max_gpus
                    ),
                ));
            }
            let release_after = e
                .release_after
                .as_deref()
                .map(|r| check.positive_duration("fleet.elastic.release_after", r))
                .transpose()?;
            Some(ElasticSpec {
                kind,
                layout,
                max_gpus: e.max_gpus,
                release_after,
            })
        }
        None => None,
    };
    if initial == 0 && elastic.is_none() {
        return Err(check.fail(
            "fleet.gpus",
            "a fixed fleet needs at least one [[fleet.gpus]] group",
        ));
    }
    Ok(FleetSpec {
        groups,
        elastic,
        policy,
    })
}

fn workload(check: &Checker, raw: &WorkloadTable) -> Result<WorkloadSpec, ScenarioError> {
    Ok(match raw {
        WorkloadTable::Synthetic(SyntheticTable {
            requests,
            arrivals,
            lifetime,
            models,
            popularity,
            precision_mix,
            priorities,
        }) => {
            if *requests == Some(0) {
                return Err(check.fail("workload.requests", "must be at least 1"));
            }
            let arrivals = match arrivals {
                ArrivalsTable::Poisson { rate_per_hour } => ArrivalProcess::Poisson {
                    rate_per_hour: check.within(
                        "workload.arrivals.rate_per_hour",
                        *rate_per_hour,
                        MIN_RATE,
                        MAX_RATE,
                    )?,
                },
                ArrivalsTable::Deterministic { interval } => ArrivalProcess::Deterministic {
                    interval: check.positive_duration("workload.arrivals.interval", interval)?,
                },
                ArrivalsTable::AllAtOnce {} => {
                    if requests.is_none() {
                        return Err(check.fail(
                            "workload.requests",
                            "all-at-once arrivals need a request count",
                        ));
                    }
                    ArrivalProcess::AllAtOnce
                }
            };
            let lifetime = match lifetime {
                LifetimeTable::Exponential { mean } => LifetimeDistribution::Exponential {
                    mean: check.positive_duration("workload.lifetime.mean", mean)?,
                },
                LifetimeTable::Lognormal { median, sigma } => {
                    if !(sigma.is_finite() && *sigma >= 0.0) {
                        return Err(check.fail(
                            "workload.lifetime.sigma",
                            format!("must be a non-negative number, got {sigma}"),
                        ));
                    }
                    LifetimeDistribution::LogNormal {
                        median: check.positive_duration("workload.lifetime.median", median)?,
                        sigma: *sigma,
                    }
                }
                LifetimeTable::Fixed { duration } => LifetimeDistribution::Fixed(
                    check.duration("workload.lifetime.duration", duration)?,
                ),
                LifetimeTable::Infinite {} => LifetimeDistribution::Infinite,
            };
            if models.as_ref().is_some_and(Vec::is_empty) {
                return Err(check.fail(
                    "workload.models",
                    "the list is empty; leave the key out to use the whole catalog",
                ));
            }
            let models = models.clone().unwrap_or_default();
            let popularity = match popularity {
                None | Some(PopularityTable::Uniform {}) => Popularity::Uniform,
                Some(PopularityTable::Zipf { exponent }) => Popularity::Zipf {
                    exponent: check.positive("workload.popularity.exponent", *exponent)?,
                },
                Some(PopularityTable::Weights { weights }) => {
                    if weights.len() != models.len() {
                        return Err(check.fail(
                            "workload.popularity.weights",
                            format!(
                                "{} weights for the {} entries of workload.models",
                                weights.len(),
                                models.len()
                            ),
                        ));
                    }
                    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                        || weights.iter().sum::<f64>() <= 0.0
                    {
                        return Err(check.fail(
                            "workload.popularity.weights",
                            "weights must be non-negative with a positive sum",
                        ));
                    }
                    Popularity::Weights(weights.clone())
                }
            };
            let mut mix = [0.0; 3];
            for (key, share) in precision_mix {
                let precision: Precision =
                    check.parsed(&format!("workload.precision_mix.{key}"), key)?;
                mix[precision.index()] = *share;
            }
            check.shares("workload.precision_mix", &mix)?;
            let shares: Vec<f64> = priorities.iter().map(|p| p.share).collect();
            if !priorities.is_empty() {
                check.shares("workload.priorities", &shares)?;
            }
            WorkloadSpec::Synthetic(SyntheticSpec {
                arrivals,
                count: *requests,
                lifetime,
                models,
                popularity,
                precision_mix: mix,
                priorities: priorities.iter().map(|p| (p.priority, p.share)).collect(),
            })
        }
        WorkloadTable::Trace(TraceTable {
            path,
            skip_unknown_models,
        }) => WorkloadSpec::Trace {
            path: path.clone(),
            skip_unknown_models: *skip_unknown_models,
        },
        WorkloadTable::Alibaba(AlibabaTable {
            path,
            map_to_profiles,
            gpu,
            unit,
        }) => WorkloadSpec::Alibaba {
            path: path.clone(),
            map_to_profiles: *map_to_profiles,
            gpu: gpu
                .as_deref()
                .map(|g| check.parsed("workload.gpu", g))
                .transpose()?,
            per_partition: match unit.as_deref().unwrap_or("gpu") {
                "gpu" => false,
                "partition" => true,
                other => {
                    return Err(check.fail(
                        "workload.unit",
                        format!("`{other}`; expected \"gpu\" or \"partition\""),
                    ))
                }
            },
        },
    })
}

/// Reads `[workload]`: its `source` first, then the table of that source,
/// so an error names its key (`workload.requests`).
fn workload_table(check: &Checker, table: &toml::Table) -> Result<WorkloadTable, ScenarioError> {
    let source = match table.get("source") {
        Some(toml::Value::String(source)) => source.clone(),
        Some(other) => {
            return Err(check.fail("workload.source", format!("must be a string, got {other}")))
        }
        None => {
            return Err(check.fail(
                "workload.source",
                "missing; expected \"synthetic\", \"trace\" or \"alibaba\"",
            ))
        }
    };
    let mut rest = table.clone();
    rest.remove("source");
    let value = toml::Value::Table(rest);
    fn read<T: serde::de::DeserializeOwned>(
        check: &Checker,
        value: toml::Value,
    ) -> Result<T, ScenarioError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                "workload".to_string()
            } else {
                format!("workload.{path}")
            };
            check.fail(&key, e.into_inner().message().to_string())
        })
    }
    Ok(match source.as_str() {
        "synthetic" => WorkloadTable::Synthetic(read(check, value)?),
        "trace" => WorkloadTable::Trace(read(check, value)?),
        "alibaba" => WorkloadTable::Alibaba(read(check, value)?),
        other => {
            return Err(check.fail(
                "workload.source",
                format!("`{other}`; expected \"synthetic\", \"trace\" or \"alibaba\""),
            ))
        }
    })
}

/// A TOML or schema error from the parser, with its position and key.
fn toml_error(
    text: &str,
    file: &str,
    error: serde_path_to_error::Error<toml::de::Error>,
) -> ScenarioError {
    let key = error.path().to_string();
    let inner = error.into_inner();
    let position = inner.span().map(|span| line_column(text, span.start));
    ScenarioError {
        file: file.to_string(),
        position,
        key: (key != ".").then_some(key),
        message: inner.message().trim().to_string(),
    }
}

/// One-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Scenario {
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
            WorkloadSpec::Synthetic(_) => None,
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
