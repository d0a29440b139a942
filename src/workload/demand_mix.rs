//! The distribution of request sizes a workload makes.
//!
//! The fragmentation metric needs the smallest request the workload can
//! make, the `frag-aware` policy needs the whole distribution, and the fill
//! experiment draws requests from it.

use std::collections::BTreeMap;

use rand::Rng;

use crate::schedule::Demand;
use crate::units::Mib;

use super::ClassId;

/// Demands with integer weights (counts in a trace, scaled probabilities
/// for a generator), in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemandMix {
    entries: Vec<(Demand, ClassId, u64)>,
    total: u64,
    /// Per-GPU sizes ascending with the weight of all entries strictly larger.
    larger_than: Vec<(Mib, u64)>,
}

impl DemandMix {
    /// Builds a mix from `(demand, class, weight)`; zero weights are dropped
    /// and equal (demand, class) pairs merged.
    pub fn new(entries: impl IntoIterator<Item = (Demand, ClassId, u64)>) -> DemandMix {
        let mut merged: BTreeMap<(u64, u32, u32), u64> = BTreeMap::new();
        for (demand, class, weight) in entries {
            if weight > 0 {
                *merged
                    .entry((demand.size.0, demand.gpu_count, class.0))
                    .or_default() += weight;
            }
        }
        let entries: Vec<(Demand, ClassId, u64)> = merged
            .into_iter()
            .map(|((size, gpu_count, class), weight)| {
                (
                    Demand {
                        size: Mib(size),
                        gpu_count,
                    },
                    ClassId(class),
                    weight,
                )
            })
            .collect();
        let total = entries.iter().map(|e| e.2).sum();
        let mut by_size: BTreeMap<Mib, u64> = BTreeMap::new();
        for (demand, _, weight) in &entries {
            *by_size.entry(demand.size).or_default() += weight;
        }
        let mut larger_than = Vec::with_capacity(by_size.len());
        let mut above = total;
        for (size, weight) in by_size {
            above -= weight;
            larger_than.push((size, above));
        }
        DemandMix {
            entries,
            total,
            larger_than,
        }
    }

    /// `(demand, class, weight)` entries, ordered by size.
    pub fn entries(&self) -> &[(Demand, ClassId, u64)] {
        &self.entries
    }

    /// Sum of the weights.
    pub fn total_weight(&self) -> u64 {
        self.total
    }

    /// Whether the mix has no demand.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest per-GPU size the workload can request.
    pub fn smallest(&self) -> Option<Mib> {
        self.larger_than.first().map(|e| e.0)
    }

    /// Total weight of demands whose per-GPU size is larger than `free`:
    /// those a partition with `free` memory cannot host.
    pub fn weight_larger_than(&self, free: Mib) -> u64 {
        // First size > free; its "larger than" excludes itself, so add it back.
        let i = self.larger_than.partition_point(|&(size, _)| size <= free);
        match self.larger_than.get(i) {
            Some(&(size, above)) => above + self.weight_of_size(size),
            None => 0,
        }
    }

    fn weight_of_size(&self, size: Mib) -> u64 {
        let i = self.larger_than.partition_point(|&(s, _)| s < size);
        let above_this = self.larger_than[i].1;
        let above_previous = if i == 0 {
            self.total
        } else {
            self.larger_than[i - 1].1
        };
        above_previous - above_this
    }

    /// Draws one entry with probability proportional to its weight.
    pub fn sample(&self, rng: &mut impl Rng) -> (Demand, ClassId) {
        let mut ticket = rng.random_range(0..self.total);
        for &(demand, class, weight) in &self.entries {
            if ticket < weight {
                return (demand, class);
            }
            ticket -= weight;
        }
        unreachable!("the ticket is below the total weight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(gib: u64) -> Demand {
        Demand {
            size: Mib::gib(gib),
            gpu_count: 1,
        }
    }

    #[test]
    fn weight_larger_than_counts_strictly_larger_sizes() {
        let mix = DemandMix::new([
            (d(10), ClassId(0), 3),
            (d(20), ClassId(1), 5),
            (d(20), ClassId(2), 1),
            (d(40), ClassId(3), 2),
        ]);
        assert_eq!(mix.total_weight(), 11);
        assert_eq!(mix.smallest(), Some(Mib::gib(10)));
        assert_eq!(mix.weight_larger_than(Mib::gib(5)), 11);
        assert_eq!(mix.weight_larger_than(Mib::gib(10)), 8);
        assert_eq!(mix.weight_larger_than(Mib::gib(19)), 8);
        assert_eq!(mix.weight_larger_than(Mib::gib(20)), 2);
        assert_eq!(mix.weight_larger_than(Mib::gib(40)), 0);
    }
}
