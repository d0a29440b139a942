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
//!    capacity for every model (the repairs' extra capacity taken back
//!    first, then every model's replicas cut alike below what it needed
//!    alone, as little as it takes) is simulated; if it meets the SLO it
//!    becomes the answer and the trim goes on, otherwise it ends, recorded.
//!
//! Besides the answer, a plan reports the **throughput bound**: every
//! model's demand carried by its most GPU-efficient configuration at that
//! configuration's steady-state throughput (no latency target), in
//! fractions of GPUs; no fleet of this space with fewer GPUs carries the
//! traffic, whatever its latency. And the **composition optimum**: the
//! cheapest composition with every model at the replicas it needed alone
//! (the fewest that met where one fewer missed). It is not a proof that no
//! cheaper fleet meets the SLO: attainment is not always monotonic in the
//! replica count (a simulation's routing can make n + 1 replicas miss
//! where n met), configurations whose estimate another of their mode and
//! precision beats are not searched, and a model is not split over two
//! configurations. The trim's last step is the evidence kept: the
//! cheapest composition below the answer, simulated, and missed.

pub mod compose;
pub mod layout;
pub mod rate;
pub mod space;
mod verify;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::Precision;
use crate::serve::traffic::Recorded;
use crate::serve::EngineKnobs;

use super::evaluate::Evaluation;
use super::outcome::Verdict;
use super::PlanContext;
pub use compose::{compose, Choice, Composition};
use rate::{capacity, Capacity, CountRange};
use space::{configurations, Mode, Pruned, Viable};
use verify::search;

/// Most rounds of raising demands after a verification misses.
pub const MAX_REPAIRS: u32 = 24;

/// Most trims tried.
pub const MAX_TRIMS: u32 = 32;

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
    /// Layouts of the plan left out of the mixed space, each with why.
    pub left_out: Vec<String>,
    /// Per model, its space.
    pub models: Vec<ModelSpace>,
    /// How the search ended.
    pub verdict: Verdict,
    /// Index in `steps` of the answer, when met.
    pub answer: Option<usize>,
    /// Fewest GPUs the throughput bound allows (see the module).
    pub throughput_bound: u32,
    /// The cheapest composition with every model at the replicas its
    /// traffic needed alone (see the module), when there is one.
    pub composition_optimum: Option<Composition>,
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
            left_out: self.left_out.clone(),
            throughput_bound: 0,
            models,
            verdict: Verdict::Met,
            answer: None,
            composition_optimum: None,
            boosts: vec![1.0; self.models.len()],
            steps: Vec::new(),
        };
        plan.throughput_bound = throughput_bound(&plan.modes, &plan.models);
        plan.verdict = search(context, &mut plan, traffic);
        plan
    }
}

/// The partition modes of `space`: every kind x layout valid together
/// whose partitions are all of one size; the others, each with why it was
/// left out.
pub fn modes(space: &MixedSpace) -> (Vec<Mode>, Vec<String>) {
    let mut modes = Vec::new();
    let mut left_out = Vec::new();
    for &(kind, price) in &space.kinds {
        for layout in &space.layouts {
            let Ok(built) = layout.build(kind) else {
                left_out.push(format!("{kind} {layout}: not a layout of {kind}"));
                continue;
            };
            if built.partitions().windows(2).any(|w| w[0] != w[1]) {
                // A replica would fit some partitions and not others, which
                // the composition's count of partitions cannot say.
                left_out.push(format!(
                    "{kind} {layout}: partitions of different sizes (its one-layout cells plan it)"
                ));
                continue;
            }
            {
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
    (modes, left_out)
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
    let (modes, left_out) = modes(space);
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
        left_out,
        models: spaces,
        verdict: Verdict::Met,
        answer: None,
        throughput_bound: bound,
        composition_optimum: None,
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
