//! Mixed plans: per model a configuration (precision, partition mode,
//! tensor-parallel degree) and a replica count, per partition mode a
//! number of GPUs, modes mixed in one fleet; the cheapest such fleet that
//! meets every model's SLO in simulation.
//!
//! 1. **Space and physics** ([`space`]): every configuration of every
//!    model; those without a profile, whose weights do not fit, or whose
//!    requests miss the targets even alone on an idle replica are pruned,
//!    with the reason.
//! 2. **Capacity** ([`rate`]): per surviving configuration, the highest
//!    rate one replica sustains within the SLO on the model's traffic
//!    (bisection on rate, the model's requests replayed faster or slower);
//!    then, for every configuration that could be its mode's cheapest, the
//!    fewest replicas that meet the SLO on the model's traffic at its own
//!    rate (replicas pool, so this is often fewer than rate / capacity).
//!    A configuration whose fewest possible GPUs (at its throughput bound)
//!    exceed what another of the same mode needs at its one-replica
//!    capacity is dominated and not searched.
//! 3. **Composition** ([`compose`]): the cheapest choice per model, exact
//!    by branch and bound over those replica counts.
//! 4. **Verification**: the composition laid out ([`layout`]) with every
//!    replica pinned, and every model's traffic simulated together on it.
//!    A model that misses gets more capacity (its demand raised by an
//!    eighth, at least one more replica) and the composition is solved and
//!    simulated again, until every model meets the SLO.
//! 5. **Trim**: the composition cheaper than the answer with the most
//!    capacity for every model (all demands scaled down alike, as little as
//!    needed) is simulated; if it meets the SLO it becomes the answer and
//!    the trim goes on, otherwise it ends, recorded.
//!
//! Two lower bounds are reported. The **throughput bound**: every model's
//! demand carried by its most GPU-efficient configuration at that
//! configuration's steady-state throughput (no latency target), in
//! fractions of GPUs; no fleet of this space with fewer GPUs carries the
//! traffic, whatever its latency. The **composition bound**: the cheapest
//! composition with every model at the replicas its traffic needs alone;
//! replicas on their own hardware partitions do not slow each other in
//! the simulator, and fewer replicas than a model needs alone miss, so no
//! fleet giving each model one configuration costs less (configurations
//! dominated in their mode are not searched, which can only hide an
//! equal-cost alternative, and a model is not split over two
//! configurations). An answer at the composition bound is optimal in
//! that space; its gap to the throughput bound is what the SLO and whole
//! GPUs cost.

pub mod compose;
pub mod layout;
pub mod rate;
pub mod space;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::Precision;
use crate::serve::traffic::Recorded;
use crate::serve::{EngineKnobs, ServingPolicy};

use super::evaluate::{evaluate_fleet, Evaluation};
use super::outcome::Verdict;
use super::PlanContext;
pub use compose::{compose, Choice, Composition};
use rate::{capacity, Capacity, CountRange};
use space::{configurations, Mode, Pruned, Viable};

/// Most rounds of raising demands after a verification misses.
pub const MAX_REPAIRS: u32 = 24;

/// Most trims tried.
pub const MAX_TRIMS: u32 = 32;

/// Raising a missing model's demand by this factor in a repair.
const REPAIR_FACTOR: f64 = 1.125;

/// What a mixed plan may choose from.
#[derive(Debug, Clone)]
pub struct MixedSpace {
    /// GPU kinds, each with its price per GPU-hour (1 when none is given).
    pub kinds: Vec<(GpuKind, f64)>,
    /// Partition modes (layouts) a GPU may be in.
    pub layouts: Vec<LayoutSpec>,
    /// Precisions a model may be served at.
    pub precisions: Vec<Precision>,
    /// Engine settings a replica may run with (each a configuration of its
    /// own; the default settings: the scenario's engine).
    pub knobs: Vec<EngineKnobs>,
}

/// One model's configurations and what each sustains.
#[derive(Debug, Clone)]
pub struct ModelSpace {
    /// The model.
    pub model: String,
    /// Its measured request rate, requests per second.
    pub rate: f64,
    /// Configurations that survived pruning.
    pub viable: Vec<Viable>,
    /// Capacity of one replica of each viable configuration.
    pub capacities: Vec<Capacity>,
    /// Replicas of each viable configuration the model's traffic needs.
    pub needed: Vec<Needed>,
    /// Configurations pruned, with why.
    pub pruned: Vec<Pruned>,
}

impl ModelSpace {
    /// GPUs (fractional) one replica of viable configuration `i` takes.
    pub fn gpus_per_replica(&self, modes: &[Mode], i: usize) -> f64 {
        let c = self.viable[i].config;
        f64::from(c.tp) / f64::from(modes[c.mode].partitions)
    }
}

/// Replicas of one configuration a model's traffic needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// This many meet the SLO, one fewer does not (found by simulation,
    /// with the simulations run).
    Replicas(u32, u32),
    /// Not searched: viable configuration `by` of the same mode and
    /// precision takes fewer partitions at its one-replica capacity than
    /// this one could at its throughput bound.
    Dominated(usize),
    /// Even this many (as many as `plan.max_gpus` GPUs hold) miss.
    Beyond(u32),
}

impl Needed {
    /// The replica count, when found.
    pub fn replicas(self) -> Option<u32> {
        match self {
            Needed::Replicas(n, _) => Some(n),
            _ => None,
        }
    }
}

/// Which stage simulated a composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixedStage {
    /// The composition as solved (or re-solved after a repair).
    Verify,
    /// A cheaper composition tried.
    Trim,
}

/// One composition simulated.
#[derive(Debug, Clone)]
pub struct MixedStep {
    /// The stage.
    pub stage: MixedStage,
    /// The composition.
    pub composition: Composition,
    /// The simulation of it.
    pub evaluation: Evaluation,
}

/// A mixed plan's result.
#[derive(Debug, Clone)]
pub struct MixedPlan {
    /// The partition modes it could use.
    pub modes: Vec<Mode>,
    /// Per model, its space.
    pub models: Vec<ModelSpace>,
    /// How the search ended.
    pub verdict: Verdict,
    /// Index in `steps` of the answer, when met.
    pub answer: Option<usize>,
    /// Fewest GPUs the throughput bound allows (see the module).
    pub throughput_bound: u32,
    /// The cheapest composition with every model at the replicas its
    /// traffic needs alone (see the module), when there is one.
    pub composition_bound: Option<Composition>,
    /// Per model, its demand multiplier when the search ended (1 unless
    /// repairs raised it).
    pub boosts: Vec<f64>,
    /// Every composition simulated, in order.
    pub steps: Vec<MixedStep>,
}

impl MixedPlan {
    /// The answer's step, when met.
    pub fn answer(&self) -> Option<&MixedStep> {
        self.answer.map(|i| &self.steps[i])
    }

    /// The same plan with every model held to `precision`: configurations
    /// of other precisions set aside (the capacities already measured are
    /// reused), then composed, verified on `traffic` and trimmed afresh.
    pub fn restricted(
        &self,
        context: &PlanContext,
        precision: Precision,
        traffic: &Recorded,
    ) -> MixedPlan {
        let models = self
            .models
            .iter()
            .map(|s| {
                let keep: Vec<usize> = (0..s.viable.len())
                    .filter(|&i| s.viable[i].config.precision == precision)
                    .collect();
                let renumber = |n: Needed| match n {
                    Needed::Dominated(by) => Needed::Dominated(
                        keep.iter().position(|&k| k == by).expect("same precision"),
                    ),
                    other => other,
                };
                ModelSpace {
                    model: s.model.clone(),
                    rate: s.rate,
                    viable: keep.iter().map(|&i| s.viable[i].clone()).collect(),
                    capacities: keep.iter().map(|&i| s.capacities[i]).collect(),
                    needed: keep.iter().map(|&i| renumber(s.needed[i])).collect(),
                    pruned: s
                        .pruned
                        .iter()
                        .filter(|p| p.config.precision == precision)
                        .cloned()
                        .collect(),
                }
            })
            .collect();
        let mut plan = MixedPlan {
            modes: self.modes.clone(),
            throughput_bound: 0,
            models,
            verdict: Verdict::Met,
            answer: None,
            composition_bound: None,
            boosts: vec![1.0; self.models.len()],
            steps: Vec::new(),
        };
        plan.throughput_bound = throughput_bound(&plan.modes, &plan.models);
        plan.verdict = search(context, &mut plan, traffic);
        plan
    }
}

/// The partition modes of `space`: every kind x layout valid together.
pub fn modes(space: &MixedSpace) -> Vec<Mode> {
    let mut modes = Vec::new();
    for &(kind, price) in &space.kinds {
        for layout in &space.layouts {
            if let Ok(built) = layout.build(kind) {
                modes.push(Mode {
                    kind,
                    layout: layout.clone(),
                    partitions: built.partitions().len() as u32,
                    partition: built.partitions().iter().copied().min().unwrap_or_default(),
                    price,
                });
            }
        }
    }
    modes
}

/// Plans the cheapest mixed fleet for `traffic` (targets `models`; split
/// per model in `per_model`); `progress` is called with the capacity
/// searches done so far and their number.
pub fn plan_mixed(
    context: &PlanContext,
    space: &MixedSpace,
    models: &[String],
    traffic: &Recorded,
    per_model: &[Recorded],
    progress: impl Fn(usize, usize) + Sync,
) -> MixedPlan {
    let modes = modes(space);
    let warmup = context.warmup;
    let mut spaces: Vec<ModelSpace> = models
        .par_iter()
        .zip(per_model)
        .map(|(model, recorded)| {
            let all = recorded.requests();
            let measured = &all[all.partition_point(|r| r.arrival < warmup)..];
            let (viable, pruned) = configurations(
                context,
                model,
                &space.precisions,
                &modes,
                &space.knobs,
                measured,
            );
            ModelSpace {
                model: model.clone(),
                rate: measured_rate(recorded, warmup),
                viable,
                capacities: Vec::new(),
                needed: Vec::new(),
                pruned,
            }
        })
        .collect();
    let jobs: Vec<(usize, usize)> = spaces
        .iter()
        .enumerate()
        .flat_map(|(m, s)| (0..s.viable.len()).map(move |i| (m, i)))
        .collect();
    let done = AtomicUsize::new(0);
    let measured: Vec<Capacity> = jobs
        .par_iter()
        .map(|&(m, i)| {
            let s = &spaces[m];
            let c = capacity(
                context,
                &s.model,
                &modes,
                &s.viable[i],
                &per_model[m],
                s.rate,
            );
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            c
        })
        .collect();
    for (&(m, _), c) in jobs.iter().zip(measured) {
        spaces[m].capacities.push(c);
    }
    let plans: Vec<(usize, usize, Option<CountRange>)> = jobs
        .iter()
        .map(|&(m, i)| (m, i, pooled_search(context, &modes, &spaces[m], i)))
        .collect();
    let done = AtomicUsize::new(0);
    let found: Vec<Needed> = plans
        .par_iter()
        .map(|&(m, i, search)| {
            let s = &spaces[m];
            let needed = match search {
                None => Needed::Dominated(dominating(s, i)),
                Some(range) => {
                    match rate::replicas_needed(
                        context,
                        &s.model,
                        &modes,
                        &s.viable[i],
                        &per_model[m],
                        range,
                    ) {
                        (Some(n), runs) => Needed::Replicas(n, runs),
                        (None, _) => Needed::Beyond(range.cap),
                    }
                }
            };
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, plans.len());
            needed
        })
        .collect();
    for (&(m, _, _), n) in plans.iter().zip(found) {
        spaces[m].needed.push(n);
    }
    let bound = throughput_bound(&modes, &spaces);
    let mut plan = MixedPlan {
        modes,
        models: spaces,
        verdict: Verdict::Met,
        answer: None,
        throughput_bound: bound,
        composition_bound: None,
        boosts: vec![1.0; models.len()],
        steps: Vec::new(),
    };
    plan.verdict = search(context, &mut plan, traffic);
    plan
}

/// Requests per second of `recorded` after `warmup`, to its last arrival.
fn measured_rate(recorded: &Recorded, warmup: crate::time::Nanos) -> f64 {
    let all = recorded.requests();
    let from = all.partition_point(|r| r.arrival < warmup);
    let count = all.len() - from;
    let last = all.last().map_or(0, |r| r.arrival.0);
    let seconds = last.saturating_sub(warmup.0) as f64 / 1e9;
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        count as f64
    }
}

/// Partitions of its mode the model's demand takes at viable configuration
/// `i`'s throughput bound (fewest possible) and at its one-replica
/// capacity (an estimate; unbounded when one replica meets no rate).
fn partitions_range(s: &ModelSpace, i: usize) -> (f64, f64) {
    let c = s.capacities[i];
    let slots = f64::from(s.viable[i].config.slots());
    let at = |rate: f64| {
        if rate > 0.0 {
            (s.rate / rate - 1e-9).ceil().max(1.0) * slots
        } else {
            f64::INFINITY
        }
    };
    (at(c.bound), at(c.rate))
}

/// The viable configuration of the same mode and precision as `i` that
/// takes the fewest partitions at its one-replica capacity (the first
/// such). Precisions are kept apart so that a plan held to one precision
/// ([`MixedPlan::restricted`]) finds every mode's best searched.
fn dominating(s: &ModelSpace, i: usize) -> usize {
    let config = s.viable[i].config;
    (0..s.viable.len())
        .filter(|&j| {
            let other = s.viable[j].config;
            other.mode == config.mode && other.precision == config.precision
        })
        .min_by(|&a, &b| {
            partitions_range(s, a)
                .1
                .total_cmp(&partitions_range(s, b).1)
        })
        .unwrap_or(i)
}

/// Whether to search the replicas viable configuration `i` needs, and if
/// so where; `None` when it is dominated.
fn pooled_search(
    context: &PlanContext,
    modes: &[Mode],
    s: &ModelSpace,
    i: usize,
) -> Option<CountRange> {
    let (fewest, estimate) = partitions_range(s, i);
    let best = partitions_range(s, dominating(s, i)).1;
    if fewest > best {
        return None;
    }
    let config = s.viable[i].config;
    let slots = f64::from(config.slots());
    let cap = (f64::from(context.max_gpus) * f64::from(modes[config.mode].partitions) / slots)
        .floor()
        .max(1.0) as u32;
    let lower = (fewest / slots).min(f64::from(cap)) as u32;
    let guess = (estimate / slots).min(f64::from(cap)) as u32;
    Some(CountRange { lower, guess, cap })
}

/// The throughput bound in GPUs (see the module).
fn throughput_bound(modes: &[Mode], spaces: &[ModelSpace]) -> u32 {
    let gpus: f64 = spaces
        .iter()
        .map(|s| {
            (0..s.viable.len())
                .filter(|&i| s.capacities[i].bound > 0.0)
                .map(|i| s.rate * s.gpus_per_replica(modes, i) / s.capacities[i].bound)
                .fold(f64::INFINITY, f64::min)
        })
        .sum();
    if gpus.is_finite() {
        (gpus - 1e-9).ceil().max(0.0) as u32
    } else {
        0
    }
}

/// Per model, the cheapest option in each mode: the replicas its traffic
/// needs, raised by `1 + (boosts[m] - 1) * scale` (the repairs' extra
/// capacity, all of it at `scale` 1, none at 0).
fn options(modes: &[Mode], spaces: &[ModelSpace], boosts: &[f64], scale: f64) -> Vec<Vec<Choice>> {
    spaces
        .iter()
        .zip(boosts)
        .map(|(s, &boost)| {
            let mut best: Vec<Option<(Choice, (f64, f64))>> = vec![None; modes.len()];
            for (i, v) in s.viable.iter().enumerate() {
                let Some(needed) = s.needed[i].replicas() else {
                    continue;
                };
                let cap = s.capacities[i];
                let raise = 1.0 + (boost - 1.0) * scale;
                let replicas = (f64::from(needed) * raise - 1e-9)
                    .ceil()
                    .max(f64::from(needed));
                if replicas > f64::from(u32::MAX / 8) {
                    continue;
                }
                let replicas = replicas as u32;
                let choice = Choice {
                    viable: i,
                    mode: v.config.mode,
                    replicas,
                    slots: replicas * v.config.tp,
                    host: v.host,
                };
                // Fewest partitions, then most capacity (one replica's, times
                // the replicas), then the fastest for a user.
                let key = (f64::from(replicas) * cap.rate, cap.tokens_per_user);
                let slot = &mut best[v.config.mode];
                let better = match slot {
                    None => true,
                    Some((b, k)) => {
                        choice.slots < b.slots
                            || (choice.slots == b.slots
                                && (key.0 > k.0 || (key.0 == k.0 && key.1 > k.1)))
                    }
                };
                if better {
                    *slot = Some((choice, key));
                }
            }
            let mut list: Vec<Choice> = best.into_iter().flatten().map(|(c, _)| c).collect();
            let cost = |c: &Choice| {
                modes[c.mode].price * f64::from(c.slots) / f64::from(modes[c.mode].partitions)
            };
            list.sort_by(|a, b| cost(a).total_cmp(&cost(b)).then(a.mode.cmp(&b.mode)));
            list
        })
        .collect()
}

/// Verification, repairs and trims; fills `plan.steps`, `plan.answer` and
/// `plan.boosts`.
fn search(context: &PlanContext, plan: &mut MixedPlan, traffic: &Recorded) -> Verdict {
    if let Some(s) = plan.models.iter().find(|s| s.viable.is_empty()) {
        let why = s
            .pruned
            .iter()
            .map(|p| format!("{}: {}", p.config.label(&plan.modes), p.reason))
            .collect::<Vec<_>>()
            .join("; ");
        return Verdict::DoesNotFit(format!("{} has no configuration left ({why})", s.model));
    }
    plan.composition_bound = solve(context, plan, 0.0);
    let mut repairs = 0;
    loop {
        let Some(composition) = solve(context, plan, 1.0) else {
            return Verdict::NotFound(
                "no composition of the configurations left holds the demand".into(),
            );
        };
        if composition.total_gpus() > context.max_gpus {
            return Verdict::NotFound(format!(
                "the cheapest composition needs {} GPUs, above plan.max_gpus = {}",
                composition.total_gpus(),
                context.max_gpus
            ));
        }
        let evaluation = match simulate(context, plan, &composition, traffic) {
            Ok(e) => e,
            Err(reason) => return Verdict::NotFound(reason),
        };
        let met = evaluation.met();
        plan.steps.push(MixedStep {
            stage: MixedStage::Verify,
            composition: composition.clone(),
            evaluation: evaluation.clone(),
        });
        if met {
            plan.answer = Some(plan.steps.len() - 1);
            break;
        }
        if let Some(reason) = &evaluation.unplaced {
            return Verdict::NotFound(format!("the composition cannot be placed: {reason}"));
        }
        repairs += 1;
        if repairs > MAX_REPAIRS {
            return Verdict::NotFound(format!(
                "models still miss the SLO after {MAX_REPAIRS} rounds of adding capacity"
            ));
        }
        for (m, result) in evaluation.models.iter().enumerate() {
            if result.met {
                continue;
            }
            let s = &plan.models[m];
            let choice = composition.choices[m];
            let needed = s.needed[choice.viable].replicas().unwrap_or(1);
            let one_more = f64::from(choice.replicas + 1) / f64::from(needed);
            plan.boosts[m] = (plan.boosts[m] * REPAIR_FACTOR).max(one_more);
        }
    }
    trim(context, plan, traffic);
    Verdict::Met
}

/// The composition for every demand scaled by `scale`.
fn solve(context: &PlanContext, plan: &MixedPlan, scale: f64) -> Option<Composition> {
    compose(
        &plan.modes,
        &context.node,
        &options(&plan.modes, &plan.models, &plan.boosts, scale),
    )
}

/// Tries cheaper compositions until one misses (see the module).
fn trim(context: &PlanContext, plan: &mut MixedPlan, traffic: &Recorded) {
    for _ in 0..MAX_TRIMS {
        let best = plan
            .answer()
            .expect("an answer to trim")
            .composition
            .clone();
        if best.total_gpus() <= plan.throughput_bound {
            return;
        }
        // The largest share of the repairs' extra capacity whose
        // composition is cheaper; none is cheaper when even without it
        // (every model at the replicas it needs alone) none is.
        let cheaper =
            |scale: f64| solve(context, plan, scale).filter(|c| c.cost < best.cost - 1e-9);
        let Some(mut candidate) = cheaper(0.0) else {
            return;
        };
        let (mut low, mut high) = (0.0, 1.0);
        for _ in 0..16 {
            let mid = (low + high) / 2.0;
            match cheaper(mid) {
                Some(c) => {
                    low = mid;
                    candidate = c;
                }
                None => high = mid,
            }
        }
        let evaluation = match simulate(context, plan, &candidate, traffic) {
            Ok(e) => e,
            Err(_) => return,
        };
        let met = evaluation.met();
        plan.steps.push(MixedStep {
            stage: MixedStage::Trim,
            composition: candidate,
            evaluation,
        });
        if !met {
            return;
        }
        plan.answer = Some(plan.steps.len() - 1);
    }
}

/// Lays `composition` out, pins every replica and simulates the whole
/// traffic on it.
fn simulate(
    context: &PlanContext,
    plan: &MixedPlan,
    composition: &Composition,
    traffic: &Recorded,
) -> Result<Evaluation, String> {
    let configs: Vec<_> = composition
        .choices
        .iter()
        .zip(&plan.models)
        .map(|(c, s)| s.viable[c.viable].config)
        .collect();
    let tps: Vec<u32> = configs.iter().map(|c| c.tp).collect();
    let layout::LaidOut { fleet, pinned } =
        layout::lay_out(&plan.modes, &context.node, composition, &tps)?;
    let names: Vec<String> = plan.models.iter().map(|s| s.model.clone()).collect();
    let placed: Vec<_> = configs
        .iter()
        .zip(pinned)
        .enumerate()
        .map(|(m, (config, pins))| {
            let mut d = config.deployment(context, &names[m], composition.choices[m].replicas);
            d.pinned = pins;
            (m, d)
        })
        .collect();
    evaluate_fleet(
        context,
        &fleet,
        &placed,
        &names,
        ServingPolicy::LoadAware,
        traffic,
        false,
    )
    .map_err(|e| e.to_string())
}
