//! The scheduler's invariants, recounted from scratch: what the property
//! tests and the simulator's debug builds check after every operation.

use crate::partition::BooksError;
use crate::units::Mib;

use super::request::{PartitionRef, ReplicaId};
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
    /// Recomputes every partition's charge from the live replicas and checks
    /// it against the GPUs' books, and that no partition is over-committed.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let mut charged: Vec<Vec<(Mib, u32)>> = self
            .gpus()
            .iter()
            .map(|g| vec![(Mib::ZERO, 0); g.partitions().len()])
            .collect();
        let mut live = 0;
        for placement in self.placements() {
            live += 1;
            let shards = placement.shards();
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
