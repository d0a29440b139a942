//! The serving simulation: requests arrive, are routed to a replica of
//! their model, and each replica's engine runs iteration after iteration
//! while it has work.
//!
//! Events are arrivals (read one at a time from the traffic) and iteration
//! ends (at most one pending per replica, in a heap). At equal times,
//! iteration ends come first, replica by replica in index order, then
//! arrivals in trace order: a request arriving exactly when an iteration
//! ends can join the next one. An iteration's length is fixed when it
//! starts, from its batch and the co-tenants on its device busy at that
//! moment. Nothing depends on wall time or hashing: a scenario and seed
//! give the same result on every machine.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::sim::Progress;
use crate::time::SimTime;
use crate::workload::WorkloadError;

use super::config::ServeConfig;
use super::deploy::ReplicaSetup;
use super::engine::{next_batch, BatchingEngine, EngineConfig, Outcome, Seq, SeqState};
use super::live::{Live, LiveSet, NOT_YET};
use super::metrics::{Latencies, Tally, TimeSeries};
use super::outcome::{ReplicaTally, ServeOutcome, Unfinished, Unserved};
use super::router::Router;
use super::routes::Routes;
use super::traffic::{InferenceRequest, Target, Traffic};

/// Serves `traffic` with `replicas` (of `deployments`, named
/// `model:precision`, on `gpus` GPUs and `devices` devices). `progress` is
/// called every 65,536 requests with the simulated time and the requests
/// and iterations so far.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    replicas: &[ReplicaSetup],
    deployments: &[(String, crate::profile::Precision)],
    gpus: u32,
    devices: u32,
    traffic: &mut dyn Traffic,
    config: &ServeConfig,
    mut progress: impl FnMut(Progress),
) -> Result<ServeOutcome, WorkloadError> {
    let mut sim = Simulation::new(replicas, deployments, gpus, devices, config);
    let horizon = config.horizon.map_or(u64::MAX, |h| h.0);
    let mut pending = next(traffic)?;
    let mut outcomes = Vec::new();
    let mut admitted = Vec::new();
    loop {
        let next_end = sim.ends.peek().map(|Reverse((t, _))| *t);
        let next_arrival = pending.map(|r| r.arrival.0);
        let now = match (next_end, next_arrival) {
            (None, None) => break,
            (Some(e), Some(a)) => e.min(a),
            (Some(t), None) | (None, Some(t)) => t,
        };
        if now > horizon {
            break;
        }
        sim.advance(now);
        if next_end == Some(now) {
            let Reverse((_, replica)) = sim.ends.pop().expect("peeked");
            sim.end_iteration(replica, &mut outcomes, &mut admitted);
            if sim.out.iterations.is_multiple_of(64) && sim.past_miss_budget() {
                sim.out.abandoned = true;
                break;
            }
        } else {
            let request = pending.take().expect("an arrival is next");
            sim.arrive(&request, traffic.targets(), &mut admitted);
            if sim.arrived.is_multiple_of(65_536) {
                progress(Progress {
                    now: SimTime(now / 1_000_000),
                    events: sim.arrived + sim.out.iterations,
                });
            }
            pending = next(traffic)?;
        }
    }
    let end = if config.horizon.is_some() {
        horizon
    } else {
        sim.now
    };
    sim.advance(end.max(sim.now));
    Ok(sim.finish(traffic.targets()))
}

fn next(traffic: &mut dyn Traffic) -> Result<Option<InferenceRequest>, WorkloadError> {
    traffic.next_request().transpose()
}

/// The run's state.
struct Simulation<'a> {
    config: &'a ServeConfig,
    setups: &'a [ReplicaSetup],
    deployments: &'a [(String, crate::profile::Precision)],
    engines: Vec<Box<dyn BatchingEngine>>,
    /// Longest request (prompt + output) each replica accepts.
    longest: Vec<u64>,
    /// Iteration start of a busy replica, or `NOT_YET`.
    started: Vec<u64>,
    /// Cache blocks in use during the current iteration.
    blocks_in_use: Vec<u32>,
    ends: BinaryHeap<Reverse<(u64, u32)>>,
    device_busy: Vec<u32>,
    gpu_busy: Vec<u32>,
    gpu_busy_since: Vec<u64>,
    router: Router,
    routes: Routes,
    live: LiveSet,
    now: u64,
    in_system: u64,
    arrived: u64,
    out: ServeOutcome,
}

impl<'a> Simulation<'a> {
    fn new(
        setups: &'a [ReplicaSetup],
        deployments: &'a [(String, crate::profile::Precision)],
        gpus: u32,
        devices: u32,
        config: &'a ServeConfig,
    ) -> Simulation<'a> {
        // Each replica's engine runs its own limits (its deployment's
        // settings over the scenario's engine).
        let engine_of = |s: &ReplicaSetup| EngineConfig {
            limits: s.model.limits(),
            ..config.engine
        };
        let engines: Vec<Box<dyn BatchingEngine>> = setups
            .iter()
            .map(|s| engine_of(s).engine(s.model.kv_capacity_tokens(), s.model.window()))
            .collect();
        let longest = setups
            .iter()
            .zip(&engines)
            .map(|(s, e)| {
                engine_of(s)
                    .longest_request(e.blocks_total())
                    .min(u64::from(s.max_context))
            })
            .collect();
        let replicas = engines
            .iter()
            .map(|e| ReplicaTally {
                blocks: e.blocks_total(),
                ..ReplicaTally::default()
            })
            .collect();
        let warmup = config.warmup.0;
        Simulation {
            config,
            setups,
            deployments,
            longest,
            started: vec![NOT_YET; setups.len()],
            blocks_in_use: vec![0; setups.len()],
            engines,
            ends: BinaryHeap::with_capacity(setups.len()),
            device_busy: vec![0; devices as usize],
            gpu_busy: vec![0; gpus as usize],
            gpu_busy_since: vec![0; gpus as usize],
            router: Router::new(config.routing, config.seed),
            routes: Routes::default(),
            live: LiveSet::default(),
            now: 0,
            in_system: 0,
            arrived: 0,
            out: ServeOutcome {
                deployments: vec![Tally::default(); deployments.len()],
                replicas,
                gpu_busy_ns: vec![0; gpus as usize],
                unserved: Vec::new(),
                unfinished: Unfinished::default(),
                arrived: 0,
                finished: 0,
                too_long: 0,
                shed: 0,
                peak_in_system: 0,
                requested_tokens: 0,
                unfinished_tokens: 0,
                emitted_tokens: 0,
                window: (warmup, warmup),
                in_system_ns: 0.0,
                sojourn_ns: 0.0,
                series: TimeSeries::new(warmup, config.interval.0),
                iterations: 0,
                abandoned: false,
            },
        }
    }

    /// Whether more measured requests missed the SLO than the run's
    /// budget allows.
    fn past_miss_budget(&self) -> bool {
        self.config.give_up_after.is_some_and(|budget| {
            let missed: u64 = self
                .out
                .deployments
                .iter()
                .map(|t| t.finished - t.good + t.too_long + t.shed)
                .sum();
            missed > budget
        })
    }

    /// Moves the clock to `t`, integrating requests in the system.
    fn advance(&mut self, t: u64) {
        let warmup = self.config.warmup.0;
        let from = self.now.max(warmup);
        if t > from {
            self.out.in_system_ns += (self.in_system * (t - from)) as f64;
            self.out.series.occupy(from, t, self.in_system);
        }
        self.now = t;
    }

    fn measured(&self, arrival: u64) -> bool {
        arrival >= self.config.warmup.0
    }

    /// The time `t` clipped to the measured window's start.
    fn clip(&self, t: u64) -> u64 {
        t.max(self.config.warmup.0)
    }

    fn arrive(&mut self, request: &InferenceRequest, targets: &[Target], admitted: &mut Vec<u32>) {
        self.arrived += 1;
        self.out.arrived += 1;
        let t = self.now;
        let measured = self.measured(t);
        if measured {
            self.out.series.at(t).arrivals += 1;
        }
        let target = request.target as usize;
        if !self
            .routes
            .resolve(target, targets, self.setups, self.deployments)
        {
            self.routes.unserved[target] += 1;
            return;
        }
        let serving = self.routes.by_target[target].as_deref().expect("resolved");
        let engines = &self.engines;
        let replica = self
            .router
            .pick(target, serving, |r| engines[r as usize].outstanding());
        let r = replica as usize;
        let deployment = self.setups[r].deployment as usize;
        if measured {
            self.out.deployments[deployment].arrived += 1;
        }
        self.out.replicas[r].routed += 1;
        if u64::from(request.prompt) + u64::from(request.output) > self.longest[r] {
            self.out.too_long += 1;
            if measured {
                self.out.deployments[deployment].too_long += 1;
            }
            return;
        }
        if self.in_system >= self.config.max_in_system {
            self.out.shed += 1;
            if measured {
                self.out.deployments[deployment].shed += 1;
            }
            return;
        }
        let id = self.live.insert(Live {
            arrival: t,
            admitted: NOT_YET,
            first_token: NOT_YET,
            prompt: request.prompt,
            output: request.output,
        });
        self.in_system += 1;
        self.out.peak_in_system = self.out.peak_in_system.max(self.in_system);
        self.engines[r].enqueue(Seq {
            id,
            prompt: request.prompt,
            output: request.output,
            priority: request.priority,
        });
        let outstanding = self.engines[r].outstanding();
        let tally = &mut self.out.replicas[r];
        tally.peak_outstanding = tally.peak_outstanding.max(outstanding);
        if self.started[r] == NOT_YET {
            self.start_iteration(replica, admitted);
        }
    }

    /// Plans and starts the replica's next iteration, if it has work.
    fn start_iteration(&mut self, replica: u32, admitted: &mut Vec<u32>) {
        let r = replica as usize;
        admitted.clear();
        let Some(batch) = next_batch(self.engines[r].as_mut(), admitted) else {
            return;
        };
        let now = self.now;
        for &id in admitted.iter() {
            self.live.slots[id as usize].admitted = now;
        }
        let setups = self.setups;
        let setup = &setups[r];
        let busy = setup
            .devices
            .iter()
            .map(|&d| {
                self.device_busy[d as usize] += 1;
                self.device_busy[d as usize]
            })
            .max()
            .unwrap_or(1);
        for &g in &setup.gpus {
            let g = g as usize;
            if self.gpu_busy[g] == 0 {
                self.gpu_busy_since[g] = now;
            }
            self.gpu_busy[g] += 1;
        }
        let seconds = setup.model.step_time(&batch, busy);
        let length = ((seconds * 1e9).ceil() as u64).max(1);
        self.started[r] = now;
        self.blocks_in_use[r] = self.engines[r].blocks_used();
        self.ends
            .push(Reverse((now.saturating_add(length), replica)));
    }

    fn end_iteration(
        &mut self,
        replica: u32,
        outcomes: &mut Vec<Outcome>,
        admitted: &mut Vec<u32>,
    ) {
        let r = replica as usize;
        let now = self.now;
        let start = std::mem::replace(&mut self.started[r], NOT_YET);
        let measured_span = now.saturating_sub(self.clip(start));
        let setups = self.setups;
        let setup = &setups[r];
        for &d in &setup.devices {
            self.device_busy[d as usize] -= 1;
        }
        for &g in &setup.gpus {
            let g = g as usize;
            self.gpu_busy[g] -= 1;
            if self.gpu_busy[g] == 0 {
                let since = self.clip(self.gpu_busy_since[g]);
                self.out.gpu_busy_ns[g] += now.saturating_sub(since);
            }
        }
        outcomes.clear();
        let tokens = self.engines[r].complete(outcomes);
        self.out.iterations += 1;
        self.out.emitted_tokens += tokens;
        let tally = &mut self.out.replicas[r];
        tally.iterations += 1;
        tally.busy_ns += measured_span;
        tally.tokens += tokens;
        tally.block_ns += f64::from(self.blocks_in_use[r]) * measured_span as f64;
        tally.peak_blocks = tally.peak_blocks.max(self.blocks_in_use[r]);
        tally.preemptions = self.engines[r].preemptions();
        if self.measured(now) {
            self.out.series.at(now).tokens += tokens;
        }
        let deployment = setup.deployment as usize;
        for outcome in outcomes.iter() {
            match *outcome {
                Outcome::FirstToken(id) => {
                    let live = &mut self.live.slots[id as usize];
                    live.first_token = now;
                    let arrival = live.arrival;
                    let ttft = (now - arrival) as f64 / 1e9;
                    if self.measured(arrival) {
                        self.out.series.at(now).ttft.record(ttft);
                        self.out.deployments[deployment].first_token(ttft);
                    }
                }
                Outcome::Finished(id) => {
                    let live = self.live.remove(id);
                    self.in_system -= 1;
                    self.out.finished += 1;
                    self.out.requested_tokens += u64::from(live.output);
                    let seconds = |from: u64, to: u64| (to - from) as f64 / 1e9;
                    let tpot = (live.output > 1)
                        .then(|| seconds(live.first_token, now) / f64::from(live.output - 1));
                    if !self.measured(live.arrival) {
                        continue;
                    }
                    let point = self.out.series.at(now);
                    point.finished += 1;
                    if let Some(tpot) = tpot {
                        point.tpot.record(tpot);
                    }
                    let latencies = Latencies {
                        queue: seconds(live.arrival, live.admitted),
                        ttft: seconds(live.arrival, live.first_token),
                        tpot,
                        e2e: seconds(live.arrival, now),
                    };
                    self.out.sojourn_ns += (now - live.arrival) as f64;
                    self.out.deployments[deployment].finish(
                        &latencies,
                        live.prompt,
                        live.output,
                        &self.config.slo,
                    );
                }
            }
        }
        self.start_iteration(replica, admitted);
    }

    fn finish(mut self, targets: &[Target]) -> ServeOutcome {
        let now = self.now;
        // Busy GPUs and iterations in flight count up to the end.
        for g in 0..self.gpu_busy.len() {
            if self.gpu_busy[g] > 0 {
                let since = self.clip(self.gpu_busy_since[g]);
                self.out.gpu_busy_ns[g] += now.saturating_sub(since);
            }
        }
        for (r, &start) in self.started.iter().enumerate() {
            if start != NOT_YET {
                let span = now.saturating_sub(start.max(self.config.warmup.0));
                let tally = &mut self.out.replicas[r];
                tally.busy_ns += span;
                tally.block_ns += f64::from(self.blocks_in_use[r]) * span as f64;
                tally.peak_blocks = tally.peak_blocks.max(self.blocks_in_use[r]);
            }
        }
        for (r, engine) in self.engines.iter().enumerate() {
            let deployment = self.setups[r].deployment as usize;
            for seq in engine.in_flight() {
                match seq.state {
                    SeqState::Waiting => self.out.unfinished.waiting += 1,
                    SeqState::Prefilling => self.out.unfinished.prefilling += 1,
                    SeqState::Decoding => self.out.unfinished.decoding += 1,
                }
                self.out.unfinished_tokens += u64::from(seq.generated);
                let live = self.live.slots[seq.id as usize];
                if self.measured(live.arrival) {
                    let seconds = |from: u64| (now - from) as f64 / 1e9;
                    let started = live.first_token != NOT_YET;
                    // The last token comes after `now`: TPOT exceeds this.
                    let least_tpot = (started && live.output > 1)
                        .then(|| seconds(live.first_token) / f64::from(live.output - 1));
                    self.out.deployments[deployment].unfinished(
                        seconds(live.arrival),
                        started.then(|| (live.first_token - live.arrival) as f64 / 1e9),
                        least_tpot,
                        &self.config.slo,
                    );
                }
            }
            self.out.replicas[r].preemptions = engine.preemptions();
        }
        self.out.unserved = self
            .routes
            .unserved
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(t, &requests)| Unserved {
                target: targets[t].clone(),
                requests,
            })
            .collect();
        self.out.window = (self.config.warmup.0, now.max(self.config.warmup.0));
        self.out
    }
}
