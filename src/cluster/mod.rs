//! The fragmentation study's cluster, as external proof of the policies:
//! "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
//! Fragmentation Gradient Descent" (Weng et al., USENIX ATC'23) and its
//! public simulator (github.com/hkust-adsl/kubernetes-scheduler-simulator).
//!
//! Its model differs from the MI300X partitions the rest of aimsim plans:
//! nodes of several GPU models, CPU and memory per node, GPUs shared by
//! fraction (`gpu_milli` of 1000) rather than by memory, pods that may be
//! restricted to some GPU models. This module is that model, with the
//! study's filter, its six policies scored as its simulator scores them
//! and its experiment, so that aimsim's reading of FGD can be checked
//! against the figures the study published.
//!
//! - [`trace`]: the node list and pod lists, bounded and checked.
//! - [`node`]: a node's free resources and the filter.
//! - [`fragmentation`]: typical pods, fragmentation, the FGD score.
//! - [`policy`]: the policies and their scores.
//! - [`experiment`]: arrivals, runs and the allocation curve.
//! - [`study`]: every variant x policy x seed, in parallel.
//! - [`published`]: the study's own figures, for comparison.

pub mod experiment;
pub mod fragmentation;
pub mod node;
pub mod policy;
pub mod published;
pub mod study;
#[cfg(test)]
mod testing;
mod thinning;
pub mod trace;

pub use experiment::{Arrivals, Experiment, Placed, RunResult};
pub use policy::StudyPolicy;
pub use trace::{Cluster, PodList};
