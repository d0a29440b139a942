//! A mixed plan's verification: the composition solved at the demands of
//! the moment, laid out with every replica pinned and simulated on the
//! whole traffic, repaired until every model meets the SLO, then trimmed
//! (the stages 3 to 5 of the module above).

use crate::serve::traffic::Recorded;
use crate::serve::ServingPolicy;

use super::super::evaluate::{evaluate_fleet, Evaluation};
use super::super::outcome::Verdict;
use super::super::PlanContext;
use super::compose::{compose, Choice, Composition};
use super::space::Mode;
use super::{layout, MixedPlan, MixedStage, MixedStep, ModelSpace, MAX_REPAIRS, MAX_TRIMS};

/// Raising a missing model's demand by this factor in a repair.
const REPAIR_FACTOR: f64 = 1.125;

/// Per model `m`, the cheapest option in each mode: the replicas its
/// traffic needed alone times `raise[m]` (at least one).
fn options(modes: &[Mode], spaces: &[ModelSpace], raise: &[f64]) -> Vec<Vec<Choice>> {
    spaces
        .iter()
        .zip(raise)
        .map(|(s, &raise)| {
            let mut best: Vec<Option<(Choice, (f64, f64))>> = vec![None; modes.len()];
            for (i, v) in s.viable.iter().enumerate() {
                let Some(needed) = s.needed[i].replicas() else {
                    continue;
                };
                let cap = s.capacities[i];
                let replicas = (f64::from(needed) * raise - 1e-9).ceil().max(1.0);
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
pub(super) fn search(context: &PlanContext, plan: &mut MixedPlan, traffic: &Recorded) -> Verdict {
    if plan.modes.is_empty() {
        return Verdict::DoesNotFit(format!(
            "no partition mode is left to mix ({})",
            plan.left_out.join("; ")
        ));
    }
    if let Some(s) = plan.models.iter().find(|s| s.viable.is_empty()) {
        let why = s
            .pruned
            .iter()
            .map(|p| format!("{}: {}", p.config.label(&plan.modes), p.reason))
            .collect::<Vec<_>>()
            .join("; ");
        return Verdict::DoesNotFit(format!("{} has no configuration left ({why})", s.model));
    }
    plan.composition_optimum = solve(context, plan, &vec![1.0; plan.models.len()]);
    let mut repairs = 0;
    loop {
        let Some(composition) = solve(context, plan, &plan.boosts) else {
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
        let evaluation = match simulate(context, plan, &composition, traffic, false) {
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

/// The cheapest composition with model `m` at `raise[m]` times the
/// replicas it needed alone.
fn solve(context: &PlanContext, plan: &MixedPlan, raise: &[f64]) -> Option<Composition> {
    compose(
        &plan.modes,
        &context.node,
        &options(&plan.modes, &plan.models, raise),
    )
}

/// Bisects `r` in `[low, high]` for the largest whose composition (of
/// `raise(r)`) costs less than `cost`; that composition, if `low`'s does.
fn largest_cheaper(
    context: &PlanContext,
    plan: &MixedPlan,
    cost: f64,
    (mut low, mut high): (f64, f64),
    raise: impl Fn(f64) -> Vec<f64>,
) -> Option<Composition> {
    let cheaper = |r: f64| solve(context, plan, &raise(r)).filter(|c| c.cost < cost - 1e-9);
    let mut found = cheaper(low)?;
    for _ in 0..20 {
        let mid = (low + high) / 2.0;
        match cheaper(mid) {
            Some(c) => {
                low = mid;
                found = c;
            }
            None => high = mid,
        }
    }
    Some(found)
}

/// The composition cheaper than `best` that keeps the most capacity: the
/// repairs' extra capacity taken back alike from every model (as little as
/// it takes), or, when none is left to take, one model's replicas cut
/// below what it needed alone (the model and cut that leave the dearest
/// composition, then the smallest cut, then the first model).
fn next_cheaper(
    context: &PlanContext,
    plan: &MixedPlan,
    best: &Composition,
) -> Option<Composition> {
    let boosts = plan.boosts.clone();
    let extra = largest_cheaper(context, plan, best.cost, (0.0, 1.0), |s| {
        boosts.iter().map(|b| 1.0 + (b - 1.0) * s).collect()
    });
    if extra.is_some() {
        return extra;
    }
    let models = plan.models.len();
    let kept = |c: &Composition| c.choices.iter().map(|ch| ch.replicas).sum::<u32>();
    let mut found: Option<Composition> = None;
    for m in 0..models {
        let cut = largest_cheaper(context, plan, best.cost, (0.0, 1.0), |r| {
            let mut raise = vec![1.0; models];
            raise[m] = r;
            raise
        });
        if let Some(candidate) = cut {
            let better = found.as_ref().is_none_or(|f| {
                candidate.cost > f.cost + 1e-9
                    || (candidate.cost >= f.cost - 1e-9 && kept(&candidate) > kept(f))
            });
            if better {
                found = Some(candidate);
            }
        }
    }
    found
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
        let Some(candidate) = next_cheaper(context, plan, &best) else {
            return;
        };
        if plan.steps.iter().any(|s| s.composition == candidate) {
            return;
        }
        let evaluation = match simulate(context, plan, &candidate, traffic, true) {
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
/// traffic on it (giving up once the SLO is certainly missed with
/// `give_up`).
fn simulate(
    context: &PlanContext,
    plan: &MixedPlan,
    composition: &Composition,
    traffic: &Recorded,
    give_up: bool,
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
        give_up,
    )
    .map_err(|e| e.to_string())
}
