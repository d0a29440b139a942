//! The search of one plan cell (the stages are described in the module
//! above): floors, isolated replicas, packed check, trim.

use crate::profile::Catalog;
use crate::schedule::Policy;
use crate::serve::traffic::{InferenceRequest, Recorded};
use crate::serve::{ReplicaMemory, ServingPolicy};
use crate::units::Mib;

use super::bounds::{floor, replica_bound};
use super::evaluate::{evaluate, lone_replica, placement_fails, Evaluation};
use super::outcome::{CellPlan, SearchStep, Stage, Verdict};
use super::{Cell, PlanContext};

/// Most rounds of adding replicas after a packed check misses.
pub const MAX_ROUNDS: u32 = 48;

/// What one search knows and records.
struct Search<'a> {
    context: &'a PlanContext<'a>,
    cell: &'a Cell,
    models: &'a [String],
    /// Model indices, largest footprint first (the placement order).
    order: Vec<usize>,
    /// Each model's profile memory per GPU.
    profiles: Vec<Mib>,
    /// Memory one replica of each model needs free on each GPU it spans,
    /// under its setting before any reservation.
    memory: Vec<Mib>,
    /// Each model's memory setting before any reservation: the engine's.
    setting: Vec<ReplicaMemory>,
    /// GPUs one replica of each model spans.
    spans: Vec<u32>,
    /// Memory of one GPU of the layout.
    gpu_memory: Mib,
    /// Memory of the layout's largest partition.
    partition: Mib,
    /// Partitions of one GPU.
    partitions: u32,
    steps: Vec<SearchStep>,
}

/// Searches `cell` for the traffic `traffic` (targets: `models`), split by
/// model in `per_model`.
pub fn search_cell(
    context: &PlanContext,
    cell: &Cell,
    models: &[String],
    traffic: &Recorded,
    per_model: &[Recorded],
) -> CellPlan {
    let mut plan = CellPlan {
        cell: cell.clone(),
        verdict: Verdict::Met,
        floors: Vec::new(),
        isolated: Vec::new(),
        answer: None,
        steps: Vec::new(),
    };
    let mut search = match Search::new(context, cell, models) {
        Ok(s) => s,
        Err(reason) => {
            plan.verdict = Verdict::DoesNotFit(reason);
            return plan;
        }
    };
    plan.verdict = search.run(traffic, per_model, &mut plan);
    plan.steps = search.steps;
    plan
}

impl<'a> Search<'a> {
    fn new(
        context: &'a PlanContext<'a>,
        cell: &'a Cell,
        models: &'a [String],
    ) -> Result<Search<'a>, String> {
        let layout = cell
            .layout
            .build(cell.kind)
            .map_err(|e| format!("{} on {}: {e}", cell.layout, cell.kind))?;
        let gpu_memory = Mib(layout.partitions().iter().map(|p| p.0).sum());
        let partition = layout.largest_partition();
        let partitions = layout.partitions().len() as u32;
        let (profiles, spans) = footprints(context.catalog, cell, models)?;
        let setting = vec![context.engine.memory; models.len()];
        let memory: Vec<Mib> = profiles
            .iter()
            .map(|&p| context.engine.memory.needs(p))
            .collect();
        let mut order: Vec<usize> = (0..models.len()).collect();
        order.sort_by_key(|&m| std::cmp::Reverse(memory[m].0 * u64::from(spans[m])));
        Ok(Search {
            context,
            cell,
            models,
            order,
            profiles,
            memory,
            setting,
            spans,
            gpu_memory,
            partition,
            partitions,
            steps: Vec::new(),
        })
    }

    fn run(&mut self, traffic: &Recorded, per_model: &[Recorded], plan: &mut CellPlan) -> Verdict {
        let slo = self.context.slo;
        let mut lone = Vec::with_capacity(self.models.len());
        for (m, model) in self.models.iter().enumerate() {
            match lone_replica(self.context, self.cell, model, self.spans[m]) {
                Ok(replica) => lone.push(replica),
                Err(reason) => return Verdict::DoesNotFit(reason),
            }
        }
        let warmup = self.context.warmup;
        let measured: Vec<&[InferenceRequest]> = per_model
            .iter()
            .map(|t| {
                let all = t.requests();
                &all[all.partition_point(|r| r.arrival < warmup)..]
            })
            .collect();
        if let Some(m) = measured.iter().position(|r| r.is_empty()) {
            return Verdict::NotFound(format!(
                "no request for {} arrives after the warm-up at this rate: nothing to plan for (lengthen run.horizon or shorten run.warmup)",
                self.models[m]
            ));
        }
        plan.floors = lone
            .iter()
            .zip(&measured)
            .map(|(replica, requests)| floor(replica, requests, &slo))
            .collect();
        for (m, f) in plan.floors.iter().enumerate() {
            if !f.reachable(&slo) {
                return Verdict::Unreachable(format!("{}: {}", self.models[m], f.reason(&slo)));
            }
        }
        for m in 0..self.models.len() {
            let start = replica_bound(
                &lone[m],
                per_model[m].requests(),
                span_seconds(&per_model[m]),
            );
            match self.isolated(m, start, &per_model[m]) {
                Ok(n) => plan.isolated.push(n),
                Err(reason) => return Verdict::NotFound(reason),
            }
        }
        let best = match self.packed(plan.isolated.clone(), traffic) {
            Ok(best) => best,
            Err(reason) => return Verdict::NotFound(reason),
        };
        plan.answer = Some(self.trim(best, &plan.isolated, traffic));
        Verdict::Met
    }

    /// Most replicas of model `m` a search tries in isolation.
    /// (As many as `max_gpus` GPUs have partitions, one each.)
    fn replica_cap(&self, m: usize) -> u32 {
        (self.context.max_gpus.saturating_mul(self.partitions) / self.spans[m]).max(1)
    }

    /// Fewest replicas of model `m`, each alone on its own GPU, meeting
    /// the SLO on `traffic` (its requests alone), starting at `start`.
    fn isolated(&mut self, m: usize, start: u32, traffic: &Recorded) -> Result<u32, String> {
        let cap = self.replica_cap(m);
        let start = start.clamp(1, cap);
        let (mut fail, mut ok) = if self.isolated_run(m, start, traffic).met() {
            if start == 1 || !self.isolated_run(m, start - 1, traffic).met() {
                return Ok(start);
            }
            (0, start - 1)
        } else {
            let mut fail = start;
            loop {
                if fail == cap {
                    return Err(format!(
                        "{} misses the SLO with {cap} replicas alone (plan.max_gpus = {})",
                        self.models[m], self.context.max_gpus
                    ));
                }
                let n = fail.saturating_mul(2).min(cap);
                if self.isolated_run(m, n, traffic).met() {
                    break (fail, n);
                }
                fail = n;
            }
        };
        while ok - fail > 1 {
            let mid = fail + (ok - fail) / 2;
            if self.isolated_run(m, mid, traffic).met() {
                ok = mid;
            } else {
                fail = mid;
            }
        }
        Ok(ok)
    }

    /// `n` replicas of model `m` alone, one per GPU (spread), on its
    /// traffic.
    fn isolated_run(&mut self, m: usize, n: u32, traffic: &Recorded) -> Evaluation {
        let mut replicas = vec![0; self.models.len()];
        replicas[m] = n;
        let gpus = n * self.spans[m];
        let evaluation = self.simulate(
            &replicas,
            &self.setting.clone(),
            gpus,
            ServingPolicy::Memory(Policy::Spread),
            traffic,
        );
        self.steps.push(SearchStep {
            stage: Stage::Isolated(m),
            evaluation: evaluation.clone(),
        });
        evaluation
    }

    /// The memory a replica of model `m` is given when it reserves `share`
    /// of its device: under the profile setting, its profile's or that
    /// share of the layout's largest partition if more (at most the whole
    /// partition); any other setting as it is (it reserves nothing).
    fn reserved(&self, m: usize, share: f64) -> ReplicaMemory {
        if self.setting[m] != ReplicaMemory::Profile {
            return self.setting[m];
        }
        let room = (share.clamp(0.0, 1.0) * self.partition.0 as f64).ceil() as u64;
        let room = Mib(room.min(self.partition.0));
        if room > self.memory[m] {
            ReplicaMemory::Fixed(room)
        } else {
            ReplicaMemory::Profile
        }
    }

    /// What a replica of model `m` given `memory` needs free per GPU.
    fn needs(&self, m: usize, memory: ReplicaMemory) -> Mib {
        memory.needs(self.profiles[m])
    }

    /// Packs `replicas` on the fewest GPUs, simulates, and repairs what
    /// co-tenancy broke until every model meets the SLO. Replicas start
    /// charged their profile's memory, packed as the runtime would pack
    /// them; a model that misses then reserves a larger share of its
    /// device (a quarter more, plus 5 points of the partition), which
    /// leaves fewer co-tenants beside it, and once it reserves a whole
    /// partition (or when its memory setting is not the profile's, so it
    /// reserves nothing) it gets an eighth more replicas instead.
    fn packed(&mut self, mut replicas: Vec<u32>, traffic: &Recorded) -> Result<Evaluation, String> {
        let mut share = vec![0.0f64; replicas.len()];
        for _ in 0..MAX_ROUNDS {
            let memory: Vec<ReplicaMemory> = (0..replicas.len())
                .map(|m| self.reserved(m, share[m]))
                .collect();
            let gpus = self.fewest_gpus(&replicas, &memory)?;
            let evaluation = self.simulate(&replicas, &memory, gpus, self.cell.policy, traffic);
            self.steps.push(SearchStep {
                stage: Stage::Packed,
                evaluation: evaluation.clone(),
            });
            if evaluation.met() {
                return Ok(evaluation);
            }
            if let Some(reason) = &evaluation.unplaced {
                return Err(format!("the packed fleet cannot be placed: {reason}"));
            }
            for (m, result) in evaluation.models.iter().enumerate() {
                if result.met {
                    continue;
                }
                let held = self.needs(m, memory[m]);
                if self.setting[m] != ReplicaMemory::Profile || held >= self.partition {
                    replicas[m] += replicas[m].div_ceil(8).max(1);
                } else {
                    let held = held.0 as f64 / self.partition.0 as f64;
                    share[m] = (held * 1.25 + 0.05).min(1.0);
                }
            }
        }
        Err(format!(
            "co-tenants still miss the SLO after {MAX_ROUNDS} rounds of reserving room and adding replicas"
        ))
    }

    /// Fewest GPUs of the cell that hold `replicas` under its policy.
    fn fewest_gpus(&self, replicas: &[u32], memory: &[ReplicaMemory]) -> Result<u32, String> {
        let total: u64 = replicas
            .iter()
            .enumerate()
            .map(|(m, &n)| u64::from(n) * u64::from(self.spans[m]) * self.needs(m, memory[m]).0)
            .sum();
        let widest = self.spans.iter().copied().max().unwrap_or(1);
        let lower = total
            .div_ceil(self.gpu_memory.0.max(1))
            .max(u64::from(widest));
        let mut last = format!("their memory alone fills {lower} GPUs");
        for gpus in lower..=u64::from(self.context.max_gpus) {
            match self.placement(replicas, memory, gpus as u32) {
                None => return Ok(gpus as u32),
                Some(reason) => last = reason,
            }
        }
        Err(format!(
            "the replicas need more than plan.max_gpus = {} GPUs ({last})",
            self.context.max_gpus
        ))
    }

    fn placement(&self, replicas: &[u32], memory: &[ReplicaMemory], gpus: u32) -> Option<String> {
        placement_fails(
            self.context,
            self.cell,
            self.models,
            &self.order,
            replicas,
            memory,
            gpus,
            self.cell.policy,
        )
        .unwrap_or_else(|e| Some(e.to_string()))
    }

    /// Tries one GPU less than `best` until a try misses: first the same
    /// replicas reserving less room (packed tighter), then, if that misses
    /// or cannot fit, fewer replicas.
    fn trim(&mut self, mut best: Evaluation, isolated: &[u32], traffic: &Recorded) -> Evaluation {
        'fewer: while best.gpus > 1 {
            let gpus = best.gpus - 1;
            let mut tried = None;
            if let Some(memory) = self.tighter(&best.replicas, &best.memory, gpus) {
                let replicas = best.replicas.clone();
                if self.trim_run(&replicas, &memory, gpus, traffic, &mut best) {
                    continue 'fewer;
                }
                tried = Some((replicas, memory));
            }
            let mut replicas = best.replicas.clone();
            while self.placement(&replicas, &best.memory, gpus).is_some() {
                // Drop a replica of the model with most slack that is above
                // its isolated minimum (ties: the first model).
                let slack = (0..replicas.len())
                    .filter(|&m| replicas[m] > isolated[m])
                    .max_by(|&a, &b| {
                        best.models[a]
                            .attainment
                            .total_cmp(&best.models[b].attainment)
                            .then(b.cmp(&a))
                    });
                match slack {
                    Some(m) => replicas[m] -= 1,
                    None => break,
                }
            }
            let memory = best.memory.clone();
            if tried == Some((replicas.clone(), memory.clone())) {
                break;
            }
            if !self.trim_run(&replicas, &memory, gpus, traffic, &mut best) {
                break;
            }
        }
        best
    }

    /// Simulates a trim candidate; a success becomes `best`.
    fn trim_run(
        &mut self,
        replicas: &[u32],
        memory: &[ReplicaMemory],
        gpus: u32,
        traffic: &Recorded,
        best: &mut Evaluation,
    ) -> bool {
        let evaluation = self.simulate(replicas, memory, gpus, self.cell.policy, traffic);
        let met = evaluation.met();
        self.steps.push(SearchStep {
            stage: Stage::Trim,
            evaluation: evaluation.clone(),
        });
        if met {
            *best = evaluation;
        }
        met
    }

    /// The reservations `memory`, each cut by a fifth at a time (down to
    /// the profile's), until `replicas` fit `gpus` GPUs; `None` when they
    /// do not fit even at their profiles' memory, or nothing was reserved
    /// to cut.
    fn tighter(
        &self,
        replicas: &[u32],
        memory: &[ReplicaMemory],
        gpus: u32,
    ) -> Option<Vec<ReplicaMemory>> {
        let mut memory = memory.to_vec();
        if memory == self.setting {
            return None;
        }
        loop {
            if self.placement(replicas, &memory, gpus).is_none() {
                return Some(memory);
            }
            if memory == self.setting {
                return None;
            }
            for (m, held) in memory.iter_mut().enumerate() {
                if let ReplicaMemory::Fixed(size) = *held {
                    let cut = Mib((size.0 as f64 * 0.8) as u64);
                    *held = if cut > self.memory[m] {
                        ReplicaMemory::Fixed(cut)
                    } else {
                        self.setting[m]
                    };
                }
            }
        }
    }

    fn simulate(
        &self,
        replicas: &[u32],
        memory: &[ReplicaMemory],
        gpus: u32,
        policy: ServingPolicy,
        traffic: &Recorded,
    ) -> Evaluation {
        evaluate(
            self.context,
            self.cell,
            self.models,
            &self.order,
            replicas,
            memory,
            gpus,
            policy,
            traffic,
        )
        .unwrap_or_else(|e| Evaluation {
            gpus,
            replicas: replicas.to_vec(),
            memory: memory.to_vec(),
            placements: Vec::new(),
            models: Vec::new(),
            unplaced: Some(e.to_string()),
            gpus_used: 0,
            gpu_busy: 0.0,
            output_tokens_per_s: 0.0,
            input_tokens_per_s: 0.0,
            attainment: 0.0,
            abandoned: false,
        })
    }
}

/// Memory per GPU and GPUs spanned of one replica of each model at the
/// cell's precision, or why a model has no profile there.
fn footprints(
    catalog: &Catalog,
    cell: &Cell,
    models: &[String],
) -> Result<(Vec<Mib>, Vec<u32>), String> {
    let mut memory = Vec::with_capacity(models.len());
    let mut spans = Vec::with_capacity(models.len());
    for model in models {
        let id = catalog
            .find(model, cell.precision)
            .map_err(|e| e.to_string())?;
        let variant = catalog.variant(id);
        memory.push(variant.memory);
        spans.push(variant.gpu_count.max(1));
    }
    Ok((memory, spans))
}

/// Seconds from the first to the last arrival of `traffic` (at least 1 ms).
fn span_seconds(traffic: &Recorded) -> f64 {
    let requests = traffic.requests();
    match (requests.first(), requests.last()) {
        (Some(a), Some(b)) => ((b.arrival.0 - a.arrival.0) as f64 / 1e9).max(1e-3),
        _ => 1e-3,
    }
}
