//! The scheduler's invariants, recounted from scratch: what the property
//! tests and the simulator's debug builds check after every operation.

use crate::partition::BooksError;
use crate::units::Mib;

use super::request::{PartitionRef, ReplicaId, Shard};
use super::scheduler::Scheduler;

/// The scheduler's books disagree with its GPUs (a bug, never bad input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantError {
    /// A GPU's own books are inconsistent.
    #[error("gpu {gpu}: {error}")]
    Books {
        /// The GPU.
        gpu: u32,
        /// What is wrong.
        error: BooksError,
    },
    /// One replica is charged twice on one partition.
    #[error("replica {replica} has two shards on {at}")]
    DoubleShard {
        /// The replica.
        replica: ReplicaId,
        /// The partition.
        at: PartitionRef,
    },
    /// The count of live replicas drifted.
    #[error("{stored} replicas stored but {counted} counted live")]
    LiveCount {
        /// Replicas with a stored placement.
        stored: usize,
        /// The counter.
        counted: usize,
    },
    /// A replica's GPUs are on different nodes.
    #[error("replica {replica} spans nodes {first} and {other}")]
    SplitGang {
        /// The replica.
        replica: ReplicaId,
        /// The node of its first shard.
        first: u32,
        /// Another node it has a shard on.
        other: u32,
    },
    /// A node's host charge is not the sum of its replicas' host needs, or
    /// exceeds what the node has.
    #[error("node {node}: books say {cpu_used_milli} mCPU / {memory_used} GiB host memory charged, replicas add up to {expected_cpu_milli} mCPU / {expected_memory} GiB, the node has {cpu_milli} mCPU / {memory} GiB")]
    HostCharge {
        /// The node.
        node: u32,
        /// CPU its books say is charged (thousandths of a core).
        cpu_used_milli: u64,
        /// Host memory its books say is charged.
        memory_used: Mib,
        /// CPU its live replicas ask.
        expected_cpu_milli: u64,
        /// Host memory its live replicas ask.
        expected_memory: Mib,
        /// The node's CPU.
        cpu_milli: u64,
        /// The node's host memory.
        memory: Mib,
    },
    /// An offline GPU holds a replica.
    #[error("gpu {0} is offline but holds a replica")]
    OfflineBusy(u32),
    /// A partition's charge is not the sum of its replicas' shards.
    #[error("{at}: books say {used} GiB / {replicas} replicas, replicas add up to {expected_used} GiB / {expected_replicas}")]
    Charge {
        /// The partition.
        at: PartitionRef,
        /// What its books say is charged.
        used: Mib,
        /// Replicas its books count.
        replicas: u32,
        /// What the live replicas' shards add up to.
        expected_used: Mib,
        /// Shards of live replicas there.
        expected_replicas: u32,
    },
}

impl Scheduler {
    /// Recomputes every partition's and node's charge from the live
    /// replicas and checks it against the books, that no partition or node
    /// is over-committed and that no replica spans two nodes.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let mut host: Vec<(u64, Mib)> = vec![(0, Mib::ZERO); self.nodes().count()];
        let mut charged: Vec<Vec<(Mib, u32)>> = self
            .gpus()
            .iter()
            .map(|g| vec![(Mib::ZERO, 0); g.partitions().len()])
            .collect();
        let mut live = 0;
        for placement in self.placements() {
            live += 1;
            let shards: Vec<Shard> = placement.shards().collect();
            let node = self.node_of(shards[0].at.gpu);
            if let Some(other) = shards
                .iter()
                .map(|s| self.node_of(s.at.gpu))
                .find(|&n| n != node)
            {
                return Err(InvariantError::SplitGang {
                    replica: placement.replica,
                    first: node,
                    other,
                });
            }
            host[node as usize].0 += u64::from(placement.host.cpu_milli);
            host[node as usize].1 += placement.host.memory;
            for (i, shard) in shards.iter().enumerate() {
                if shards[..i].iter().any(|s| s.at == shard.at) {
                    return Err(InvariantError::DoubleShard {
                        replica: placement.replica,
                        at: shard.at,
                    });
                }
                let entry = &mut charged[shard.at.gpu as usize][shard.at.partition as usize];
                entry.0 += shard.size;
                entry.1 += 1;
            }
        }
        if live != self.live_replicas() {
            return Err(InvariantError::LiveCount {
                stored: live,
                counted: self.live_replicas(),
            });
        }
        for (index, node) in self.nodes().enumerate() {
            let (cpu, memory) = host[index];
            if node.cpu_used_milli != cpu
                || node.memory_used != memory
                || cpu > node.shape.cpu_milli
                || memory > node.shape.memory
            {
                return Err(InvariantError::HostCharge {
                    node: index as u32,
                    cpu_used_milli: node.cpu_used_milli,
                    memory_used: node.memory_used,
                    expected_cpu_milli: cpu,
                    expected_memory: memory,
                    cpu_milli: node.shape.cpu_milli,
                    memory: node.shape.memory,
                });
            }
        }
        for (index, gpu) in self.gpus().iter().enumerate() {
            let gpu_index = index as u32;
            gpu.check().map_err(|error| InvariantError::Books {
                gpu: gpu_index,
                error,
            })?;
            if !self.is_online(gpu_index) && gpu.is_busy() {
                return Err(InvariantError::OfflineBusy(gpu_index));
            }
            for (p, partition) in gpu.partitions().iter().enumerate() {
                let (used, replicas) = charged[index][p];
                if partition.used() != used || partition.replicas() != replicas {
                    return Err(InvariantError::Charge {
                        at: PartitionRef {
                            gpu: gpu_index,
                            partition: p as u32,
                        },
                        used: partition.used(),
                        replicas: partition.replicas(),
                        expected_used: used,
                        expected_replicas: replicas,
                    });
                }
            }
        }
        Ok(())
    }
}
