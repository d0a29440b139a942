//! GPU kinds, partition modes and partition layouts.
//!
//! A [`GpuKind`] carries the datasheet figures of one AMD Instinct model; a
//! [`LayoutSpec`] (a compute x memory mode pair or custom sizes) is checked
//! against the kind's rules and becomes a [`Layout`]: the memory quota of
//! every partition, in MiB. A [`NodeShape`] groups GPUs into servers with
//! CPU cores and host memory.

mod gpu;
mod layout;
mod mode;
mod node;

pub use gpu::GpuKind;
pub use layout::{
    Layout, LayoutError, LayoutParseError, LayoutSpec, MAX_PARTITIONS, MIN_PARTITION,
    SYSTEM_OVERHEAD,
};
pub use mode::{ComputeMode, MemoryMode, UnknownMode};
pub use node::{HostDemand, NodeShape};
