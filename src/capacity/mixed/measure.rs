//! Stage 2 of a mixed plan, model by model: each model's configurations,
//! the capacity of one replica of each, and the replicas its traffic
//! needs. A model's measurements depend on its own traffic alone, so a
//! plan's models may be measured apart (one shard each, `aimsim plan
//! --shard`) and put together by [`super::plan_measured`].

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::serve::traffic::Recorded;

use super::super::PlanContext;
use super::rate::{self, capacity, Capacity, CountRange};
use super::space::{configurations, Mode};
use super::{MixedSpace, ModelSpace, Needed};

/// The space of `model` (its traffic `recorded`): its configurations,
/// viable or pruned, not yet measured.
pub fn unmeasured(
    context: &PlanContext,
    space: &MixedSpace,
    modes: &[Mode],
    model: &str,
    recorded: &Recorded,
) -> ModelSpace {
    let all = recorded.requests();
    let measured = &all[all.partition_point(|r| r.arrival < context.warmup)..];
    let (viable, pruned) = configurations(
        context,
        model,
        &space.precisions,
        modes,
        &space.knobs,
        measured,
    );
    ModelSpace {
        model: model.to_string(),
        rate: measured_rate(recorded, context.warmup),
        viable,
        capacities: Vec::new(),
        needed: Vec::new(),
        pruned,
    }
}

/// The measured spaces of `models[m]` for each `m` of `which`, in that
/// order (`per_model[m]` its traffic); `progress` is called with the
/// searches done so far and their number.
pub fn measure_models(
    context: &PlanContext,
    space: &MixedSpace,
    modes: &[Mode],
    models: &[String],
    per_model: &[Recorded],
    which: &[usize],
    progress: impl Fn(usize, usize) + Sync,
) -> Vec<ModelSpace> {
    let mut spaces: Vec<ModelSpace> = which
        .par_iter()
        .map(|&m| unmeasured(context, space, modes, &models[m], &per_model[m]))
        .collect();
    let traffic = |k: usize| &per_model[which[k]];
    let jobs: Vec<(usize, usize)> = spaces
        .iter()
        .enumerate()
        .flat_map(|(k, s)| (0..s.viable.len()).map(move |i| (k, i)))
        .collect();
    let done = AtomicUsize::new(0);
    let measured: Vec<Capacity> = jobs
        .par_iter()
        .map(|&(k, i)| {
            let s = &spaces[k];
            let c = capacity(context, &s.model, modes, &s.viable[i], traffic(k), s.rate);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            c
        })
        .collect();
    for (&(k, _), c) in jobs.iter().zip(measured) {
        spaces[k].capacities.push(c);
    }
    let plans: Vec<(usize, usize, Option<CountRange>)> = jobs
        .iter()
        .map(|&(k, i)| (k, i, pooled_search(context, modes, &spaces[k], i)))
        .collect();
    let done = AtomicUsize::new(0);
    let found: Vec<Needed> = plans
        .par_iter()
        .map(|&(k, i, search)| {
            let s = &spaces[k];
            let needed = match search {
                None => Needed::Dominated(dominating(s, i)),
                Some(range) => {
                    match rate::replicas_needed(
                        context,
                        &s.model,
                        modes,
                        &s.viable[i],
                        traffic(k),
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
    for (&(k, _, _), n) in plans.iter().zip(found) {
        spaces[k].needed.push(n);
    }
    spaces
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

/// `space` (from [`unmeasured`]) with measurements made elsewhere (a
/// shard's): one capacity and one replica need per viable configuration,
/// in order. `Err` says what does not match.
pub fn with_measurements(
    mut space: ModelSpace,
    capacities: Vec<Capacity>,
    needed: Vec<Needed>,
) -> Result<ModelSpace, String> {
    let n = space.viable.len();
    if capacities.len() != n || needed.len() != n {
        return Err(format!(
            "{}: {} capacities and {} replica counts for {n} viable configurations",
            space.model,
            capacities.len(),
            needed.len()
        ));
    }
    if let Some(by) = needed.iter().find_map(|&x| match x {
        Needed::Dominated(by) if by >= n => Some(by),
        _ => None,
    }) {
        return Err(format!(
            "{}: dominated by configuration {by} of {n}",
            space.model
        ));
    }
    space.capacities = capacities;
    space.needed = needed;
    Ok(space)
}
