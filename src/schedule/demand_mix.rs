//! The distribution of demands a workload makes.
//!
//! The `frag-aware` policy scores with the expected memory a request drawn
//! from the mix cannot use; the simulator's fragmentation metrics need that
//! and the smallest request; the fill experiment draws from the mix.

use std::collections::BTreeMap;

use rand::Rng;

use crate::units::Mib;

use super::Demand;

/// Demands with integer weights (counts in a trace, scaled probabilities
/// for a generator), ordered by demand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemandMix {
    entries: Vec<(Demand, u64)>,
    total: u64,
    /// One-partition-per-GPU sizes, ascending, with the weight of all such
    /// entries strictly larger.
    larger_than: Vec<(Mib, u64)>,
    /// Total weight of one-partition-per-GPU demands.
    singles_total: u64,
    /// Several-partitions-per-GPU demands: (size, partitions, weight).
    grouped: Vec<(Mib, u32, u64)>,
    /// The weight of one-partition demands larger than `free`, by
    /// `free >> granule_bits`, when every one-partition size is a multiple
    /// of `2^granule_bits` MiB and the table is short: a lookup instead of
    /// a search. Empty otherwise.
    larger_by_granule: Vec<u64>,
    granule_bits: u32,
}

/// Longest lookup table of weights by free memory a mix keeps.
const MAX_GRANULES: u64 = 4096;

impl DemandMix {
    /// Builds a mix from `(demand, weight)` pairs; zero weights are dropped
    /// and equal demands merged.
    pub fn new(entries: impl IntoIterator<Item = (Demand, u64)>) -> DemandMix {
        let mut merged: BTreeMap<Demand, u64> = BTreeMap::new();
        for (demand, weight) in entries {
            if weight > 0 {
                *merged.entry(demand).or_default() += weight;
            }
        }
        let entries: Vec<(Demand, u64)> = merged.into_iter().collect();
        let total = entries.iter().map(|e| e.1).sum();
        let mut singles: BTreeMap<Mib, u64> = BTreeMap::new();
        let mut grouped: BTreeMap<(Mib, u32), u64> = BTreeMap::new();
        for (demand, weight) in &entries {
            if demand.partitions <= 1 {
                *singles.entry(demand.size).or_default() += weight;
            } else {
                *grouped.entry((demand.size, demand.partitions)).or_default() += weight;
            }
        }
        let singles_total: u64 = singles.values().sum();
        let mut above = singles_total;
        let larger_than = singles
            .into_iter()
            .map(|(size, weight)| {
                above -= weight;
                (size, above)
            })
            .collect();
        let mut mix = DemandMix {
            entries,
            total,
            larger_than,
            singles_total,
            grouped: grouped.into_iter().map(|((s, k), w)| (s, k, w)).collect(),
            larger_by_granule: Vec::new(),
            granule_bits: 0,
        };
        // The largest power of two dividing every one-partition size.
        let bits = mix
            .larger_than
            .iter()
            .map(|&(size, _)| size.0.trailing_zeros())
            .min()
            .unwrap_or(0);
        let largest = mix.larger_than.last().map_or(0, |&(size, _)| size.0);
        if !mix.larger_than.is_empty() && largest >> bits < MAX_GRANULES {
            // A size m x 2^bits is larger than `free` exactly when m is
            // larger than free >> bits.
            mix.larger_by_granule = (0..=largest >> bits)
                .map(|j| mix.search_weight_larger_than(Mib(j << bits)))
                .collect();
            mix.granule_bits = bits;
        }
        mix
    }

    /// `(demand, weight)` entries, ordered by demand.
    pub fn entries(&self) -> &[(Demand, u64)] {
        &self.entries
    }

    /// Sum of the weights.
    pub fn total_weight(&self) -> u64 {
        self.total
    }

    /// Whether every demand takes one partition per GPU (then a GPU's
    /// expected stranded memory is a sum over its partitions).
    pub fn is_one_partition_each(&self) -> bool {
        self.grouped.is_empty()
    }

    /// Whether the mix has no demand.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest per-partition size the workload can request.
    pub fn smallest(&self) -> Option<Mib> {
        self.entries.iter().map(|e| e.0.size).min()
    }

    /// Memory of one GPU, whose partitions have `frees` free, that requests
    /// drawn from the mix cannot use, in MiB x weight (divide by the total
    /// weight for the expectation). A one-partition request cannot use a
    /// partition with less free than its size; a request for `k` partitions
    /// of one GPU cannot use partitions too small for it, nor any memory of
    /// a GPU with fewer than `k` partitions large enough (after the
    /// fragmentation measure of the "Beware of Fragmentation" study).
    pub fn expected_stranded(&self, frees: &[Mib]) -> u128 {
        let mut stranded: u128 = frees
            .iter()
            .map(|&free| self.expected_stranded_alone(free))
            .sum();
        for &(size, partitions, weight) in &self.grouped {
            let usable = frees.iter().filter(|&&f| f >= size).count();
            let unusable: u64 = if usable >= partitions as usize {
                frees.iter().filter(|&&f| f < size).map(|f| f.0).sum()
            } else {
                frees.iter().map(|f| f.0).sum()
            };
            stranded += u128::from(unusable) * u128::from(weight);
        }
        stranded
    }

    /// [`Self::expected_stranded`] of one partition with `free` free, not
    /// counting demands for several partitions of a GPU: when the mix has
    /// none, a GPU's expected stranded memory is the sum of these.
    #[inline]
    pub fn expected_stranded_alone(&self, free: Mib) -> u128 {
        u128::from(free.0) * u128::from(self.single_weight_larger_than(free))
    }

    /// Weight of one-partition demands larger than `free`.
    #[inline]
    fn single_weight_larger_than(&self, free: Mib) -> u64 {
        if !self.larger_by_granule.is_empty() {
            let step = free.0 >> self.granule_bits;
            return self
                .larger_by_granule
                .get(step as usize)
                .copied()
                .unwrap_or(0);
        }
        self.search_weight_larger_than(free)
    }

    /// [`Self::single_weight_larger_than`] by binary search.
    fn search_weight_larger_than(&self, free: Mib) -> u64 {
        // Sizes above `free` are those above the largest size <= `free`.
        let i = self.larger_than.partition_point(|&(size, _)| size <= free);
        match i.checked_sub(1) {
            Some(j) => self.larger_than[j].1,
            None => self.singles_total,
        }
    }

    /// Draws one demand with probability proportional to its weight.
    pub fn sample(&self, rng: &mut impl Rng) -> Demand {
        let mut ticket = rng.random_range(0..self.total);
        for &(demand, weight) in &self.entries {
            if ticket < weight {
                return demand;
            }
            ticket -= weight;
        }
        unreachable!("the ticket is below the total weight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::HostDemand;

    fn d(gib: u64) -> Demand {
        Demand::single(Mib::gib(gib))
    }

    #[test]
    fn one_partition_demands_strand_partitions_smaller_than_them() {
        // Weights: 10 GiB x3, 20 GiB x6, 40 GiB x2 (total 11).
        let mix = DemandMix::new([(d(10), 3), (d(20), 5), (d(20), 1), (d(40), 2)]);
        assert_eq!(mix.total_weight(), 11);
        assert_eq!(mix.smallest(), Some(Mib::gib(10)));
        let gib = |n: u64| u128::from(Mib::gib(n).0);
        // 5 GiB free: every request is larger.
        assert_eq!(mix.expected_stranded(&[Mib::gib(5)]), gib(5) * 11);
        // 10 and 19 GiB free: the 20s and 40s (8) cannot use it; 20: the 40s (2).
        assert_eq!(mix.expected_stranded(&[Mib::gib(10)]), gib(10) * 8);
        assert_eq!(mix.expected_stranded(&[Mib::gib(19)]), gib(19) * 8);
        assert_eq!(mix.expected_stranded(&[Mib::gib(20)]), gib(20) * 2);
        assert_eq!(mix.expected_stranded(&[Mib::gib(40)]), 0);
        // Partitions add up.
        assert_eq!(
            mix.expected_stranded(&[Mib::gib(5), Mib::gib(20)]),
            gib(5) * 11 + gib(20) * 2
        );
    }

    #[test]
    fn the_lookup_table_agrees_with_the_search() {
        let gib_mix = DemandMix::new([(d(10), 3), (d(20), 5), (d(40), 2)]);
        let odd_mix = DemandMix::new([
            (Demand::single(Mib(7)), 1),
            (Demand::single(Mib(1 << 30)), 1),
        ]);
        assert_eq!(gib_mix.granule_bits, 10 + 1);
        assert!(odd_mix.larger_by_granule.is_empty());
        for mix in [gib_mix, odd_mix] {
            for free in (0..50 * 1024)
                .step_by(97)
                .chain([10 * 1024, 20 * 1024 - 1, 1 << 30])
            {
                assert_eq!(
                    mix.single_weight_larger_than(Mib(free)),
                    mix.search_weight_larger_than(Mib(free)),
                    "{free}"
                );
            }
        }
    }

    #[test]
    fn a_several_partition_demand_strands_a_gpu_without_enough_room() {
        // One demand: 4 whole 24 GiB partitions of one GPU, weight 1.
        let whole = Demand {
            size: Mib::gib(24),
            gpu_count: 1,
            partitions: 4,
            host: HostDemand::NONE,
        };
        let mix = DemandMix::new([(whole, 1)]);
        let gib = |n: u64| u128::from(Mib::gib(n).0);
        assert_eq!(mix.expected_stranded(&[Mib::gib(24); 8]), 0);
        // Five empty partitions and three half used: the half-used ones are
        // stranded (12 GiB each); the GPU still hosts the demand.
        let mut five = [Mib::gib(24); 8];
        five[5..].fill(Mib::gib(12));
        assert_eq!(mix.expected_stranded(&five), gib(36));
        // Three empty: the GPU cannot host it at all; all its free is stranded.
        let mut three = [Mib::gib(12); 8];
        three[..3].fill(Mib::gib(24));
        assert_eq!(mix.expected_stranded(&three), gib(72 + 60));
    }
}
