//! How a serving run goes: its horizon, warm-up, routing, SLO, engine and
//! when a search may give it up.

use crate::time::Nanos;

use super::engine::EngineConfig;
use super::metrics::Slo;
use super::router::Routing;

/// How a run goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Stop here; requests still in the system are reported unfinished.
    /// `None`: run until the traffic ends and every request is done.
    pub horizon: Option<Nanos>,
    /// Requests arriving before this are served but not measured.
    pub warmup: Nanos,
    /// First interval of the time series (it doubles to keep at most
    /// [`super::metrics::MAX_POINTS`] points).
    pub interval: Nanos,
    /// Routing rule.
    pub routing: Routing,
    /// Seed of routing draws.
    pub seed: u64,
    /// Latency targets.
    pub slo: Slo,
    /// The engine every replica runs.
    pub engine: EngineConfig,
    /// Stop as soon as more than this many measured requests have missed
    /// the SLO (finished outside a target, or refused as too long): a
    /// search that only asks whether the SLO is met knows the answer then.
    /// The outcome says it was abandoned; its figures cover the run so
    /// far. `None`: run to the end.
    pub give_up_after: Option<u64>,
    /// Most requests in the system at once, waiting or running, over the
    /// whole fleet (`run.max_in_system`): an arrival beyond it is shed
    /// and counted, as a gateway's pending-request limit refuses it
    /// (Envoy's `max_pending_requests`). It bounds the run's memory.
    pub max_in_system: u64,
}

/// The default of [`ServeConfig::max_in_system`]: 2^20 requests, about
/// 100 MB of request state (a request in the system holds about 90 bytes:
/// its slot and its engine entry). A fleet that holds a million requests
/// has missed any latency target long before.
pub const DEFAULT_MAX_IN_SYSTEM: u64 = 1 << 20;

/// The largest [`ServeConfig::max_in_system`] a scenario may set: 2^24
/// requests, about 1.6 GB.
pub const MAX_IN_SYSTEM: u64 = 1 << 24;
