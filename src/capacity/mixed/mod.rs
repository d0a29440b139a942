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
pub mod measure;
pub mod rate;
pub mod space;
mod verify;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::Precision;
use crate::serve::traffic::Recorded;
use crate::serve::EngineKnobs;

use super::evaluate::Evaluation;
use super::outcome::Verdict;
use super::PlanContext;
pub use compose::{compose, Choice, Composition};
pub use measure::measure_models;
use rate::Capacity;
use space::{Mode, Pruned, Viable};
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
    let (modes, _) = modes(space);
    let every: Vec<usize> = (0..models.len()).collect();
    let spaces = measure_models(context, space, &modes, models, per_model, &every, progress);
    plan_measured(context, space, spaces, traffic)
}

/// The plan from every model's measured space (in the plan's model order,
/// from [`measure_models`], perhaps in shards): composed, verified on
/// `traffic` and trimmed.
pub fn plan_measured(
    context: &PlanContext,
    space: &MixedSpace,
    spaces: Vec<ModelSpace>,
    traffic: &Recorded,
) -> MixedPlan {
    let (modes, left_out) = modes(space);
    let bound = throughput_bound(&modes, &spaces);
    let mut plan = MixedPlan {
        modes,
        left_out,
        boosts: vec![1.0; spaces.len()],
        models: spaces,
        verdict: Verdict::Met,
        answer: None,
        throughput_bound: bound,
        composition_optimum: None,
        steps: Vec::new(),
    };
    plan.verdict = search(context, &mut plan, traffic);
    plan
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
