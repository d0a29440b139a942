//! What a serving run measured: per deployment, per replica and per GPU,
//! the requests left at the end, and the series over time.

use super::metrics::{Tally, TimeSeries};
use super::traffic::Target;

/// One replica's figures over the measured window.
#[derive(Debug, Clone, Default)]
pub struct ReplicaTally {
    /// Iterations run.
    pub iterations: u64,
    /// Time spent in iterations, ns.
    pub busy_ns: u64,
    /// Output tokens emitted.
    pub tokens: u64,
    /// Requests routed to it.
    pub routed: u64,
    /// Preemptions (recomputations).
    pub preemptions: u64,
    /// Integral of cache blocks in use, block-ns.
    pub block_ns: f64,
    /// Most cache blocks in use at once.
    pub peak_blocks: u32,
    /// Cache blocks in all.
    pub blocks: u32,
    /// Most requests queued or running at once.
    pub peak_outstanding: usize,
}

/// Requests of a target no replica serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unserved {
    /// What they asked for.
    pub target: Target,
    /// How many arrived (measured or not).
    pub requests: u64,
}

/// Requests still in the system at the horizon, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// Waiting for admission (after a preemption too).
    pub waiting: u64,
    /// Prompt being processed.
    pub prefilling: u64,
    /// Generating output.
    pub decoding: u64,
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct ServeOutcome {
    /// Per deployment.
    pub deployments: Vec<Tally>,
    /// Per replica.
    pub replicas: Vec<ReplicaTally>,
    /// Per GPU: time with at least one replica in an iteration, ns.
    pub gpu_busy_ns: Vec<u64>,
    /// Targets no replica serves.
    pub unserved: Vec<Unserved>,
    /// Requests in the system at the end, by state (all, measured or not).
    pub unfinished: Unfinished,
    /// Requests read from the traffic (all, measured or not).
    pub arrived: u64,
    /// Requests finished (all).
    pub finished: u64,
    /// Requests refused as too long (all).
    pub too_long: u64,
    /// Requests shed on arrival: the fleet already held
    /// [`super::ServeConfig::max_in_system`] (all).
    pub shed: u64,
    /// Most requests in the system at once (all), at most
    /// [`super::ServeConfig::max_in_system`].
    pub peak_in_system: u64,
    /// Output tokens requested by finished requests (all).
    pub requested_tokens: u64,
    /// Output tokens generated so far by requests unfinished at the end.
    pub unfinished_tokens: u64,
    /// Output tokens emitted by every iteration (all).
    pub emitted_tokens: u64,
    /// Start and end of the measured window, ns.
    pub window: (u64, u64),
    /// Integral over the window of requests in the system, request-ns.
    pub in_system_ns: f64,
    /// Sum over measured finished requests of their time in the system, ns.
    pub sojourn_ns: f64,
    /// Series over time.
    pub series: TimeSeries,
    /// Iterations run in all.
    pub iterations: u64,
    /// Whether the run stopped early, past its miss budget
    /// ([`super::ServeConfig::give_up_after`]): the SLO is missed.
    pub abandoned: bool,
}

impl ServeOutcome {
    /// The measured window's length, seconds.
    pub fn window_seconds(&self) -> f64 {
        (self.window.1.saturating_sub(self.window.0)) as f64 / 1e9
    }

    /// All deployments together.
    pub fn overall(&self) -> Tally {
        let mut all = Tally::default();
        for tally in &self.deployments {
            all.merge(tally);
        }
        all
    }
}
