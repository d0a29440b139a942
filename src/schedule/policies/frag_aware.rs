//! `frag-aware`: Fragmentation Gradient Descent ("Beware of Fragmentation:
//! Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent",
//! USENIX ATC'23) over memory partitions. A GPU's expected stranded memory
//! is the free memory a request drawn from the workload's demand mix could
//! not use ([`DemandMix::expected_stranded`]); the policy takes the
//! placement, anywhere in the fleet, that grows it least, then the one that
//! leaves the least memory over (as best-fit), then the lowest index.

use crate::hardware::MAX_PARTITIONS;
use crate::partition::{GpuState, Partition};
use crate::schedule::demand_mix::DemandMix;
use crate::schedule::index::IndexOrder;
use crate::units::Mib;

use super::{
    best_by_value_rank, best_scoring, keep_better, GpuPick, IndexAnswer, IndexedFleet,
    PlacementPolicy, Scope,
};

/// Scale that puts the growth of stranded memory above its left-over
/// tie-breaker (left-over memory is below 2^32 MiB).
const PRIMARY: i128 = 1 << 32;

/// Most distinct free values the index ranks for a request of several
/// partitions of one GPU; a fleet with more that fit scans instead.
const MAX_RANKED_VALUES: usize = 512;

/// Fragmentation Gradient Descent, scoring with the workload's demand mix.
#[derive(Debug, Clone)]
pub(crate) struct FragAware {
    mix: DemandMix,
    /// Whether every demand of the mix takes one partition: then a GPU's
    /// expected stranded memory is a sum over its partitions, and the
    /// growth a placement causes depends on the chosen partition alone.
    additive: bool,
}

impl FragAware {
    /// Expected stranded memory of one partition with `free` free, in an
    /// additive mix.
    #[inline]
    fn stranded_alone(&self, free: Mib) -> i128 {
        self.mix.expected_stranded_alone(free) as i128
    }

    /// The growth of stranded memory if a partition with `free` free takes
    /// `size`, in an additive mix.
    #[inline]
    fn growth_alone(&self, free: Mib, size: Mib) -> i128 {
        self.stranded_alone(free - size) - self.stranded_alone(free)
    }

    /// The rank of a pick that grows stranded memory by `growth` and leaves
    /// `left` over: higher is better.
    fn rank(growth: i128, left: Mib) -> i128 {
        -growth * PRIMARY - i128::from(left.0)
    }
}

impl PlacementPolicy for FragAware {
    const NAME: &'static str = "frag-aware";
    const SUMMARY: &'static str = "the placement anywhere in the fleet that grows the GPU's expected stranded memory least: the memory a request drawn from the workload's demand mix could not use, a GPU without enough free partitions for a multi-partition request counting whole (after the \"Beware of Fragmentation\" study); ties to the least left over";
    const SCOPE: Scope = Scope::WholeFleet;
    /// Measured crossover: its scan ranks every GPU with room; averaged over half and nine-tenths full, the index costs less from 128 GPUs (464 vs 564 ns; at 64, 341 vs 333 ns; BENCHMARKS.md).
    const INDEX_FROM_GPUS: usize = 128;

    fn configure(mix: &DemandMix) -> Self {
        FragAware {
            mix: mix.clone(),
            additive: mix.is_one_partition_each(),
        }
    }

    /// In an additive mix, partitions by free memory (a partition's rank
    /// is its own); otherwise GPUs by state (a pick's rank is the whole
    /// GPU's, a function of its partitions' free memory and number).
    fn index_order(&self) -> IndexOrder {
        if self.additive {
            IndexOrder::Free
        } else {
            IndexOrder::State
        }
    }

    /// In an additive mix, the whole rank of a partition (growth, then
    /// left-over); otherwise only the left-over tie-breaker (`pick_on_gpu`
    /// measures the growth on the whole GPU).
    #[inline]
    fn score(&self, partition: &Partition, size: Mib) -> i128 {
        let free = partition.free();
        if self.additive {
            Self::rank(self.growth_alone(free, size), free - size)
        } else {
            -i128::from((free - size).0)
        }
    }

    /// Partitions one at a time, each the one whose use grows the GPU's
    /// expected stranded memory least (then the least left over, then the
    /// lowest index); the pick ranks by the total growth. In an additive
    /// mix each partition's rank is its own, so that is the `k` best
    /// scores.
    fn pick_on_gpu(&self, gpu: &GpuState, size: Mib, k: usize) -> Option<GpuPick> {
        if self.additive {
            return best_scoring(self, gpu, size, k);
        }
        let parts = gpu.partitions();
        let n = parts.len();
        let mut frees = [Mib::ZERO; MAX_PARTITIONS];
        for (free, partition) in frees.iter_mut().zip(parts) {
            *free = partition.free();
        }
        let mut current = self.mix.expected_stranded(&frees[..n]) as i128;
        let mut taken = [false; MAX_PARTITIONS];
        let mut pick = GpuPick::of(k);
        let (mut growth_total, mut left_total) = (0i128, Mib::ZERO);
        for slot in 0..k {
            let mut best: Option<(i128, usize, i128)> = None;
            for i in 0..n {
                if taken[i] || frees[i] < size {
                    continue;
                }
                // An earlier free partition with the same free memory scores
                // the same and wins the tie.
                if (0..i).any(|j| !taken[j] && frees[j] == frees[i]) {
                    continue;
                }
                frees[i] -= size;
                let after = self.mix.expected_stranded(&frees[..n]) as i128;
                frees[i] += size;
                let growth = after - current;
                let key = Self::rank(growth, frees[i] - size);
                if best.is_none_or(|(top, _, _)| key > top) {
                    best = Some((key, i, growth));
                }
            }
            let (_, index, growth) = best?;
            frees[index] -= size;
            left_total += frees[index];
            taken[index] = true;
            current += growth;
            growth_total += growth;
            pick.partitions[slot] = index as u8;
        }
        pick.score = Self::rank(growth_total, left_total);
        Some(pick)
    }

    /// In a mix of one-partition demands a partition's growth depends on
    /// its free memory alone. One partition: rank the distinct free values
    /// and take the lowest index holding the best. Several: visit GPUs by
    /// their partitions' free values, best-ranked first, until none left
    /// can do better (up to [`MAX_RANKED_VALUES`] distinct values).
    ///
    /// In any other mix a pick's rank depends on the GPU's state alone
    /// (the multiset of its partitions' free memory, and their number:
    /// a mix may count partitions with nothing free): rank the lowest-index
    /// GPU of each state (up to the index's `MAX_STATES` states).
    fn search_index(
        &self,
        fleet: &IndexedFleet<'_>,
        size: Mib,
        k: usize,
        excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        if !self.additive {
            let mut best = None;
            let ranked = fleet.index.for_each_state(size, k, excluded, |gpu| {
                keep_better(
                    &mut best,
                    gpu,
                    self.pick_on_gpu(&fleet.gpus[gpu as usize], size, k),
                );
            });
            return if ranked {
                IndexAnswer::Decided(best)
            } else {
                IndexAnswer::Unsupported
            };
        }
        if k != 1 {
            let mut ranked = [(0i128, Mib::ZERO); MAX_RANKED_VALUES];
            let mut n = 0;
            for free in fleet.index.free_values_from(size) {
                if n == MAX_RANKED_VALUES {
                    return IndexAnswer::Unsupported;
                }
                ranked[n] = (Self::rank(self.growth_alone(free, size), free - size), free);
                n += 1;
            }
            ranked[..n].sort_unstable_by(|a, b| b.cmp(a));
            return IndexAnswer::Decided(best_by_value_rank(
                self,
                fleet,
                size,
                k,
                excluded,
                ranked[..n].iter().copied(),
            ));
        }
        let mut best: Option<(i128, u32, u32)> = None;
        fleet
            .index
            .for_each_free_value(size, excluded, |free, gpu, partition| {
                let key = Self::rank(self.growth_alone(free, size), free - size);
                if best.is_none_or(|(top, _, _)| key > top) {
                    best = Some((key, gpu, partition));
                }
                true
            });
        IndexAnswer::Decided(best.map(|(key, gpu, partition)| (gpu, GpuPick::one(partition, key))))
    }
}
