//! `best-fit`: the partition anywhere in the fleet that fits with the least
//! memory left over.

use crate::partition::Partition;
use crate::schedule::demand_mix::DemandMix;
use crate::schedule::index::IndexOrder;
use crate::units::Mib;

use super::{best_by_value_rank, GpuPick, IndexAnswer, IndexedFleet, PlacementPolicy, Scope};

/// The tightest fit in the fleet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BestFit;

impl PlacementPolicy for BestFit {
    const NAME: &'static str = "best-fit";
    const SUMMARY: &'static str =
        "the partition anywhere in the fleet that fits with the least memory left over";
    const SCOPE: Scope = Scope::WholeFleet;
    /// Measured crossover: its scan ranks every GPU with room; averaged over half and nine-tenths full, the index costs about as much at 64 GPUs (298 vs 316 ns) and half as much at 128 (397 vs 797 ns; at 32, 386 vs 319 ns; BENCHMARKS.md).
    const INDEX_FROM_GPUS: usize = 64;

    fn configure(_: &DemandMix) -> Self {
        BestFit
    }

    fn index_order(&self) -> IndexOrder {
        IndexOrder::Free
    }

    #[inline]
    fn score(&self, partition: &Partition, size: Mib) -> i128 {
        -i128::from((partition.free() - size).0)
    }

    /// One partition: a lower bound in the index's order of free memory.
    /// Several: GPUs visited by their partitions' free memory, least first
    /// (the best-fitting first), until none left can do better.
    fn search_index(
        &self,
        fleet: &IndexedFleet<'_>,
        size: Mib,
        k: usize,
        excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        if k != 1 {
            let values = fleet
                .index
                .free_values_from(size)
                .map(|free| (-i128::from((free - size).0), free));
            return IndexAnswer::Decided(best_by_value_rank(
                self, fleet, size, k, excluded, values,
            ));
        }
        IndexAnswer::Decided(fleet.index.least_free_at_least(size, excluded).map(
            |(gpu, partition)| {
                let chosen = &fleet.gpus[gpu as usize].partitions()[partition as usize];
                (gpu, GpuPick::one(partition, self.score(chosen, size)))
            },
        ))
    }
}
