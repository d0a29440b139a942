//! Serving scenarios (`aimsim serve`): a fleet, the deployments placed on
//! it, the engine they run, how requests are routed, the traffic and the
//! latency targets, in TOML. `scenarios/README.md` documents every key.

pub mod answer;
mod deployments_table;
mod plan_table;
mod schema;
mod traffic_check;
mod traffic_table;

pub use plan_table::{ServePlanSpec, MAX_PLAN_CELLS};
pub use traffic_table::{LengthSpec, Pace, StreamSpec, TrafficSpec, MISSING_TRACE};

use std::collections::BTreeMap;
use std::path::Path;

use crate::hardware::GpuKind;

use crate::perf::{EngineLimits, KvCache};
use crate::profile::{Catalog, Precision};
use crate::serve::engine::{SchedulerKind, SchedulingPolicy};
use crate::serve::traffic::Target;
use crate::serve::{
    DeploymentSpec, EngineConfig, Routing, ServeConfig, ServingPolicy, Slo, DEFAULT_MAX_IN_SYSTEM,
    MAX_IN_SYSTEM,
};
use crate::sim::FleetSpec;
use crate::time::{Nanos, SimTime};

use super::check::{deserialize, Checker};
use super::{fleet_table, ScenarioError};
use deployments_table::{check_pins, deployments, memory};
use schema::{EngineTable, ServeFile, SloTable};

/// Most `[[deployments]]` entries.
pub const MAX_DEPLOYMENTS: usize = 1000;

/// Longest serving horizon or warm-up: 366 days (its nanoseconds fit a
/// `u64` many times over).
pub const MAX_SPAN: SimTime = SimTime(366 * 86_400_000);

/// A checked serving scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeScenario {
    /// Name used for the report folder (the `name` key, or the file stem).
    pub name: String,
    /// Free text for the report.
    pub description: Option<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// End of the arrivals, and of the run unless `drain`; `None` runs
    /// until the traffic ends and drains.
    pub horizon: Option<Nanos>,
    /// Whether the run goes on past the horizon until every request that
    /// arrived before it has finished (`run.drain`, as a plan simulates).
    pub drain: bool,
    /// Requests arriving before this are served but not measured.
    pub warmup: Nanos,
    /// Most requests in the system at once (`run.max_in_system`).
    pub max_in_system: u64,
    /// First interval of the time series.
    pub interval: Option<Nanos>,
    /// The fleet (fixed: serving places every replica up front; its policy
    /// is the one the scheduler is built with, see `policy`). A plan takes
    /// only its nodes.
    pub fleet: FleetSpec,
    /// How replicas are placed (`fleet.policy`, default `load-aware`).
    pub policy: ServingPolicy,
    /// Replicas to place, in order (empty in a scenario only planned).
    pub deployments: Vec<DeploymentSpec>,
    /// The engine every replica runs.
    pub engine: EngineConfig,
    /// How requests pick a replica.
    pub routing: Routing,
    /// Where requests come from.
    pub traffic: TrafficSpec,
    /// Latency targets.
    pub slo: Slo,
    /// The grid `aimsim plan` searches, if the scenario has a `[plan]`.
    pub plan: Option<ServePlanSpec>,
    /// Price per GPU-hour by kind, for a plan's cost columns.
    pub prices: BTreeMap<GpuKind, f64>,
}

impl ServeScenario {
    /// Parses and checks `text`; `file` names it in errors and gives the
    /// default name. `overrides` are `key=value` pairs applied first, as
    /// for [`super::Scenario::parse`].
    pub fn parse(
        text: &str,
        file: &str,
        overrides: &[String],
    ) -> Result<ServeScenario, ScenarioError> {
        let raw: ServeFile = deserialize(text, file, overrides)?;
        let check = Checker { file };
        let name = super::report_name(&check, raw.name.as_deref(), file)?;
        let run = &raw.run;
        if run.mode.is_some() || run.fill_target.is_some() || run.fill_step.is_some() {
            return Err(check.fail(
                "run.mode",
                "a serving scenario replays its traffic; run.mode, run.fill_target and run.fill_step do not apply",
            ));
        }
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
        for (key, span) in [("run.horizon", horizon), ("run.warmup", Some(warmup))] {
            if span.is_some_and(|s| s > MAX_SPAN) {
                return Err(check.fail(key, format!("must be at most {MAX_SPAN}")));
            }
        }
        if horizon.is_some_and(|h| warmup >= h) {
            return Err(check.fail("run.warmup", "must end before run.horizon"));
        }
        let max_in_system = run.max_in_system.unwrap_or(DEFAULT_MAX_IN_SYSTEM);
        if !(1..=MAX_IN_SYSTEM).contains(&max_in_system) {
            return Err(check.fail(
                "run.max_in_system",
                format!("must be between 1 and {MAX_IN_SYSTEM} requests, got {max_in_system}"),
            ));
        }
        let interval = run
            .interval
            .as_deref()
            .map(|i| check.positive_duration("run.interval", i))
            .transpose()?;
        let policy: ServingPolicy = match raw.fleet.policy.as_deref() {
            Some(text) => check.parsed("fleet.policy", text)?,
            None => ServingPolicy::default(),
        };
        let fleet =
            if raw.plan.is_some() && raw.fleet.gpus.is_empty() && raw.fleet.elastic.is_none() {
                // A plan-only scenario: the plan chooses the GPUs.
                FleetSpec {
                    groups: Vec::new(),
                    node: fleet_table::node(&check, raw.fleet.node.as_ref())?,
                    elastic: None,
                    policy: policy.scheduler_policy(),
                }
            } else {
                fleet_table::fleet_with_policy(&check, &raw.fleet, policy.scheduler_policy())?
            };
        if fleet.elastic.is_some() {
            return Err(check.fail(
                "fleet.elastic",
                "a serving run places every replica before traffic starts; give a fixed fleet",
            ));
        }
        let plan = raw
            .plan
            .as_ref()
            .map(|table| plan_table::plan(&check, table, policy))
            .transpose()?;
        let engine = engine(&check, raw.engine.as_ref())?;
        let deployments = if raw.deployments.is_empty() && plan.is_some() {
            Vec::new()
        } else {
            deployments(&check, &raw, &engine)?
        };
        check_pins(&check, &deployments, &fleet)?;
        let routing = match &raw.routing {
            Some(table) => check.parsed("routing.policy", &table.policy)?,
            None => Routing::default(),
        };
        let traffic = traffic_check::traffic(&check, &raw.traffic)?;
        if horizon.is_none() {
            if let TrafficSpec::Synthetic { requests: None, .. } = traffic {
                return Err(check.fail(
                    "run.horizon",
                    "synthetic traffic without traffic.requests needs a horizon",
                ));
            }
        }
        let slo = slo(&check, raw.slo.as_ref())?;
        if plan.is_some() && horizon.is_none() {
            if let TrafficSpec::Synthetic { .. } = traffic {
                return Err(check.fail(
                    "run.horizon",
                    "a plan replays its traffic many times; give synthetic traffic a horizon",
                ));
            }
        }
        let prices = super::axes::prices(&check, &raw.prices)?;
        Ok(ServeScenario {
            name,
            description: raw.description,
            seed: run.seed,
            horizon: horizon.map(Nanos::from_millis),
            drain: run.drain.unwrap_or(false),
            warmup: Nanos::from_millis(warmup),
            max_in_system,
            interval: interval.map(Nanos::from_millis),
            fleet,
            policy,
            deployments,
            engine,
            routing,
            traffic,
            slo,
            plan,
            prices,
        })
    }

    /// Where the simulation stops: the horizon, unless the run drains.
    pub fn run_end(&self) -> Option<Nanos> {
        if self.drain {
            None
        } else {
            self.horizon
        }
    }

    /// Checks that every model the scenario's own traffic names (synthetic
    /// streams, the Azure trace's models) is in `catalog`, naming the entry
    /// (`traffic.streams[1].model`) and the closest ids in `file`. A
    /// request trace's models are counted as unserved when no replica
    /// serves them instead: a trace may hold models a fleet leaves out.
    pub fn check_models(&self, catalog: &Catalog, file: &str) -> Result<(), ScenarioError> {
        let check = Checker { file };
        let (list, targets): (&str, Vec<&Target>) = match &self.traffic {
            TrafficSpec::Synthetic { streams, .. } => {
                ("streams", streams.iter().map(|s| &s.target).collect())
            }
            TrafficSpec::Azure { models, .. } => {
                ("models", models.iter().map(|(t, _)| t).collect())
            }
            TrafficSpec::Trace { .. } => return Ok(()),
        };
        for (i, target) in targets.into_iter().enumerate() {
            catalog
                .model(&target.model)
                .map_err(|e| check.fail(&format!("traffic.{list}[{i}].model"), e.to_string()))?;
        }
        Ok(())
    }

    /// How a run of this scenario goes (routing seeded by its seed, run to
    /// [`Self::run_end`], never given up).
    pub fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            horizon: self.run_end(),
            warmup: self.warmup,
            interval: self.series_interval(),
            routing: self.routing,
            seed: self.seed,
            slo: self.slo,
            engine: self.engine,
            give_up_after: None,
            max_in_system: self.max_in_system,
        }
    }

    /// `(model, precision)` of each deployment, as the simulator names them.
    pub fn deployment_keys(&self) -> Vec<(String, Precision)> {
        self.deployments
            .iter()
            .map(|d| (d.model.clone(), d.precision))
            .collect()
    }

    /// The first interval of the time series: the scenario's, else 1/100 of
    /// the horizon after the warm-up, else 10 seconds (it doubles as the run
    /// grows).
    pub fn series_interval(&self) -> Nanos {
        self.interval.unwrap_or_else(|| match self.horizon {
            Some(h) => Nanos(((h.0 - self.warmup.0) / 100).max(1_000_000_000)),
            None => Nanos(10_000_000_000),
        })
    }

    /// Where a trace is read: `--trace` if given, else the scenario's
    /// `traffic.path` relative to the scenario's folder.
    pub fn trace_path(
        &self,
        scenario_dir: &Path,
        cli: Option<&Path>,
    ) -> Option<std::path::PathBuf> {
        cli.map(Path::to_path_buf).or_else(|| match &self.traffic {
            TrafficSpec::Azure { path, .. } | TrafficSpec::Trace { path, .. } => {
                path.as_deref().map(|p| scenario_dir.join(p))
            }
            TrafficSpec::Synthetic { .. } => None,
        })
    }
}

fn engine(check: &Checker, raw: Option<&EngineTable>) -> Result<EngineConfig, ScenarioError> {
    let default = EngineConfig::default();
    let Some(raw) = raw else {
        return Ok(default);
    };
    let kv_cache = match raw.kv_cache_bits {
        None | Some(16) => KvCache::Bits16,
        Some(8) => KvCache::Bits8,
        Some(other) => {
            return Err(check.fail(
                "engine.kv_cache_bits",
                format!("must be 16 or 8, got {other}"),
            ))
        }
    };
    let limits = EngineLimits {
        max_seqs: raw.max_seqs.unwrap_or(default.limits.max_seqs),
        max_batched_tokens: raw
            .max_batched_tokens
            .unwrap_or(default.limits.max_batched_tokens),
        memory_utilization: check.within(
            "engine.memory_utilization",
            raw.memory_utilization
                .unwrap_or(default.limits.memory_utilization),
            0.05,
            1.0,
        )?,
        scheduler_steps: check.within(
            "engine.scheduler_steps",
            f64::from(raw.scheduler_steps.unwrap_or(1)),
            1.0,
            64.0,
        )? as u32,
    };
    if !(1..=1 << 20).contains(&limits.max_batched_tokens) {
        return Err(check.fail(
            "engine.max_batched_tokens",
            format!(
                "must be between 1 and {}, got {}",
                1 << 20,
                limits.max_batched_tokens
            ),
        ));
    }
    let policy = match raw.scheduling_policy.as_deref() {
        None => default.policy,
        Some(name) => SchedulingPolicy::from_name(name).ok_or_else(|| {
            check.fail(
                "engine.scheduling_policy",
                format!("must be \"fcfs\" or \"priority\" (vLLM's names), got {name:?}"),
            )
        })?,
    };
    let scheduler = match raw.scheduler.as_deref() {
        None => default.scheduler,
        Some(name) => SchedulerKind::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = SchedulerKind::ALL.iter().map(|(n, _)| *n).collect();
            check.fail(
                "engine.scheduler",
                format!("must be one of {}, got {name:?}", names.join(", ")),
            )
        })?,
    };
    let config = EngineConfig {
        limits,
        chunked_prefill: raw.chunked_prefill.unwrap_or(default.chunked_prefill),
        block_size: raw.block_size.unwrap_or(default.block_size),
        kv_cache,
        policy,
        long_prefill_token_threshold: raw
            .long_prefill_token_threshold
            .unwrap_or(default.long_prefill_token_threshold),
        kv_blocks: raw.kv_blocks,
        scheduler,
        memory: raw
            .memory
            .as_ref()
            .map(|m| memory(check, "engine.memory", m))
            .transpose()?
            .unwrap_or(default.memory),
    };
    config
        .check()
        .map_err(|e| check.fail(&format!("engine.{}", e.key), e.message))?;
    Ok(config)
}

fn slo(check: &Checker, raw: Option<&SloTable>) -> Result<Slo, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(Slo::default());
    };
    let seconds = |key: &str, text: &Option<String>| -> Result<Option<f64>, ScenarioError> {
        text.as_deref()
            .map(|t| check.positive_duration(key, t).map(SimTime::as_secs_f64))
            .transpose()
    };
    let percentile = raw.percentile.unwrap_or(0.99);
    if !(percentile.is_finite() && percentile > 0.0 && percentile < 1.0) {
        return Err(check.fail(
            "slo.percentile",
            format!("must be a share strictly between 0 and 1 (0.99 for p99), got {percentile:?}"),
        ));
    }
    let slo = Slo {
        ttft: seconds("slo.ttft", &raw.ttft)?,
        tpot: seconds("slo.tpot", &raw.tpot)?,
        e2e: seconds("slo.e2e", &raw.e2e)?,
        percentile,
    };
    if slo.ttft.is_none() && slo.tpot.is_none() && slo.e2e.is_none() {
        return Err(check.fail("slo", "give at least one of ttft, tpot and e2e"));
    }
    Ok(slo)
}
