//! One configuration tried by a search: replicas of each model placed by a
//! policy on a fleet of one GPU kind and layout, and the traffic simulated
//! against them.

use crate::profile::Precision;
use crate::schedule::{PartitionRef, Policy};
use crate::serve::traffic::{Recorded, TrafficShape};
use crate::serve::{
    deploy, serve, DeployError, DeployInputs, Deployed, DeploymentSpec, EngineKnobs, ReplicaMemory,
    ServeConfig, ServeOutcome, ServingPolicy,
};
use crate::sim::FleetSpec;
use crate::time::Nanos;

use super::{Cell, PlanContext};

/// One model's figures in a simulated configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelResult {
    /// Share of its measured requests within every target.
    pub attainment: f64,
    /// TTFT at the SLO's percentile, seconds.
    pub ttft: f64,
    /// TPOT at the SLO's percentile, seconds.
    pub tpot: f64,
    /// Whether `attainment` reaches the SLO's percentile.
    pub met: bool,
}

/// A configuration and what the simulator made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// GPUs in the fleet.
    pub gpus: u32,
    /// Replicas of each model (in the plan's model order).
    pub replicas: Vec<u32>,
    /// Memory each model's replicas were given.
    pub memory: Vec<ReplicaMemory>,
    /// Where each model's replicas were placed (their partitions), in the
    /// plan's model order; empty when some replica did not fit.
    pub placements: Vec<Vec<Vec<PartitionRef>>>,
    /// Per model; empty when some replica did not fit.
    pub models: Vec<ModelResult>,
    /// Why some replica could not be placed, if one could not.
    pub unplaced: Option<String>,
    /// GPUs with at least one replica.
    pub gpus_used: u32,
    /// Mean over the fleet's GPUs of the share of the measured window with
    /// some replica in an iteration.
    pub gpu_busy: f64,
    /// Output tokens of finished measured requests per second.
    pub output_tokens_per_s: f64,
    /// Prompt tokens of finished measured requests per second.
    pub input_tokens_per_s: f64,
    /// Share of all measured requests within every target.
    pub attainment: f64,
    /// Whether the run stopped once the SLO was certainly missed (its
    /// figures then cover the run so far).
    pub abandoned: bool,
}

impl Evaluation {
    /// Whether every replica was placed and every model met the SLO.
    pub fn met(&self) -> bool {
        self.unplaced.is_none() && self.models.iter().all(|m| m.met)
    }

    /// The lowest attainment of any model (0 when unplaced).
    pub fn worst_attainment(&self) -> f64 {
        if self.unplaced.is_some() {
            return 0.0;
        }
        self.models.iter().map(|m| m.attainment).fold(1.0, f64::min)
    }
}

/// A cell's fleet of `gpus` GPUs, on the plan's nodes.
pub fn fleet(context: &PlanContext, cell: &Cell, gpus: u32) -> FleetSpec {
    FleetSpec::uniform(cell.kind, gpus, cell.layout.clone(), Policy::Spread).on_nodes(context.node)
}

/// The deployments of `replicas` (per model), largest profile first so
/// packing places the hardest replicas while the fleet is empty; `order` is
/// that order of model indices.
fn deployments(
    models: &[String],
    precision: Precision,
    replicas: &[u32],
    memory: &[ReplicaMemory],
    order: &[usize],
) -> Vec<(usize, DeploymentSpec)> {
    order
        .iter()
        .filter(|&&m| replicas[m] > 0)
        .map(|&m| {
            (
                m,
                DeploymentSpec {
                    model: models[m].clone(),
                    precision,
                    replicas: replicas[m],
                    memory: Some(memory[m]),
                    pinned: Vec::new(),
                    tp: None,
                    knobs: EngineKnobs::default(),
                },
            )
        })
        .collect()
}

/// Places `replicas` (charged `memory` each) on `gpus` GPUs of the cell
/// under `policy`; `Ok(None)` when they all fit, `Ok(Some(reason))` when
/// one does not.
#[allow(clippy::too_many_arguments)]
pub fn placement_fails(
    context: &PlanContext,
    cell: &Cell,
    models: &[String],
    order: &[usize],
    replicas: &[u32],
    memory: &[ReplicaMemory],
    gpus: u32,
    policy: ServingPolicy,
) -> Result<Option<String>, DeployError> {
    let specs: Vec<DeploymentSpec> = deployments(models, cell.precision, replicas, memory, order)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    Ok(place(
        context,
        &fleet(context, cell, gpus),
        &specs,
        policy,
        &TrafficShape::none(),
    )?
    .1)
}

/// Places `specs` on `fleet` under `policy`, with why the first replica
/// that did not fit could not, if one did not.
fn place(
    context: &PlanContext,
    fleet: &FleetSpec,
    specs: &[DeploymentSpec],
    policy: ServingPolicy,
    traffic: &TrafficShape,
) -> Result<(Deployed, Option<String>), DeployError> {
    let deployed = deploy(
        fleet,
        policy,
        specs,
        traffic,
        &DeployInputs {
            catalog: context.catalog,
            architectures: context.architectures,
            measured: context.measured,
            engine: &context.engine,
            efficiency: context.efficiency,
        },
    )?;
    let unplaced = deployed.unplaced.first().map(|u| {
        format!(
            "{} replica(s) of {}: {}",
            u.count,
            specs[u.deployment as usize].name(),
            u.reason
        )
    });
    Ok((deployed, unplaced))
}

/// Places `replicas` (per model, given `memory` each) on `gpus` GPUs of
/// the cell under `policy` and simulates `traffic` (whose targets are
/// `models`, or the one model with replicas when `traffic` is a single
/// model's) against them.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    context: &PlanContext,
    cell: &Cell,
    models: &[String],
    order: &[usize],
    replicas: &[u32],
    memory: &[ReplicaMemory],
    gpus: u32,
    policy: ServingPolicy,
    traffic: &Recorded,
) -> Result<Evaluation, DeployError> {
    let placed = deployments(models, cell.precision, replicas, memory, order);
    let mut evaluation = evaluate_fleet(
        context,
        &fleet(context, cell, gpus),
        &placed,
        models,
        policy,
        traffic,
        false,
    )?;
    evaluation.memory = memory.to_vec();
    Ok(evaluation)
}

/// Places `placed` (each a model index of `models` and its deployment) on
/// `fleet` under `policy` and simulates `traffic` (whose targets are
/// `models`, or the one model with replicas when `traffic` is a single
/// model's) against them. With `give_up`, the run stops as soon as the SLO
/// is certainly missed: more of the measured requests missed than the
/// percentile allows over all of them, so some model missed more than
/// its own share allows. The evaluation is then `abandoned`: it says
/// every model missed and its figures cover the run so far.
pub fn evaluate_fleet(
    context: &PlanContext,
    fleet: &FleetSpec,
    placed: &[(usize, DeploymentSpec)],
    models: &[String],
    policy: ServingPolicy,
    traffic: &Recorded,
    give_up: bool,
) -> Result<Evaluation, DeployError> {
    let gpus = fleet.initial_gpus();
    let specs: Vec<DeploymentSpec> = placed.iter().map(|(_, d)| d.clone()).collect();
    let shape = TrafficShape::measure(&mut traffic.replay(), None)
        .expect("a recording replays without error");
    let (deployed, unplaced) = place(context, fleet, &specs, policy, &shape)?;
    let mut replicas = vec![0; models.len()];
    let mut memory = vec![context.engine.memory; models.len()];
    for (m, d) in placed {
        replicas[*m] = d.replicas;
        memory[*m] = d.memory.unwrap_or(context.engine.memory);
    }
    let mut evaluation = Evaluation {
        gpus,
        replicas,
        memory,
        placements: Vec::new(),
        models: Vec::new(),
        unplaced,
        gpus_used: 0,
        gpu_busy: 0.0,
        output_tokens_per_s: 0.0,
        input_tokens_per_s: 0.0,
        attainment: 0.0,
        abandoned: false,
    };
    if evaluation.unplaced.is_some() {
        return Ok(evaluation);
    }
    evaluation.placements = vec![Vec::new(); models.len()];
    for r in &deployed.replicas {
        let (m, _) = placed[r.deployment as usize];
        evaluation.placements[m].push(r.shards.clone());
    }
    let mut used = vec![false; gpus as usize];
    for r in &deployed.replicas {
        for &g in &r.gpus {
            used[g as usize] = true;
        }
    }
    evaluation.gpus_used = used.iter().filter(|&&u| u).count() as u32;
    let keys: Vec<(String, Precision)> = specs
        .iter()
        .map(|d| (d.model.clone(), d.precision))
        .collect();
    let config = ServeConfig {
        horizon: None,
        warmup: context.warmup,
        interval: Nanos(60_000_000_000),
        routing: context.routing,
        seed: context.seed,
        slo: context.slo,
        engine: context.engine,
        give_up_after: give_up.then(|| {
            let all = traffic.requests();
            let measured = all.len() - all.partition_point(|r| r.arrival < context.warmup);
            miss_budget(measured as u64, context.slo.percentile)
        }),
        max_in_system: context.max_in_system,
    };
    let outcome = serve(
        &deployed.replicas,
        &keys,
        deployed.gpus,
        deployed.devices,
        &mut traffic.replay(),
        &config,
        |_| {},
    )
    .expect("a recording replays without error");
    fill_figures(&mut evaluation, &outcome, context, placed, models);
    if outcome.abandoned {
        evaluation.abandoned = true;
        for m in &mut evaluation.models {
            m.met = false;
        }
    }
    Ok(evaluation)
}

/// Most of `n` measured requests that may miss with the SLO at
/// `percentile` still met, when every request is decided (a plan's runs
/// drain): the largest `m` with `(n - m) / n >= percentile`, compared as
/// the summary compares.
fn miss_budget(n: u64, percentile: f64) -> u64 {
    if n == 0 {
        return 0;
    }
    let met = |misses: u64| (n - misses) as f64 / n as f64 >= percentile;
    let mut m = ((1.0 - percentile) * n as f64).floor() as u64;
    m = m.min(n);
    while m < n && met(m + 1) {
        m += 1;
    }
    while m > 0 && !met(m) {
        m -= 1;
    }
    m
}

/// Per-model and fleet figures of a simulated configuration.
fn fill_figures(
    evaluation: &mut Evaluation,
    outcome: &ServeOutcome,
    context: &PlanContext,
    placed: &[(usize, DeploymentSpec)],
    names: &[String],
) {
    let slo = &context.slo;
    let seconds = outcome.window_seconds();
    let unmeasured = ModelResult {
        attainment: 1.0,
        ttft: 0.0,
        tpot: 0.0,
        met: true,
    };
    let mut models = vec![unmeasured; names.len()];
    for ((m, _), tally) in placed.iter().zip(&outcome.deployments) {
        let summary = tally.summary(seconds, slo);
        models[*m] = ModelResult {
            attainment: summary.attainment.all,
            ttft: tally.ttft.quantile(slo.percentile),
            tpot: tally.tpot.quantile(slo.percentile),
            met: summary.slo_met,
        };
    }
    // Requests for a model with no replica here are unserved: it misses.
    for u in &outcome.unserved {
        if let Some(m) = names.iter().position(|n| *n == u.target.model) {
            models[m].met = false;
            models[m].attainment = 0.0;
        }
    }
    evaluation.models = models;
    let overall = outcome.overall().summary(seconds, slo);
    evaluation.attainment = overall.attainment.all;
    evaluation.output_tokens_per_s = overall.output_tokens_per_second;
    evaluation.input_tokens_per_s = overall.prompt_tokens_per_second;
    let window = (outcome.window.1.saturating_sub(outcome.window.0)).max(1) as f64;
    evaluation.gpu_busy = outcome
        .gpu_busy_ns
        .iter()
        .map(|&b| b as f64 / window)
        .sum::<f64>()
        / f64::from(evaluation.gpus.max(1));
}

/// The performance model of one replica of `model` alone on the cell's
/// fleet (as many GPUs as its profile spans), or why it cannot be placed.
pub fn lone_replica(
    context: &PlanContext,
    cell: &Cell,
    model: &str,
    gpu_count: u32,
) -> Result<crate::perf::ReplicaModel, String> {
    let spec = DeploymentSpec {
        model: model.to_string(),
        precision: cell.precision,
        replicas: 1,
        memory: None,
        pinned: Vec::new(),
        tp: None,
        knobs: EngineKnobs::default(),
    };
    lone_replica_on(context, &fleet(context, cell, gpu_count), &spec)
}

/// The performance model of the one replica `spec` alone on `fleet`, or
/// why it cannot be placed.
pub fn lone_replica_on(
    context: &PlanContext,
    fleet: &FleetSpec,
    spec: &DeploymentSpec,
) -> Result<crate::perf::ReplicaModel, String> {
    let (deployed, _) = place(
        context,
        fleet,
        std::slice::from_ref(spec),
        ServingPolicy::Memory(Policy::Spread),
        &TrafficShape::none(),
    )
    .map_err(|e| e.to_string())?;
    match (
        deployed.replicas.into_iter().next(),
        deployed.unplaced.first(),
    ) {
        (Some(replica), _) => Ok(replica.model),
        (None, Some(u)) => Err(format!("{} does not fit: {}", spec.name(), u.reason)),
        (None, None) => Err(format!("{} was not placed", spec.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::miss_budget;

    #[test]
    fn the_miss_budget_is_the_most_misses_the_percentile_allows() {
        assert_eq!(miss_budget(100, 0.99), 1);
        assert_eq!(miss_budget(99, 0.99), 0);
        assert_eq!(miss_budget(1000, 0.95), 50);
        assert_eq!(miss_budget(0, 0.99), 0);
        // Every budget is exact: one more miss would fail the percentile.
        for n in 1..500u64 {
            for p in [0.5, 0.9, 0.95, 0.99, 0.999] {
                let m = miss_budget(n, p);
                assert!((n - m) as f64 / n as f64 >= p || m == 0, "{n} {p}");
                assert!(m == n || ((n - m - 1) as f64 / n as f64) < p, "{n} {p}");
            }
        }
    }
}
