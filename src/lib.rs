//! aimsim: simulation and capacity planning for AMD Instinct GPU fleets
//! shared by LLM deployments, built on the AIM GPU-sharing model.
//!
//! The library is the engine; the `aimsim` binary is a thin command line
//! over it. Data flows one way: [`profile`] (what each model needs) and
//! [`hardware`] (what each GPU offers) build a fleet of
//! [`partition::GpuState`]s, and a [`schedule::Scheduler`] places replicas
//! on it.
//!
//! ```
//! use aimsim::hardware::{GpuKind, LayoutSpec};
//! use aimsim::profile::{Catalog, Precision};
//! use aimsim::schedule::{PlacementRequest, Policy, Scheduler, Demand};
//!
//! // The AIM example: one MI300X split into 4 x 40 GB, Llama-3.1-8B at fp16.
//! let catalog = Catalog::builtin();
//! let llama = catalog.variant(catalog.find("meta-llama/Llama-3.1-8B-Instruct", Precision::Fp16)?);
//! let layout = "40,40,40,40".parse::<LayoutSpec>()?.build(GpuKind::Mi300x)?;
//! let mut fleet = Scheduler::uniform(Policy::Aim, &layout, 1);
//!
//! let request = PlacementRequest {
//!     demand: Demand { size: llama.memory, gpu_count: llama.gpu_count, partitions: 1, host: llama.host },
//!     preferred: None,
//! };
//! let placement = fleet.schedule(&request).expect("an empty GPU has room");
//! assert_eq!(placement.first().at.partition, 0);
//! assert_eq!(placement.first().size.to_string(), "20"); // GiB, charged exactly
//!
//! fleet.unschedule(placement.replica)?;
//! assert_eq!(fleet.gpus()[0].used().0, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod capacity;
pub mod cluster;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hardware;
pub mod input;
pub mod partition;
pub mod perf;
pub mod profile;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod serve;
pub mod sim;
pub mod sweep;
pub mod time;
pub mod units;
pub mod workload;
