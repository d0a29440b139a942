//! What a run measures: counters, time-weighted integrals and peaks of the
//! fleet's state, per-class fit rates, and a sampled time series.

use crate::partition::GpuState;
use crate::profile::Precision;
use crate::schedule::RejectCode;
use crate::schedule::{DemandMix, Scheduler};
use crate::time::SimTime;
use crate::units::Mib;

/// The fleet's state right now, kept up to date event by event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Gauges {
    /// Smallest request the workload makes: free memory below it is stranded.
    pub smallest: Mib,
    /// The workload's demand mix, for the expected stranded memory.
    pub mix: DemandMix,
    pub free: u64,
    pub stranded: u64,
    /// Sum over partitions of free x weight(size > free).
    pub expected_stranded: u128,
    pub used: u64,
    pub capacity: u64,
    pub gpus_busy: u32,
    pub gpus_online: u32,
    pub live: u64,
}

impl Gauges {
    /// The same gauges counted afresh from the fleet, to check that the
    /// event-by-event updates have not drifted.
    pub fn recount(&self, scheduler: &Scheduler) -> Gauges {
        let mut fresh = Gauges {
            smallest: self.smallest,
            mix: self.mix.clone(),
            live: scheduler.live_replicas() as u64,
            ..Gauges::default()
        };
        for (index, gpu) in scheduler.gpus().iter().enumerate() {
            if !scheduler.is_online(index as u32) {
                continue;
            }
            let frees: Vec<Mib> = gpu.partitions().iter().map(|p| p.free()).collect();
            fresh.gpus_online += 1;
            fresh.gpus_busy += u32::from(gpu.is_busy());
            fresh.capacity += gpu.capacity().0;
            fresh.used += gpu.used().0;
            fresh.free += frees.iter().map(|f| f.0).sum::<u64>();
            fresh.stranded += fresh.stranded_of(&frees);
            fresh.expected_stranded += fresh.mix.expected_stranded(&frees);
        }
        fresh
    }

    /// A GPU's partitions went from `before` to `after` free memory.
    pub fn gpu_changed(&mut self, before: &[Mib], after: &[Mib]) {
        let sum = |frees: &[Mib]| frees.iter().map(|f| f.0).sum::<u64>();
        let (free_before, free_after) = (sum(before), sum(after));
        let (stranded_before, stranded_after) = (self.stranded_of(before), self.stranded_of(after));
        self.free = self.free + free_after - free_before;
        self.used = self.used + free_before - free_after;
        self.stranded = self.stranded + stranded_after - stranded_before;
        let (expected_before, expected_after) = if self.mix.is_one_partition_each() {
            // A sum over partitions: only the changed ones move it.
            before
                .iter()
                .zip(after)
                .filter(|(b, a)| b != a)
                .fold((0, 0), |(eb, ea), (b, a)| {
                    (
                        eb + self.mix.expected_stranded_alone(*b),
                        ea + self.mix.expected_stranded_alone(*a),
                    )
                })
        } else {
            (
                self.mix.expected_stranded(before),
                self.mix.expected_stranded(after),
            )
        };
        self.expected_stranded = self.expected_stranded + expected_after - expected_before;
    }

    /// An empty GPU came online (`true`) or was released (`false`).
    pub fn gpu_online(&mut self, gpu: &GpuState, online: bool) {
        let frees: Vec<Mib> = gpu.partitions().iter().map(|p| p.free()).collect();
        let stranded = self.stranded_of(&frees);
        let expected = self.mix.expected_stranded(&frees);
        let capacity = gpu.capacity().0;
        if online {
            self.capacity += capacity;
            self.free += capacity;
            self.stranded += stranded;
            self.expected_stranded += expected;
            self.gpus_online += 1;
        } else {
            self.capacity -= capacity;
            self.free -= capacity;
            self.stranded -= stranded;
            self.expected_stranded -= expected;
            self.gpus_online -= 1;
        }
    }

    /// Free memory in partitions too small for the smallest request.
    fn stranded_of(&self, frees: &[Mib]) -> u64 {
        frees
            .iter()
            .filter(|&&f| f < self.smallest)
            .map(|f| f.0)
            .sum()
    }

    /// Share of free memory a request drawn from the workload's mix is
    /// expected to be unable to use (the fragmentation study's measure).
    pub fn expected_fragmentation(&self) -> f64 {
        let total = u128::from(self.free) * u128::from(self.mix.total_weight());
        if total == 0 {
            0.0
        } else {
            self.expected_stranded as f64 / total as f64
        }
    }

    /// Stranded share of free memory (0 when nothing is free).
    pub fn fragmentation(&self) -> f64 {
        if self.free == 0 {
            0.0
        } else {
            self.stranded as f64 / self.free as f64
        }
    }

    /// Used share of online capacity.
    pub fn utilisation(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.used as f64 / self.capacity as f64
        }
    }
}

/// Time integrals and peaks of the gauges over the measured window.
#[derive(Debug, Clone, Default)]
pub(crate) struct Integrals {
    pub busy_ms: u128,
    pub online_ms: u128,
    pub used_ms: u128,
    pub capacity_ms: u128,
    pub live_ms: u128,
    pub fragmentation_ms: f64,
    pub expected_fragmentation_ms: f64,
    pub peak_busy: u32,
    pub peak_online: u32,
    pub peak_used: u64,
    pub peak_live: u64,
    pub peak_utilisation: f64,
    pub peak_fragmentation: f64,
}

impl Integrals {
    /// Adds `dt` of the current state.
    pub fn add(&mut self, g: &Gauges, dt: u64) {
        let dt128 = u128::from(dt);
        self.busy_ms += u128::from(g.gpus_busy) * dt128;
        self.online_ms += u128::from(g.gpus_online) * dt128;
        self.used_ms += u128::from(g.used) * dt128;
        self.capacity_ms += u128::from(g.capacity) * dt128;
        self.live_ms += u128::from(g.live) * dt128;
        self.fragmentation_ms += g.fragmentation() * dt as f64;
        self.expected_fragmentation_ms += g.expected_fragmentation() * dt as f64;
    }

    /// Records the current state's peaks.
    pub fn observe(&mut self, g: &Gauges) {
        self.peak_busy = self.peak_busy.max(g.gpus_busy);
        self.peak_online = self.peak_online.max(g.gpus_online);
        self.peak_used = self.peak_used.max(g.used);
        self.peak_live = self.peak_live.max(g.live);
        self.peak_utilisation = self.peak_utilisation.max(g.utilisation());
        self.peak_fragmentation = self.peak_fragmentation.max(g.fragmentation());
    }
}

/// Arrivals and outcomes of one class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// Requests that arrived in the measured window.
    pub arrived: u64,
    /// Of those, placed.
    pub placed: u64,
    /// Of those, rejected, by [`RejectCode`] (no capacity, never fits, invalid).
    pub rejected: [u64; 3],
    /// Of the placed, those placed at a lower precision than asked
    /// (precision fallback).
    pub fallback: u64,
}

impl ClassCounts {
    /// Counts one outcome.
    pub fn record(&mut self, outcome: Result<(), RejectCode>) {
        self.arrived += 1;
        match outcome {
            Ok(()) => self.placed += 1,
            Err(code) => self.rejected[reject_index(code)] += 1,
        }
    }

    /// Rejections of every code.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// placed / arrived (1 when nothing arrived).
    pub fn fit_rate(&self) -> f64 {
        if self.arrived == 0 {
            1.0
        } else {
            self.placed as f64 / self.arrived as f64
        }
    }
}

/// Position of a code in [`ClassCounts::rejected`].
pub fn reject_index(code: RejectCode) -> usize {
    match code {
        RejectCode::NoCapacityNow => 0,
        RejectCode::NeverFits => 1,
        RejectCode::Invalid => 2,
    }
}

/// Fit of one class over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassResult {
    /// Model id or raw demand description.
    pub name: String,
    /// Precision, for model classes.
    pub precision: Option<Precision>,
    /// Counts.
    pub counts: ClassCounts,
}

/// The state of the fleet at one instant (just before that instant's events).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When.
    pub time: SimTime,
    /// GPUs holding at least one replica.
    pub gpus_busy: u32,
    /// GPUs online.
    pub gpus_online: u32,
    /// Live replicas.
    pub live: u64,
    /// Memory charged.
    pub used: Mib,
    /// Used share of online capacity.
    pub utilisation: f64,
    /// Stranded share of free memory.
    pub fragmentation: f64,
    /// Expected unusable share of free memory for a request of the mix.
    pub expected_fragmentation: f64,
    /// Arrivals so far (measured window).
    pub arrivals: u64,
    /// Placements so far (measured window).
    pub placed: u64,
    /// Rejections so far (measured window).
    pub rejected: u64,
    /// Departures so far (measured window).
    pub departures: u64,
}

/// Whole-run results.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Start of the measured window (the warm-up's end).
    pub measured_from: SimTime,
    /// End of the run.
    pub end: SimTime,
    /// Every outcome of arrivals in the window.
    pub totals: ClassCounts,
    /// Departures in the window.
    pub departures: u64,
    /// Replicas still live at the end.
    pub live_at_end: u64,
    /// Time-weighted mean of GPUs holding a replica.
    pub gpus_busy_mean: f64,
    /// Peak of GPUs holding a replica.
    pub gpus_busy_peak: u32,
    /// Time-weighted mean of GPUs online.
    pub gpus_online_mean: f64,
    /// Peak of GPUs online.
    pub gpus_online_peak: u32,
    /// GPU-hours of GPUs holding a replica.
    pub gpu_hours_busy: f64,
    /// GPU-hours of GPUs online (what an elastic fleet pays for).
    pub gpu_hours_online: f64,
    /// Memory used over the run / capacity online over the run (the ratio
    /// of the two time integrals; for a fixed fleet, the time-weighted mean
    /// of the used share).
    pub utilisation_mean: f64,
    /// Peak of used / online capacity.
    pub utilisation_peak: f64,
    /// Time-weighted mean of memory charged, GiB.
    pub used_gib_mean: f64,
    /// Peak memory charged, GiB.
    pub used_gib_peak: f64,
    /// Time-weighted mean of the stranded share of free memory.
    pub fragmentation_mean: f64,
    /// Peak of the stranded share of free memory.
    pub fragmentation_peak: f64,
    /// Stranded share of free memory at the end.
    pub fragmentation_end: f64,
    /// Time-weighted mean of the share of free memory a request drawn from
    /// the workload's mix is expected to be unable to use.
    pub expected_fragmentation_mean: f64,
    /// Time-weighted mean of live replicas.
    pub live_mean: f64,
    /// Peak of live replicas.
    pub live_peak: u64,
    /// GPUs the elastic rule brought online.
    pub gpus_added: u64,
    /// GPUs the elastic rule released.
    pub gpus_released: u64,
    /// Events processed (arrivals, departures, elastic checks), warm-up included.
    pub events: u64,
    /// Whether the time series stopped at its sample limit.
    pub series_truncated: bool,
}

/// Everything a run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Whole-run figures.
    pub summary: Summary,
    /// Per class, in order of first appearance.
    pub classes: Vec<ClassResult>,
    /// The sampled time series.
    pub series: Vec<Sample>,
}
