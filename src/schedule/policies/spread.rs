//! `spread`: the GPU with the most free memory across the whole fleet, then
//! the partition on it with the most free memory. Operators use it to keep
//! latency-sensitive replicas apart: each lands on the emptiest GPU that
//! can take it.

use crate::partition::{GpuState, Partition};
use crate::schedule::demand_mix::DemandMix;
use crate::schedule::index::IndexOrder;
use crate::schedule::node::NodeRule;
use crate::units::Mib;

use super::{best_scoring, GpuPick, IndexAnswer, IndexedFleet, PlacementPolicy, Scope};

/// The emptiest GPU, then its emptiest partitions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread;

impl PlacementPolicy for Spread {
    const NAME: &'static str = "spread";
    const SUMMARY: &'static str = "the GPU with the most free memory in the whole fleet, then its partition with the most free memory: keeps replicas apart (latency-sensitive ones, say); ties to the lowest index";
    const SCOPE: Scope = Scope::WholeFleet;
    const NODE_RULE: NodeRule = NodeRule::Loosest;

    fn configure(_: &DemandMix) -> Self {
        Spread
    }

    fn index_order(&self) -> IndexOrder {
        IndexOrder::Gpu
    }

    /// Within a GPU, the most free memory first.
    #[inline]
    fn score(&self, partition: &Partition, _size: Mib) -> i128 {
        i128::from(partition.free().0)
    }

    /// The most-free partitions that fit; the GPU ranks by all its free
    /// memory, whether or not a partition of it fits.
    #[inline]
    fn pick_on_gpu(&self, gpu: &GpuState, size: Mib, k: usize) -> Option<GpuPick> {
        let mut pick = best_scoring(self, gpu, size, k)?;
        pick.score = i128::from(gpu.free_memory().0);
        Some(pick)
    }

    /// A branch-and-bound descent of the index for the GPU with the most
    /// free memory among those with `k` partitions of `size` free.
    fn search_index(
        &self,
        fleet: &IndexedFleet<'_>,
        size: Mib,
        k: usize,
        excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        IndexAnswer::Decided(
            fleet
                .index
                .most_free_gpu_with_room(k, size, excluded)
                .and_then(|gpu| {
                    self.pick_on_gpu(&fleet.gpus[gpu as usize], size, k)
                        .map(|p| (gpu, p))
                }),
        )
    }
}
