//! The driver loop: pops events in (time, sequence) order, places and frees
//! replicas through the fleet's scheduler, and keeps the metrics.

use std::collections::VecDeque;

use crate::hardware::MAX_PARTITIONS;
use crate::schedule::{
    schedule_at_lower_precision, DemandMix, Placement, PlacementRequest, RejectCode, ReplicaId,
};
use crate::time::SimTime;
use crate::units::Mib;
use crate::workload::{DeploymentRequest, Workload, WorkloadError};

use super::fleet::Fleet;
use super::metrics::{ClassCounts, ClassResult, Gauges, Integrals, RunResult, Sample, Summary};
use super::queue::{EventQueue, PastEvent};

/// When a run starts measuring, stops, and samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// Stop at this time; `None` stops at the last arrival (replicas still
    /// live then are reported as live at the end).
    pub horizon: Option<SimTime>,
    /// Arrivals before this time are simulated but not counted, and time
    /// integrals start here.
    pub warmup: SimTime,
    /// Sample the fleet's state every `interval` from the warm-up's end
    /// (`None`: no time series).
    pub interval: Option<SimTime>,
    /// Place a request that fits nowhere at its precision at the next
    /// lower one that fits (FP16 -> INT8 -> INT4), counted as a fallback.
    pub precision_fallback: bool,
}

/// Where a run is, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Simulated time reached.
    pub now: SimTime,
    /// Events processed.
    pub events: u64,
}

/// A run that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The workload has a malformed record.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The workload went back in time.
    #[error("the workload went back in time: {0}")]
    PastEvent(#[from] PastEvent),
}

/// Most samples a time series keeps; a run that would take more stops
/// sampling and says so.
pub const MAX_SAMPLES: u64 = 1_000_000;

/// In debug builds, fleets up to this size have their gauges recounted
/// after every event (tests run small fleets; release builds never recount).
const DEBUG_RECOUNT_GPUS: usize = 64;

/// Progress is reported every this many events.
const PROGRESS_EVERY: u64 = 1 << 18;

enum Event {
    /// The next request of the current arrival batch (in the queue's
    /// in-order lane, so batches pop in order).
    Arrival,
    Departure(ReplicaId),
    /// Release `gpu` if it has stayed empty since it became empty at `epoch`.
    ReleaseCheck {
        gpu: u32,
        epoch: u64,
    },
}

struct Run<'a> {
    fleet: Fleet,
    workload: &'a mut dyn Workload,
    config: RunConfig,
    queue: EventQueue<Event>,
    lookahead: Option<DeploymentRequest>,
    /// The arrivals queued, in admission order.
    batch: VecDeque<DeploymentRequest>,
    gauges: Gauges,
    integrals: Integrals,
    last_integrated: SimTime,
    totals: ClassCounts,
    classes: Vec<ClassCounts>,
    departures: u64,
    gpus_added: u64,
    gpus_released: u64,
    gpu_epoch: Vec<u64>,
    series: Vec<Sample>,
    series_truncated: bool,
    next_sample: Option<SimTime>,
    /// Whether the warm-up is over.
    measuring: bool,
    events: u64,
}

/// Replays `workload` on `fleet` and measures it. `mix` is the workload's
/// demand mix (the fleet's policy was configured with it): its smallest
/// size defines stranded memory, and the expected fragmentation is measured
/// against it.
pub fn simulate(
    fleet: Fleet,
    workload: &mut dyn Workload,
    mix: &DemandMix,
    config: RunConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunResult, SimError> {
    let mut gauges = Gauges {
        smallest: fleet
            .scheduler
            .strands_below(mix.smallest().unwrap_or(Mib::ZERO)),
        mix: mix.clone(),
        ..Gauges::default()
    };
    for gpu in fleet.scheduler.gpus() {
        gauges.gpu_online(gpu, true);
    }
    let gpus = fleet.scheduler.gpus().len();
    let mut run = Run {
        fleet,
        workload,
        config,
        queue: EventQueue::default(),
        lookahead: None,
        batch: VecDeque::new(),
        gauges,
        integrals: Integrals::default(),
        last_integrated: config.warmup,
        totals: ClassCounts::default(),
        classes: Vec::new(),
        departures: 0,
        gpus_added: 0,
        gpus_released: 0,
        gpu_epoch: vec![0; gpus],
        series: Vec::new(),
        series_truncated: false,
        next_sample: config.interval.map(|_| config.warmup),
        measuring: false,
        events: 0,
    };
    run.lookahead = run.next_from_workload()?;
    run.queue_next_batch()?;
    while let Some(time) = run.queue.next_time() {
        let arrivals_done = run.lookahead.is_none() && run.batch.is_empty();
        if config.horizon.is_some_and(|h| time > h) || (config.horizon.is_none() && arrivals_done) {
            break;
        }
        run.advance_to(time);
        let (time, event) = run.queue.pop().expect("peeked");
        match event {
            Event::Arrival => {
                let request = run
                    .batch
                    .pop_front()
                    .expect("one request per arrival event");
                run.arrive(time, request)?;
                if run.batch.is_empty() {
                    run.queue_next_batch()?;
                }
            }
            Event::Departure(replica) => run.depart(time, replica)?,
            Event::ReleaseCheck { gpu, epoch } => run.release_check(time, gpu, epoch),
        }
        if run.measuring {
            run.integrals.observe(&run.gauges);
        }
        if cfg!(debug_assertions) && run.fleet.scheduler.gpus().len() <= DEBUG_RECOUNT_GPUS {
            assert_eq!(
                run.gauges.recount(&run.fleet.scheduler),
                run.gauges,
                "gauges drifted from the fleet"
            );
        }
        run.events += 1;
        if run.events.is_multiple_of(PROGRESS_EVERY) {
            progress(Progress {
                now: time,
                events: run.events,
            });
        }
    }
    let end = config.horizon.unwrap_or(run.queue.now()).max(config.warmup);
    run.advance_to(end);
    Ok(run.finish(end))
}

impl Run<'_> {
    fn next_from_workload(&mut self) -> Result<Option<DeploymentRequest>, WorkloadError> {
        self.workload.next_request().transpose()
    }

    /// Queues every arrival at the next arrival time, higher priority first
    /// (ties in workload order).
    fn queue_next_batch(&mut self) -> Result<(), SimError> {
        let Some(first) = self.lookahead.take() else {
            return Ok(());
        };
        self.batch.push_back(first);
        loop {
            match self.next_from_workload()? {
                Some(next) if next.arrival == first.arrival => self.batch.push_back(next),
                other => {
                    self.lookahead = other;
                    break;
                }
            }
        }
        if self.batch.len() > 1 {
            self.batch
                .make_contiguous()
                .sort_by_key(|r| std::cmp::Reverse(r.priority));
        }
        for _ in 0..self.batch.len() {
            self.queue
                .schedule_in_order(first.arrival, Event::Arrival)?;
        }
        Ok(())
    }

    /// Integrates the state up to `time` and takes the samples due before it.
    fn advance_to(&mut self, time: SimTime) {
        if !self.measuring && time >= self.config.warmup {
            // Peaks start with the state the warm-up leaves.
            self.measuring = true;
            self.integrals.observe(&self.gauges);
        }
        while let (Some(at), Some(interval)) = (self.next_sample, self.config.interval) {
            if at > time || self.config.horizon.is_some_and(|h| at > h) {
                break;
            }
            if self.series.len() as u64 >= MAX_SAMPLES {
                self.series_truncated = true;
                self.next_sample = None;
                break;
            }
            self.integrate_to(at);
            self.series.push(self.sample(at));
            self.next_sample = Some(at.saturating_add(interval));
        }
        self.integrate_to(time);
    }

    fn integrate_to(&mut self, time: SimTime) {
        if time > self.last_integrated {
            self.integrals
                .add(&self.gauges, (time - self.last_integrated).0);
            self.last_integrated = time;
        }
    }

    fn sample(&self, time: SimTime) -> Sample {
        let g = &self.gauges;
        Sample {
            time,
            gpus_busy: g.gpus_busy,
            gpus_online: g.gpus_online,
            live: g.live,
            used: Mib(g.used),
            utilisation: g.utilisation(),
            fragmentation: g.fragmentation(),
            expected_fragmentation: g.expected_fragmentation(),
            arrivals: self.totals.arrived,
            placed: self.totals.placed,
            rejected: self.totals.rejected_total(),
            departures: self.departures,
        }
    }

    fn arrive(&mut self, time: SimTime, request: DeploymentRequest) -> Result<(), SimError> {
        let placement_request = PlacementRequest {
            demand: request.demand,
            preferred: None,
        };
        let mut result = self.fleet.scheduler.schedule(&placement_request);
        let mut added = Vec::new();
        while let Err(rejection) = &result {
            let could_help = rejection.code != RejectCode::Invalid
                && self
                    .fleet
                    .elastic_largest_partition()
                    .is_some_and(|l| request.demand.size <= l)
                && added.len() < self.fleet.growth_for(request.demand.gpu_count);
            if !could_help {
                break;
            }
            let Some(gpu) = self.fleet.grow() else { break };
            if gpu as usize >= self.gpu_epoch.len() {
                self.gpu_epoch.push(0);
            }
            self.gauges
                .gpu_online(&self.fleet.scheduler.gpus()[gpu as usize], true);
            if time >= self.config.warmup {
                self.gpus_added += 1;
            }
            added.push(gpu);
            result = self.fleet.scheduler.schedule(&placement_request);
        }
        let mut fell_back = false;
        if result.is_err() && self.config.precision_fallback {
            if let Some(placement) = self.place_at_lower_precision(&request) {
                result = Ok(placement);
                fell_back = true;
            }
        }
        let counted = time >= self.config.warmup;
        let class = request.class.0 as usize;
        if counted && self.classes.len() <= class {
            self.classes.resize(class + 1, ClassCounts::default());
        }
        match result {
            Ok(placement) => {
                for (gpu, on_gpu) in placement.per_gpu() {
                    self.account(gpu, on_gpu, placement.size(), true);
                    if self.fleet.scheduler.gpus()[gpu as usize].replicas() == on_gpu.len() as u32 {
                        self.gauges.gpus_busy += 1;
                        self.gpu_epoch[gpu as usize] += 1;
                    }
                }
                self.gauges.live += 1;
                if let Some(lifetime) = request.lifetime {
                    let departure = time.saturating_add(lifetime);
                    if departure != SimTime::NEVER {
                        self.queue
                            .schedule(departure, Event::Departure(placement.replica))?;
                    }
                }
                if counted {
                    self.totals.record(Ok(()));
                    self.classes[class].record(Ok(()));
                    if fell_back {
                        self.totals.fallback += 1;
                        self.classes[class].fallback += 1;
                    }
                }
            }
            Err(rejection) => {
                if counted {
                    self.totals.record(Err(rejection.code));
                    self.classes[class].record(Err(rejection.code));
                }
            }
        }
        for gpu in added {
            if !self.fleet.scheduler.gpus()[gpu as usize].is_busy() {
                self.became_idle(time, gpu)?;
            }
        }
        Ok(())
    }

    /// The request placed at the highest precision below its own that
    /// fits now (its model's profile at that precision), if any.
    fn place_at_lower_precision(&mut self, request: &DeploymentRequest) -> Option<Placement> {
        let own = self.workload.classes().get(request.class).precision?;
        let workload = &*self.workload;
        schedule_at_lower_precision(&mut self.fleet.scheduler, own, None, |p| {
            workload.demand_at(request.class, p)
        })
        .map(|(placement, _)| placement)
    }

    fn depart(&mut self, time: SimTime, replica: ReplicaId) -> Result<(), SimError> {
        let placement = self
            .fleet
            .scheduler
            .unschedule(replica)
            .expect("a departure is scheduled once per placed replica");
        for (gpu, on_gpu) in placement.per_gpu() {
            self.account(gpu, on_gpu, placement.size(), false);
            if !self.fleet.scheduler.gpus()[gpu as usize].is_busy() {
                self.gauges.gpus_busy -= 1;
                self.became_idle(time, gpu)?;
            }
        }
        self.gauges.live -= 1;
        if time >= self.config.warmup {
            self.departures += 1;
        }
        Ok(())
    }

    /// Updates the gauges for one replica's `size` on each of `partitions`
    /// of `gpu`, just placed (`placed`) or just freed.
    fn account(&mut self, gpu: u32, partitions: &[u8], size: Mib, placed: bool) {
        let state = &self.fleet.scheduler.gpus()[gpu as usize];
        let n = state.partitions().len();
        let mut after = [Mib::ZERO; MAX_PARTITIONS];
        for (free, partition) in after.iter_mut().zip(state.partitions()) {
            *free = partition.free();
        }
        let mut before = after;
        for &partition in partitions {
            let slot = &mut before[usize::from(partition)];
            *slot = if placed { *slot + size } else { *slot - size };
        }
        self.gauges.gpu_changed(&before[..n], &after[..n]);
    }

    fn became_idle(&mut self, time: SimTime, gpu: u32) -> Result<(), SimError> {
        if let Some(after) = self.fleet.release_after() {
            let epoch = self.gpu_epoch[gpu as usize];
            self.queue.schedule(
                time.saturating_add(after),
                Event::ReleaseCheck { gpu, epoch },
            )?;
        }
        Ok(())
    }

    fn release_check(&mut self, time: SimTime, gpu: u32, epoch: u64) {
        let idle_since_then = self.gpu_epoch[gpu as usize] == epoch
            && !self.fleet.scheduler.gpus()[gpu as usize].is_busy();
        if idle_since_then && self.fleet.release(gpu) {
            self.gauges
                .gpu_online(&self.fleet.scheduler.gpus()[gpu as usize], false);
            if time >= self.config.warmup {
                self.gpus_released += 1;
            }
        }
    }

    fn finish(mut self, end: SimTime) -> RunResult {
        let span = (end - self.config.warmup).0;
        let i = &self.integrals;
        let g = &self.gauges;
        // A run that measures no time (a static set at t = 0) reports the
        // final state as its means.
        let mean = |integral: u128, now: f64| {
            if span == 0 {
                now
            } else {
                integral as f64 / span as f64
            }
        };
        let hours = |integral: u128| integral as f64 / 3_600_000.0;
        let utilisation_mean = if span == 0 {
            g.utilisation()
        } else if i.capacity_ms == 0 {
            0.0
        } else {
            i.used_ms as f64 / i.capacity_ms as f64
        };
        let summary = Summary {
            measured_from: self.config.warmup,
            end,
            totals: self.totals.clone(),
            departures: self.departures,
            live_at_end: g.live,
            gpus_busy_mean: mean(i.busy_ms, f64::from(g.gpus_busy)),
            gpus_busy_peak: i.peak_busy,
            gpus_online_mean: mean(i.online_ms, f64::from(g.gpus_online)),
            gpus_online_peak: i.peak_online,
            gpu_hours_busy: hours(i.busy_ms),
            gpu_hours_online: hours(i.online_ms),
            utilisation_mean,
            utilisation_peak: i.peak_utilisation,
            used_gib_mean: mean(i.used_ms, g.used as f64) / 1024.0,
            used_gib_peak: i.peak_used as f64 / 1024.0,
            fragmentation_mean: if span == 0 {
                g.fragmentation()
            } else {
                i.fragmentation_ms / span as f64
            },
            fragmentation_peak: i.peak_fragmentation,
            fragmentation_end: g.fragmentation(),
            expected_fragmentation_mean: if span == 0 {
                g.expected_fragmentation()
            } else {
                i.expected_fragmentation_ms / span as f64
            },
            live_mean: mean(i.live_ms, g.live as f64),
            live_peak: i.peak_live,
            gpus_added: self.gpus_added,
            gpus_released: self.gpus_released,
            events: self.events,
            series_truncated: self.series_truncated,
        };
        let classes = self.workload.classes();
        let counts = std::mem::take(&mut self.classes);
        RunResult {
            summary,
            classes: counts
                .into_iter()
                .enumerate()
                .filter(|(_, c)| c.arrived > 0)
                .map(|(id, counts)| {
                    let class = classes.get(crate::workload::ClassId(id as u32));
                    ClassResult {
                        name: class.name.clone(),
                        precision: class.precision,
                        counts,
                    }
                })
                .collect(),
            series: self.series,
        }
    }
}
