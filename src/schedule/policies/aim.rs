//! `aim`: the AIM runtime's rule, reproduced decision for decision. It only
//! offers partitions with at least `min_partition_gb` free; among those that
//! fit it takes the one with the most free memory (worst fit), on the first
//! GPU in index order that has one.

use crate::hardware::MIN_PARTITION;
use crate::partition::Partition;
use crate::schedule::demand_mix::DemandMix;
use crate::schedule::index::IndexOrder;
use crate::schedule::node::NodeRule;
use crate::units::Mib;

use super::{first_gpu_with_room, IndexAnswer, IndexedFleet, PlacementPolicy, Scope};

/// The AIM runtime's worst fit over partitions with `min_partition_gb` free.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aim;

impl PlacementPolicy for Aim {
    const NAME: &'static str = "aim";
    const SUMMARY: &'static str = "the AIM runtime's: the preferred partition if the replica fits; else, on the first GPU in index order that has one, the partition with the most free memory among those with at least 8 GiB free that fit; ties to the lowest index";
    const SCOPE: Scope = Scope::FirstGpuWithCandidate;
    /// Measured crossover: its scan stops at the first GPU with room and skips full GPUs in about a nanosecond each; averaged over half and nine-tenths full, the index costs less from 1,024 GPUs (260 vs 428 ns; at 512, 230 vs 217 ns; BENCHMARKS.md).
    const INDEX_FROM_GPUS: usize = 1024;
    const NODE_RULE: NodeRule = NodeRule::First;

    fn configure(_: &DemandMix) -> Self {
        Aim
    }

    fn index_order(&self) -> IndexOrder {
        IndexOrder::Gpu
    }

    /// The runtime never offers a partition under `min_partition_gb` free.
    fn strands_below(&self, smallest_request: Mib) -> Mib {
        smallest_request.max(MIN_PARTITION)
    }

    #[inline]
    fn filter(&self, partition: &Partition, size: Mib) -> bool {
        // One comparison per partition: the maximum is the same for every
        // partition of a search and computed once.
        partition.free() >= size.max(MIN_PARTITION)
    }

    #[inline]
    fn score(&self, partition: &Partition, _size: Mib) -> i128 {
        i128::from(partition.free().0)
    }

    fn search_index(
        &self,
        fleet: &IndexedFleet<'_>,
        size: Mib,
        k: usize,
        excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        first_gpu_with_room(self, fleet, self.strands_below(size), size, k, excluded)
    }
}
