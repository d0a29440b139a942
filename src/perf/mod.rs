//! The inference performance model: what a replica of a model serves on a
//! GPU kind, partition and precision.
//!
//! [`Device`] is a replica's share of a GPU (a hardware partition owns its
//! compute units and bandwidth; software partitions share the device).
//! [`ReplicaModel`] turns an [`Architecture`](crate::profile::Architecture),
//! a precision and a device into the time of one engine iteration
//! ([`ReplicaModel::step_time`]) as a roofline plus fixed costs whose
//! constants ([`Efficiency`]) come from published microbenchmarks and a fit
//! to published serving results ([`calibration`]). Measured tables
//! ([`MeasuredSet`]) replace the model where a user has benchmarked their
//! own deployment. [`batch_latency`] and [`offline_throughput`] give the
//! figures `aimsim perf` prints. `PERFORMANCE_MODEL.md` documents the model,
//! its sources and its errors.

pub mod calibration;
mod device;
mod efficiency;
mod estimate;
mod measured;
mod replica;

pub use device::{Device, LayoutLabel, NPS_LOCALITY};
pub use efficiency::{
    matrix_16bit, matrix_8bit, Efficiency, FITTED, LINK_EFFICIENCY, OVERLAP_TOKENS,
    WEIGHT_BANDWIDTH,
};
pub use estimate::{batch_latency, offline_throughput, BatchLatency};
pub use measured::{MeasuredError, MeasuredSet, MeasuredTable, Setup};
pub use replica::{
    windowed, Batch, EngineLimits, KvCache, ReplicaError, ReplicaModel, ReplicaSpec,
};
