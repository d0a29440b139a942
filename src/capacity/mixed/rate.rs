//! The capacity of one replica of a configuration: the highest request
//! rate it sustains within the SLO on its model's traffic, found by
//! bisection on the rate with the request-level simulator.
//!
//! The model's recorded requests are replayed with their arrival times
//! stretched or compressed (the same requests, lengths and burstiness, at
//! another rate; the warm-up stretched alike), on one replica alone on its
//! device. The search starts at the replica's steady-state throughput
//! bound (no rate above it can be sustained) and halves the interval
//! [`BISECTIONS`] times, so the answer is within `bound / 2^BISECTIONS`
//! below the true capacity on this traffic.
//!
//! Replicas pool: `n` replicas behind one router meet a tail target at more
//! than `n` times one replica's rate (a request queued behind a long
//! prompt on one replica goes to another). So what a composition uses is
//! [`replicas_needed`]: the fewest replicas of the configuration that meet
//! the SLO on the model's whole traffic at its own rate, found from the
//! one-replica estimate by bisection on the count, as a plan's isolated
//! stage does.

use crate::perf::offline_throughput;
use crate::serve::traffic::Recorded;

use super::super::evaluate::evaluate_fleet;
use super::super::PlanContext;
use super::compose::mode_gpus;
use super::space::{Mode, Viable};

/// Halvings of the rate interval.
pub const BISECTIONS: u32 = 7;

/// Most measured requests one capacity run replays (the first ones after
/// the warm-up): enough for a 99th percentile to rest on 30 requests.
pub const CAPACITY_REQUESTS: usize = 3_000;

/// What one replica of a configuration sustains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Highest rate met, requests per second (0 when none was).
    pub rate: f64,
    /// The steady-state throughput bound the search started from, requests
    /// per second.
    pub bound: f64,
    /// Output tokens per second per GPU at `rate`.
    pub tokens_per_gpu: f64,
    /// Output tokens per second one user sees at `rate` (1 / TPOT at the
    /// SLO's percentile).
    pub tokens_per_user: f64,
    /// Simulations run.
    pub runs: u32,
}

/// The capacity of one replica of `viable` (a configuration of the model
/// named `model`) on `traffic`, that model's requests arriving at `rate`
/// requests per second.
pub fn capacity(
    context: &PlanContext,
    model: &str,
    modes: &[Mode],
    viable: &Viable,
    traffic: &Recorded,
    rate: f64,
) -> Capacity {
    let config = viable.config;
    let mode = &modes[config.mode];
    let gpus = f64::from(config.tp) / f64::from(mode.partitions);
    let requests = traffic.requests();
    let n = requests.len().max(1) as f64;
    let prompt = requests.iter().map(|r| f64::from(r.prompt)).sum::<f64>() / n;
    let output = requests.iter().map(|r| f64::from(r.output)).sum::<f64>() / n;
    let tokens = offline_throughput(
        &viable.model,
        prompt.round().max(1.0) as u32,
        output.round().max(1.0) as u32,
        viable.model.limits().max_seqs,
        1,
    );
    let bound = tokens / output.max(1.0);
    let warm = requests.partition_point(|r| r.arrival < context.warmup);
    let limit = warm + CAPACITY_REQUESTS;
    let fleet = mode.fleet(context, config.tp);
    let placed = vec![(0, config.deployment(context, model, 1))];
    let names = [model.to_string()];
    let mut runs = 0;
    // Whether one replica meets the SLO at `at` requests per second, and
    // its TPOT at the SLO's percentile then.
    let mut try_rate = |at: f64| -> (bool, f64) {
        runs += 1;
        let factor = rate / at;
        let scaled = PlanContext {
            warmup: crate::time::Nanos((context.warmup.0 as f64 * factor).round() as u64),
            ..*context
        };
        let recorded = traffic.time_scaled(factor, limit);
        match evaluate_fleet(
            &scaled,
            &fleet,
            &placed,
            &names,
            crate::serve::ServingPolicy::LoadAware,
            &recorded,
            true,
        ) {
            Ok(e) if e.met() => (true, e.models[0].tpot),
            _ => (false, 0.0),
        }
    };
    let (mut low, mut high) = (0.0, bound);
    let mut tpot = 0.0;
    let (met, at_bound) = try_rate(bound);
    if met {
        low = bound;
        tpot = at_bound;
    } else {
        for _ in 0..BISECTIONS {
            let mid = (low + high) / 2.0;
            let (met, t) = try_rate(mid);
            if met {
                low = mid;
                tpot = t;
            } else {
                high = mid;
            }
        }
    }
    Capacity {
        rate: low,
        bound,
        tokens_per_gpu: low * output / gpus,
        tokens_per_user: if tpot > 0.0 { 1.0 / tpot } else { 0.0 },
        runs,
    }
}

/// Where the search for a replica count starts and stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    /// Fewer cannot carry the traffic (its throughput bound).
    pub lower: u32,
    /// Tried first (its one-replica capacity's estimate).
    pub guess: u32,
    /// Most tried (as many as the plan's GPUs hold).
    pub cap: u32,
}

/// The fewest replicas of `viable` (a configuration of `model`), alone on
/// as many partitions of its mode, that meet the SLO on `traffic`, the
/// model's requests at its own rate, within `range`; `None` when even its
/// cap misses. Returns the count and the simulations run.
pub fn replicas_needed(
    context: &PlanContext,
    model: &str,
    modes: &[Mode],
    viable: &Viable,
    traffic: &Recorded,
    range: CountRange,
) -> (Option<u32>, u32) {
    let CountRange { lower, guess, cap } = range;
    let config = viable.config;
    let mode = &modes[config.mode];
    let names = [model.to_string()];
    let mut runs = 0;
    let mut meets = |n: u32| -> bool {
        runs += 1;
        // As many GPUs as hold them, nodes' CPU and host memory counted.
        let Some(gpus) = mode_gpus(mode, &context.node, viable.host, &[(config.tp, n)]) else {
            return false;
        };
        let placed = vec![(0, config.deployment(context, model, n))];
        evaluate_fleet(
            context,
            &mode.fleet(context, gpus),
            &placed,
            &names,
            crate::serve::ServingPolicy::LoadAware,
            traffic,
            true,
        )
        .is_ok_and(|e| e.met())
    };
    let lower = lower.clamp(1, cap);
    let mut ok = guess.clamp(lower, cap);
    let mut fail = lower - 1;
    if meets(ok) {
        // Below the guess, bisect.
    } else {
        loop {
            if ok == cap {
                return (None, runs);
            }
            fail = ok;
            ok = ok.saturating_mul(2).min(cap);
            if meets(ok) {
                break;
            }
        }
    }
    while ok - fail > 1 {
        let mid = fail + (ok - fail) / 2;
        if meets(mid) {
            ok = mid;
        } else {
            fail = mid;
        }
    }
    (Some(ok), runs)
}
