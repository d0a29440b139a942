//! The discrete-event fleet simulator.
//!
//! [`simulate`] replays a [`Workload`](crate::workload::Workload) against a
//! [`Fleet`] through the same [`Scheduler`](crate::schedule::Scheduler) the
//! rest of aimsim uses. Events are ordered by (time, sequence), so equal
//! inputs give equal results; time moves only when the loop pops an event.
//! [`fill`] runs the fragmentation study's fill experiment.

mod engine;
pub mod fill;
mod fleet;
mod metrics;
mod queue;

pub use engine::{simulate, Progress, RunConfig, SimError, MAX_SAMPLES};
pub use fleet::{ElasticSpec, Fleet, FleetError, FleetSpec, GpuGroup, ELASTIC_CAP, MAX_FLEET_GPUS};
pub use metrics::{ClassCounts, ClassResult, RunResult, Sample, Summary};
pub use queue::{EventQueue, PastEvent};
