//! What is asked of the scheduler and what it answers.

use std::fmt;

use crate::hardware::HostDemand;
use crate::units::Mib;

/// Most partitions one replica may be charged on (`gpu_count x partitions`).
pub const MAX_SHARDS: usize = 8;

/// What a replica needs: `size` on each of `partitions` distinct
/// partitions of each of `gpu_count` distinct GPUs of one node, and `host`
/// from that node's CPU and memory, all or nothing.
///
/// An AIM profile needs one partition on each of its GPUs (a
/// tensor-parallel replica is a gang of `gpu_count` GPUs). A pod of the
/// Alibaba trace mapped onto partitions (one trace GPU = one partition, one
/// trace node = one MI300X) needs several whole partitions of one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Demand {
    /// Memory charged on each partition.
    pub size: Mib,
    /// Distinct GPUs.
    pub gpu_count: u32,
    /// Distinct partitions on each of those GPUs.
    pub partitions: u32,
    /// CPU and host memory, charged once on the node.
    pub host: HostDemand,
}

impl Demand {
    /// `size` on one partition of one GPU.
    pub fn single(size: Mib) -> Demand {
        Demand {
            size,
            gpu_count: 1,
            partitions: 1,
            host: HostDemand::NONE,
        }
    }

    /// Partitions charged in all.
    pub fn shards(&self) -> u64 {
        u64::from(self.gpu_count) * u64::from(self.partitions)
    }

    /// Memory charged in all.
    pub fn total(&self) -> Mib {
        Mib(self.size.0 * self.shards())
    }
}

/// A partition of a GPU in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionRef {
    /// GPU index in the fleet.
    pub gpu: u32,
    /// Partition index on that GPU.
    pub partition: u32,
}

impl fmt::Display for PartitionRef {
    /// `gpu 3 partition 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gpu {} partition {}", self.gpu, self.partition)
    }
}

/// One placement to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlacementRequest {
    /// The memory to place.
    pub demand: Demand,
    /// A partition to use if the replica fits there (its first shard, for
    /// multi-GPU replicas); otherwise the policy chooses. A partition that
    /// does not exist is an invalid request, not silently ignored.
    pub preferred: Option<PartitionRef>,
}

impl PlacementRequest {
    /// A request for `size` on one GPU, no preference.
    pub fn single(size: Mib) -> PlacementRequest {
        PlacementRequest {
            demand: Demand::single(size),
            preferred: None,
        }
    }
}

/// Identifies a live replica. Ids are never reused while a scheduler lives:
/// a freed slot comes back with a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for ReplicaId {
    /// `r12` or `r12.3` when the slot was reused.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.generation == 0 {
            write!(f, "r{}", self.slot)
        } else {
            write!(f, "r{}.{}", self.slot, self.generation)
        }
    }
}

/// Memory charged to one partition for one replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Where.
    pub at: PartitionRef,
    /// How much.
    pub size: Mib,
}

/// A placed replica: where its shards went and what its node's host gave it.
///
/// Kept compact (every shard is charged the same size, so it is stored
/// once; a partition index fits a byte): the scheduler stores and returns
/// one of these per placement, and its size is most of what a placement
/// copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The new replica.
    pub replica: ReplicaId,
    /// CPU and host memory charged on the node of its GPUs.
    pub host: HostDemand,
    /// Memory charged on each shard's partition.
    size: Mib,
    len: u8,
    partitions: [u8; MAX_SHARDS],
    gpus: [u32; MAX_SHARDS],
}

impl Placement {
    /// A placement of `size` per shard with no shard yet, to fill in with
    /// [`Placement::push`]; its replica id is set when it is stored.
    pub(crate) fn empty(size: Mib, host: HostDemand) -> Placement {
        Placement {
            replica: ReplicaId {
                slot: 0,
                generation: 0,
            },
            host,
            size,
            len: 0,
            partitions: [0; MAX_SHARDS],
            gpus: [0; MAX_SHARDS],
        }
    }

    /// Adds a shard at `at` (the caller keeps to [`MAX_SHARDS`] and to
    /// partition indexes below 256).
    #[inline]
    pub(crate) fn push(&mut self, at: PartitionRef) {
        let i = self.len as usize;
        self.gpus[i] = at.gpu;
        self.partitions[i] = at.partition as u8;
        self.len += 1;
    }

    /// Whether it has any shard (a placement the scheduler returns always
    /// has; a freed replica's slot has none).
    #[inline]
    pub(crate) fn has_shards(&self) -> bool {
        self.len > 0
    }

    /// Empties a freed replica's slot and moves its id to the next
    /// generation, the id the slot's next replica gets.
    #[inline]
    pub(crate) fn vacate(&mut self) {
        self.len = 0;
        self.replica.generation = self.replica.generation.wrapping_add(1);
    }

    /// Whether a shard is already on `gpu`.
    #[inline]
    pub(crate) fn holds_gpu(&self, gpu: u32) -> bool {
        self.gpus[..self.len as usize].contains(&gpu)
    }

    /// Every shard, in placement order.
    pub fn shards(&self) -> impl ExactSizeIterator<Item = Shard> + '_ {
        self.gpus[..self.len as usize]
            .iter()
            .zip(&self.partitions)
            .map(|(&gpu, &partition)| Shard {
                at: PartitionRef {
                    gpu,
                    partition: u32::from(partition),
                },
                size: self.size,
            })
    }

    /// The shards grouped by GPU: each GPU with the partitions charged on
    /// it (a run of consecutive shards on one GPU; the scheduler places a
    /// GPU's shards together).
    #[inline]
    pub fn per_gpu(&self) -> PerGpu<'_> {
        PerGpu {
            placement: self,
            next: 0,
        }
    }

    /// The first (for single-GPU replicas, the only) shard.
    pub fn first(&self) -> Shard {
        Shard {
            at: PartitionRef {
                gpu: self.gpus[0],
                partition: u32::from(self.partitions[0]),
            },
            size: self.size,
        }
    }

    /// Memory charged on each shard's partition.
    pub fn size(&self) -> Mib {
        self.size
    }
}

/// The shards of a placement grouped by GPU ([`Placement::per_gpu`]).
#[derive(Debug, Clone)]
pub struct PerGpu<'a> {
    placement: &'a Placement,
    next: usize,
}

impl<'a> Iterator for PerGpu<'a> {
    /// A GPU and the partitions charged on it.
    type Item = (u32, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let p = self.placement;
        let len = usize::from(p.len).min(MAX_SHARDS);
        let start = self.next;
        if start >= len {
            return None;
        }
        let gpu = p.gpus[start];
        let mut end = start + 1;
        while end < len && p.gpus[end] == gpu {
            end += 1;
        }
        self.next = end;
        Some((gpu, &p.partitions[start..end]))
    }
}

/// Whether a rejected request could ever be placed on this fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectCode {
    /// It would fit an empty fleet of this shape; there is no room now.
    NoCapacityNow,
    /// It can never fit this fleet's GPU kinds and layouts.
    NeverFits,
    /// The request itself is wrong.
    Invalid,
}

impl RejectCode {
    /// Short name for tables and CSV: `no-capacity`, `never-fits`, `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            RejectCode::NoCapacityNow => "no-capacity",
            RejectCode::NeverFits => "never-fits",
            RejectCode::Invalid => "invalid",
        }
    }
}

/// Why a request was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A zero-size demand or zero GPUs.
    EmptyDemand,
    /// More partitions per replica than supported.
    TooManyShards {
        /// Partitions asked for in all.
        requested: u64,
    },
    /// A preferred partition for a replica needing several partitions of
    /// one GPU (not supported: which partition would it pin?).
    PreferredWithSeveralPartitions,
    /// The preferred partition does not exist.
    NoSuchPartition {
        /// The partition asked for.
        preferred: PartitionRef,
    },
    /// Larger than the largest partition of the fleet.
    LargerThanAnyPartition {
        /// Per-GPU size.
        size: Mib,
        /// Largest partition in the fleet.
        largest: Mib,
    },
    /// Needs more partitions of one GPU than any GPU has.
    NotEnoughPartitions {
        /// Partitions needed on one GPU.
        needed: u32,
        /// Most partitions a GPU of the fleet has.
        most: u32,
    },
    /// Needs more distinct GPUs able to host it (when empty) on one node
    /// than any node has.
    NotEnoughCapableGpus {
        /// GPUs needed.
        needed: u32,
        /// Most GPUs of one node whose layout could host one share.
        capable: u32,
    },
    /// Asks more CPU or host memory than any node has.
    LargerThanAnyNode {
        /// What it asks of the host.
        host: HostDemand,
    },
    /// Needs more distinct GPUs than the fleet has.
    NotEnoughGpus {
        /// GPUs needed.
        needed: u32,
        /// GPUs in the fleet.
        fleet: u32,
    },
    /// No partition (on enough distinct GPUs) passes the policy's filter now.
    NoCandidate {
        /// Size of each partition's share.
        size: Mib,
        /// Partitions needed on each GPU.
        partitions: u32,
        /// GPUs needed.
        needed: u32,
        /// GPUs on which a candidate was found before giving up.
        found: u32,
        /// Free memory the policy requires of a partition before it takes
        /// anything (the `aim` policy's 8 GiB, the AIM runtime's rule);
        /// `size` for policies without such a floor.
        min_free: Mib,
    },
    /// The GPU memory is free, but not on a node with the CPU and host
    /// memory left.
    NoHostRoom {
        /// What it asks of the host.
        host: HostDemand,
    },
    /// Partitions pinned for a replica do not have the demand's shape:
    /// `partitions` distinct partitions on each of `gpu_count` distinct
    /// GPUs of one node.
    PinnedShape {
        /// Partitions the demand needs in all.
        needed: u64,
        /// Partitions pinned.
        pinned: u32,
    },
    /// A pinned partition is offline or has less than the demand free.
    PinnedFull {
        /// The partition.
        at: PartitionRef,
        /// Per-partition size asked.
        size: Mib,
    },
}

/// A refused request: the code and the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// Never, not now, or invalid.
    pub code: RejectCode,
    /// The detail.
    pub reason: RejectReason,
}

impl Rejection {
    pub(crate) fn new(reason: RejectReason) -> Rejection {
        let code = match reason {
            RejectReason::EmptyDemand
            | RejectReason::TooManyShards { .. }
            | RejectReason::PreferredWithSeveralPartitions
            | RejectReason::NoSuchPartition { .. }
            | RejectReason::PinnedShape { .. } => RejectCode::Invalid,
            RejectReason::LargerThanAnyPartition { .. }
            | RejectReason::NotEnoughPartitions { .. }
            | RejectReason::NotEnoughCapableGpus { .. }
            | RejectReason::NotEnoughGpus { .. }
            | RejectReason::LargerThanAnyNode { .. } => RejectCode::NeverFits,
            RejectReason::NoCandidate { .. }
            | RejectReason::NoHostRoom { .. }
            | RejectReason::PinnedFull { .. } => RejectCode::NoCapacityNow,
        };
        Rejection { code, reason }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            RejectReason::EmptyDemand => f.write_str("invalid: the request asks for no memory or no GPU"),
            RejectReason::TooManyShards { requested } => write!(
                f,
                "invalid: {requested} partitions per replica requested; at most {MAX_SHARDS} are supported"
            ),
            RejectReason::PreferredWithSeveralPartitions => {
                f.write_str("invalid: a preferred partition needs a one-partition-per-GPU request")
            }
            RejectReason::NoSuchPartition { preferred } => {
                write!(f, "invalid: preferred {preferred} does not exist")
            }
            RejectReason::LargerThanAnyPartition { size, largest } => write!(
                f,
                "never fits: needs {size} GiB, the largest partition is {largest} GiB"
            ),
            RejectReason::NotEnoughPartitions { needed, most } => {
                write!(f, "never fits: needs {needed} partitions of one GPU, a GPU has at most {most}")
            }
            RejectReason::NotEnoughCapableGpus { needed, capable } => write!(
                f,
                "never fits: needs {needed} GPUs of one node that can host it, a node has at most {capable}"
            ),
            RejectReason::LargerThanAnyNode { host } => write!(
                f,
                "never fits: needs {} of the host, more than any node has",
                describe_host(host)
            ),
            RejectReason::NoHostRoom { host } => write!(
                f,
                "no capacity now: the GPU memory is free but no node with it has {} left",
                describe_host(host)
            ),
            RejectReason::PinnedShape { needed, pinned } => write!(
                f,
                "invalid: {pinned} partitions pinned; the replica needs {needed}, one per GPU of one node (distinct GPUs)"
            ),
            RejectReason::PinnedFull { at, size } => write!(
                f,
                "no capacity now: pinned {at} is offline or has less than {size} GiB free"
            ),
            RejectReason::NotEnoughGpus { needed, fleet } => {
                write!(f, "never fits: needs {needed} distinct GPUs, the fleet has {fleet}")
            }
            RejectReason::NoCandidate {
                size,
                partitions,
                needed,
                found,
                min_free,
            } => {
                let each = if partitions == 1 {
                    format!("{size} GiB")
                } else {
                    format!("{partitions} partitions of {size} GiB")
                };
                match (needed, partitions) {
                    (1, 1) if min_free > size => write!(
                        f,
                        "no capacity now: no partition has the {min_free} GiB free the policy requires before it takes {size} GiB (the AIM runtime's minimum-free rule)"
                    ),
                    (1, 1) => write!(f, "no capacity now: no partition can take {size} GiB"),
                    (1, _) => write!(f, "no capacity now: no GPU has {each} free"),
                    _ => write!(f, "no capacity now: {each} fits on {found} of the {needed} distinct GPUs of one node needed"),
                }
            }
        }
    }
}

/// `2 CPU cores and 16 GiB of host memory`.
fn describe_host(host: HostDemand) -> String {
    format!(
        "{} CPU cores and {} GiB of host memory",
        f64::from(host.cpu_milli) / 1000.0,
        host.memory
    )
}
