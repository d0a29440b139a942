//! The fill experiment of the fragmentation study ("Beware of
//! Fragmentation", USENIX ATC'23): requests drawn from a workload's demand
//! mix arrive one after another and never depart, until the memory they
//! ask for reaches a target share of the fleet's capacity. Along the way it
//! records the allocation ratio (memory placed / capacity): a policy that
//! fragments less keeps placing for longer.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::schedule::{DemandMix, PlacementRequest, Scheduler};
use crate::units::Mib;

/// How far to fill and how often to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillSpec {
    /// Stop once requested memory reaches this share of capacity (> 0).
    pub target: f64,
    /// Record a point every time requested memory grows by this share.
    pub step: f64,
}

/// The fleet after requests worth `requested` of its capacity arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct FillPoint {
    /// Memory requested so far / capacity.
    pub requested: f64,
    /// Memory placed / capacity: the allocation ratio.
    pub allocated: f64,
    /// Requests placed so far.
    pub placed: u64,
    /// Requests rejected so far.
    pub rejected: u64,
    /// GPUs holding at least one replica.
    pub gpus_busy: usize,
    /// Free memory in partitions too small for the smallest demand, as a
    /// share of free memory.
    pub fragmentation: f64,
}

/// Fills `scheduler` (a fixed fleet, ideally empty) with demands drawn from
/// `mix`, seeded by `seed`. The last point is at or just past the target.
pub fn run_fill(
    scheduler: &mut Scheduler,
    mix: &DemandMix,
    spec: FillSpec,
    seed: u64,
) -> Vec<FillPoint> {
    let capacity: u64 = scheduler.gpus().iter().map(|g| g.capacity().0).sum();
    let mut points = Vec::new();
    if mix.is_empty() || capacity == 0 {
        return points;
    }
    let smallest = scheduler.strands_below(mix.smallest().unwrap_or(Mib::ZERO));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut requested, mut placed, mut rejected) = (0u64, 0u64, 0u64);
    let mut next_record = spec.step;
    let target = spec.target;
    loop {
        let share = requested as f64 / capacity as f64;
        if share >= next_record || share >= target {
            points.push(point(
                scheduler, capacity, smallest, share, placed, rejected,
            ));
            while next_record <= share {
                next_record += spec.step;
            }
        }
        if share >= target {
            return points;
        }
        let demand = mix.sample(&mut rng);
        requested += demand.total().0;
        match scheduler.schedule(&PlacementRequest {
            demand,
            preferred: None,
        }) {
            Ok(_) => placed += 1,
            Err(_) => rejected += 1,
        }
    }
}

fn point(
    scheduler: &Scheduler,
    capacity: u64,
    smallest: Mib,
    requested: f64,
    placed: u64,
    rejected: u64,
) -> FillPoint {
    let (mut used, mut free, mut stranded) = (0u64, 0u64, 0u64);
    for gpu in scheduler.gpus() {
        for p in gpu.partitions() {
            used += p.used().0;
            free += p.free().0;
            if p.free() < smallest {
                stranded += p.free().0;
            }
        }
    }
    FillPoint {
        requested,
        allocated: used as f64 / capacity as f64,
        placed,
        rejected,
        gpus_busy: scheduler.gpus_in_use(),
        fragmentation: if free == 0 {
            0.0
        } else {
            stranded as f64 / free as f64
        },
    }
}
