//! `first-fit`: the first partition that fits, GPUs and partitions in index
//! order.

use crate::partition::Partition;
use crate::schedule::demand_mix::DemandMix;
use crate::schedule::index::IndexOrder;
use crate::schedule::node::NodeRule;
use crate::units::Mib;

use super::{first_gpu_with_room, IndexAnswer, IndexedFleet, PlacementPolicy, Scope};

/// The first partition that fits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstFit;

impl PlacementPolicy for FirstFit {
    const NAME: &'static str = "first-fit";
    const SUMMARY: &'static str =
        "the first partition that fits, GPUs and partitions in index order";
    const SCOPE: Scope = Scope::FirstGpuWithCandidate;
    /// Measured crossover: its scan stops at the first partition that fits; averaged over half and nine-tenths full, the index costs less from 512 GPUs (218 vs 318 ns; at 256, 259 vs 199 ns; BENCHMARKS.md).
    const INDEX_FROM_GPUS: usize = 512;
    const NODE_RULE: NodeRule = NodeRule::First;

    fn configure(_: &DemandMix) -> Self {
        FirstFit
    }

    fn index_order(&self) -> IndexOrder {
        IndexOrder::Gpu
    }

    /// Every candidate ties, so the lowest index wins.
    #[inline]
    fn score(&self, _partition: &Partition, _size: Mib) -> i128 {
        0
    }

    fn search_index(
        &self,
        fleet: &IndexedFleet<'_>,
        size: Mib,
        k: usize,
        excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        first_gpu_with_room(self, fleet, size, size, k, excluded)
    }
}
