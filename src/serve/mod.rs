//! Request-level serving simulation: inference traffic replayed against
//! replicas placed on a fleet by the same scheduler as every other run.
//!
//! The pieces, in the order data flows:
//!
//! - [`traffic`]: time-ordered inference requests (the Azure LLM trace,
//!   aimsim's request CSV, or seeded synthetic streams), read one at a time;
//! - [`deploy`]: places each deployment's replicas (by predicted load or a
//!   memory policy, [`placement`]; each given the memory its [`memory`]
//!   setting says) and builds every placed replica's performance model
//!   ([`crate::perf::ReplicaModel`]) from the device it landed on;
//! - [`router`]: picks a replica of the request's model;
//! - [`engine`]: one replica's continuous-batching engine, deciding as
//!   vLLM V1's scheduler (or V0's) does, checked step by step against
//!   vLLM itself; its iterations timed by the performance model;
//! - [`run`]: the discrete-event loop tying them together, and
//!   [`outcome`]: what it measured;
//! - [`metrics`] and [`histogram`]: latencies, service-level attainment and
//!   series over time, in constant memory.

mod candidates;
mod config;
pub mod deploy;
pub mod engine;
pub mod histogram;
mod live;
pub mod memory;
pub mod metrics;
pub mod outcome;
pub mod placement;
mod placer;
pub mod router;
mod routes;
pub mod run;
pub mod traffic;

pub use config::{ServeConfig, DEFAULT_MAX_IN_SYSTEM, MAX_IN_SYSTEM};
pub use deploy::{
    deploy, DeployError, DeployInputs, Deployed, DeploymentSpec, ReplicaSetup, Unplaced,
};
pub use engine::{EngineConfig, EngineConfigError, EngineKnobs};
pub use memory::ReplicaMemory;
pub use metrics::{Slo, Tally, TallySummary};
pub use outcome::ServeOutcome;
pub use placement::{Imbalance, ReplicaDemand, ServingPolicy};
pub use router::Routing;
pub use run::serve;
