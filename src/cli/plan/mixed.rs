//! The mixed fleet of `aimsim plan` on a serving scenario: per model a
//! configuration, partition modes mixed in one fleet, one plan per rate,
//! and the files that apply it (a serving scenario that replays it, and
//! every replica's deployment settings).

use aimsim::capacity::mixed::{
    measure_models, modes, plan_measured, MixedPlan, MixedSpace, ModelSpace,
};
use aimsim::capacity::{per_model, PlanContext, RatedTraffic};
use aimsim::profile::Precision;
use aimsim::scenario::answer::{Answer, AnswerDeployment};
use aimsim::scenario::{ServePlanSpec, ServeScenario};
use aimsim::serve::{EngineConfig, EngineKnobs};
use rayon::prelude::*;

use crate::cli::progress::{progress_bar, with_threads};
use crate::cli::CliError;

/// The mixed plan at one rate, and the same plan with every model held to
/// each precision in turn (when the plan has several).
pub struct MixedAtRate {
    /// Each model at its own precision.
    pub plan: MixedPlan,
    /// Every model at one precision.
    pub held: Vec<(Precision, MixedPlan)>,
}

/// The mixed plan's space: the plan's kinds (priced when every kind has a
/// price), partition modes, precisions and engine settings.
pub fn mixed_space(spec: &ServePlanSpec, scenario: &ServeScenario) -> Result<MixedSpace, CliError> {
    // Costs are in money only when every kind has a price; otherwise GPUs.
    let priced = spec.kinds.iter().all(|k| scenario.prices.contains_key(k));
    let space = MixedSpace {
        kinds: spec
            .kinds
            .iter()
            .map(|&k| {
                let price = if priced { scenario.prices[&k] } else { 1.0 };
                (k, price)
            })
            .collect(),
        layouts: spec.mixed_layouts.clone(),
        precisions: spec.precisions.clone(),
        knobs: knobs(spec, &scenario.engine),
    };
    if space.knobs.is_empty() {
        return Err(CliError::Usage(format!(
            "plan.max_seqs: every value is above every plan.max_batched_tokens ({:?}); a replica must be able to decode all its sequences in one iteration",
            spec.max_batched_tokens.clone().unwrap_or(vec![scenario.engine.limits.max_batched_tokens])
        )));
    }
    Ok(space)
}

/// The mixed plan at every rate of `traffic` (one per `plan.rate_scales`);
/// `measured`, when given, holds every model's measured space at every
/// rate (from shards) instead of measuring them here.
pub fn mixed_plans(
    context: &PlanContext,
    spec: &ServePlanSpec,
    scenario: &ServeScenario,
    traffic: &[RatedTraffic],
    models: &[String],
    threads: Option<u32>,
    measured: Option<Vec<Vec<ModelSpace>>>,
) -> Result<Vec<MixedAtRate>, CliError> {
    let space = mixed_space(spec, scenario)?;
    let mut measured = measured.map(Vec::into_iter);
    let mut plans = Vec::with_capacity(traffic.len());
    for rated in traffic {
        let spaces = match measured.as_mut().and_then(Iterator::next) {
            Some(spaces) => spaces,
            None => {
                let every: Vec<usize> = (0..models.len()).collect();
                measure(context, &space, models, rated, &every, threads)?
            }
        };
        let plan = with_threads(threads, || {
            plan_measured(context, &space, spaces, &rated.recorded)
        })?;
        let held = if spec.precisions.len() > 1 {
            with_threads(threads, || {
                spec.precisions
                    .par_iter()
                    .map(|&p| (p, plan.restricted(context, p, &rated.recorded)))
                    .collect()
            })?
        } else {
            Vec::new()
        };
        plans.push(MixedAtRate { plan, held });
    }
    Ok(plans)
}

/// The measured spaces of `models[m]` for each `m` of `which` at the rate
/// of `rated`, with a progress bar.
pub fn measure(
    context: &PlanContext,
    space: &MixedSpace,
    models: &[String],
    rated: &RatedTraffic,
    which: &[usize],
    threads: Option<u32>,
) -> Result<Vec<ModelSpace>, CliError> {
    let (modes, _) = modes(space);
    let split = per_model(&rated.recorded);
    let bar = progress_bar(0, "configurations");
    let spaces = with_threads(threads, || {
        measure_models(
            context,
            space,
            &modes,
            models,
            &split,
            which,
            |done, all| {
                bar.set_length(all as u64);
                bar.set_position(done as u64);
            },
        )
    })?;
    bar.finish_and_clear();
    Ok(spaces)
}

/// The engine settings a mixed plan tries: every `plan.max_seqs` (default:
/// the engine's and a quarter of it) x `plan.max_batched_tokens` (default:
/// the engine's) with no more sequences than tokens; a value equal to the
/// engine's is left to it.
fn knobs(spec: &ServePlanSpec, engine: &EngineConfig) -> Vec<EngineKnobs> {
    let limits = engine.limits;
    let seqs = spec
        .max_seqs
        .clone()
        .unwrap_or_else(|| vec![limits.max_seqs, (limits.max_seqs / 4).max(1)]);
    let tokens = spec
        .max_batched_tokens
        .clone()
        .unwrap_or_else(|| vec![limits.max_batched_tokens]);
    let mut knobs = Vec::new();
    for &t in &tokens {
        for &s in seqs.iter().filter(|&&s| s <= t) {
            let k = EngineKnobs {
                max_seqs: (s != limits.max_seqs).then_some(s),
                max_batched_tokens: (t != limits.max_batched_tokens).then_some(t),
            };
            if !knobs.contains(&k) {
                knobs.push(k);
            }
        }
    }
    knobs
}

/// The serving scenario of a mixed plan's answer, if it has one.
pub fn mixed_answer<'a>(
    scenario: &ServeScenario,
    plan: &'a MixedPlan,
    rate_scale: f64,
) -> Option<Answer<'a>> {
    let step = plan.answer()?;
    let evaluation = &step.evaluation;
    let groups = plan
        .modes
        .iter()
        .zip(&step.composition.gpus)
        .filter(|(_, &g)| g > 0)
        .map(|(mode, &count)| aimsim::sim::GpuGroup {
            kind: mode.kind,
            count,
            layout: mode.layout.clone(),
        })
        .collect();
    let deployments = plan
        .models
        .iter()
        .enumerate()
        .map(|(m, space)| {
            let choice = step.composition.choices[m];
            let config = space.viable[choice.viable].config;
            AnswerDeployment {
                model: &space.model,
                precision: config.precision,
                tp: Some(config.tp),
                knobs: config.knobs,
                replicas: choice.replicas,
                memory: evaluation.memory[m],
                placement: &evaluation.placements[m],
            }
        })
        .collect();
    Some(Answer {
        name: format!("answer-mixed-x{rate_scale}"),
        description: format!(
            "{}: the mixed-fleet answer of `aimsim plan` ({} GPUs), traffic x{rate_scale}",
            scenario.name, evaluation.gpus
        ),
        groups,
        policy: aimsim::serve::ServingPolicy::LoadAware,
        deployments,
        pace: scenario.traffic.pace().times(rate_scale),
    })
}
