//! Nodes: the servers GPUs sit in. A node has GPU slots, CPU cores and
//! host memory; a replica's host needs (an AIM profile's
//! `resource_requirements.cpu_cores` and `system_memory_gb`) are charged
//! once, on the node that holds its GPUs.

use crate::units::Mib;

/// What one replica needs from its node besides GPU memory, charged once
/// per replica (not per GPU) on the node that holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostDemand {
    /// CPU, in thousandths of a core (Kubernetes' `cpu` unit: one core is
    /// one vCPU).
    pub cpu_milli: u32,
    /// Host (system) memory.
    pub memory: Mib,
}

impl HostDemand {
    /// Nothing asked of the host.
    pub const NONE: HostDemand = HostDemand {
        cpu_milli: 0,
        memory: Mib::ZERO,
    };

    /// Whether nothing is asked of the host.
    pub fn is_none(&self) -> bool {
        *self == HostDemand::NONE
    }
}

/// How GPUs are grouped into nodes and what each node has besides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeShape {
    /// GPU slots per node.
    pub gpus: u32,
    /// CPU, in thousandths of a core.
    pub cpu_milli: u64,
    /// Host memory.
    pub memory: Mib,
}

impl NodeShape {
    /// Most GPUs a node may have.
    pub const MAX_GPUS: u32 = 16;

    /// The default node: Microsoft Azure's `Standard_ND96isr_MI300X_v5`,
    /// 8 MI300X, 96 vCPUs and 1,850 GiB of memory (Microsoft Learn, "ND
    /// MI300X v5 size series", 2024-05-21). A published, rentable whole-node
    /// shape; a bare-metal server may have more cores (AMD's own MLPerf
    /// Inference v4.1 system: 2 x EPYC 9374F, 64 cores, 1.5 TiB), so a
    /// scenario can set its own (`[fleet.node]`).
    pub const REFERENCE: NodeShape = NodeShape {
        gpus: 8,
        cpu_milli: 96_000,
        memory: Mib(1_850 * 1024),
    };

    /// Whether `host` could fit this node when it is empty.
    pub fn could_host(&self, host: HostDemand) -> bool {
        u64::from(host.cpu_milli) <= self.cpu_milli && host.memory <= self.memory
    }

    /// Whether a gang of `tp` GPUs divides this node's GPUs: `tp` must be a
    /// divisor of the node's GPU count, so that gangs of one size tile a node.
    pub fn divides(&self, tp: u32) -> bool {
        tp >= 1 && self.gpus.is_multiple_of(tp)
    }

    /// `8 GPUs, 96 cores, 1850 GiB host memory`.
    pub fn describe(&self) -> String {
        format!(
            "{} GPUs, {} cores, {} GiB host memory",
            self.gpus,
            format_cores(self.cpu_milli),
            self.memory
        )
    }
}

impl Default for NodeShape {
    fn default() -> NodeShape {
        NodeShape::REFERENCE
    }
}

/// `96` or `95.5`.
fn format_cores(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{}", milli as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_node_holds_48_aim_replicas_by_cpu_and_more_by_memory() {
        // Every catalog profile asks 2 cores and 16 GiB of the host.
        let aim = HostDemand {
            cpu_milli: 2_000,
            memory: Mib::gib(16),
        };
        let node = NodeShape::REFERENCE;
        assert_eq!(node.cpu_milli / u64::from(aim.cpu_milli), 48);
        assert_eq!(node.memory.0 / aim.memory.0, 115);
        assert!(node.could_host(aim));
        assert!(!node.could_host(HostDemand {
            cpu_milli: 96_001,
            memory: Mib::ZERO
        }));
    }

    #[test]
    fn gangs_must_divide_the_node() {
        let node = NodeShape::REFERENCE;
        assert!([1, 2, 4, 8].iter().all(|&tp| node.divides(tp)));
        assert!(![0, 3, 5, 6, 16].iter().any(|&tp| node.divides(tp)));
        assert_eq!(node.describe(), "8 GPUs, 96 cores, 1850 GiB host memory");
    }
}
