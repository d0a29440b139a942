//! Nodes and pods for the module's unit tests.

use super::node::{NodeState, Pod};
use super::trace::{GpuModel, ModelSet, NodeSpec};

/// An empty node of `gpus` GPUs of model 0 with `cpu` thousandths of a
/// core and plenty of memory.
pub fn node(cpu: u32, gpus: u8) -> NodeState {
    NodeState::new(&NodeSpec {
        name: "n".into(),
        cpu_milli: cpu,
        memory_mib: 1 << 20,
        gpus,
        model: GpuModel(0),
    })
}

/// A pod of any GPU model asking no memory.
pub fn pod(cpu: u32, gpus: u8, milli: u16) -> Pod {
    Pod {
        cpu_milli: cpu,
        memory_mib: 0,
        gpus,
        gpu_milli: milli,
        allowed: ModelSet::ANY,
        shape: 0,
    }
}
