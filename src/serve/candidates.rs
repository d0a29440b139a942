//! The load-aware policy's index of partitions, so that a placement costs a
//! logarithm of the fleet rather than a scan of it.
//!
//! Partitions are grouped into slots by what makes a replica's own load
//! the same on all of them: the layout of their GPU, their index on it and
//! their free memory (which decides the memory a `partition` replica takes,
//! hence its cache). Within a slot they are ordered by their device's
//! predicted load, then its replica count, then GPU index; the first of a
//! slot that a replica may use is that slot's best for it, and the best of
//! the slots' bests is the policy's choice, exactly as a scan ranks them.
//! Partitions with less free than any deployment needs leave the index.

use std::collections::{BTreeMap, BTreeSet};

use crate::units::Mib;

/// A slot: layout index, partition index, free memory.
pub type Slot = (usize, u32, Mib);

/// A partition's place in its slot: its device's predicted load (as the
/// bits of a non-negative float, whose order is the numbers' order), the
/// device's replicas, the GPU.
type Entry = (u64, u32, u32);

/// Partitions by slot, each slot ordered by device load.
#[derive(Debug, Default)]
pub struct Candidates {
    slots: BTreeMap<Slot, BTreeSet<Entry>>,
    /// Partitions with less free than this are never candidates.
    least_need: Mib,
}

impl Candidates {
    /// An empty index keeping partitions with at least `least_need` free.
    pub fn new(least_need: Mib) -> Candidates {
        Candidates {
            slots: BTreeMap::new(),
            least_need,
        }
    }

    /// Adds partition `slot.1` of `gpu`, whose device carries `load` over
    /// `replicas` replicas.
    pub fn insert(&mut self, slot: Slot, gpu: u32, load: f64, replicas: u32) {
        if slot.2 >= self.least_need && slot.2 > Mib::ZERO {
            self.slots
                .entry(slot)
                .or_default()
                .insert((order(load), replicas, gpu));
        }
    }

    /// Removes what [`Candidates::insert`] added with the same arguments.
    pub fn remove(&mut self, slot: Slot, gpu: u32, load: f64, replicas: u32) {
        if let Some(set) = self.slots.get_mut(&slot) {
            set.remove(&(order(load), replicas, gpu));
            if set.is_empty() {
                self.slots.remove(&slot);
            }
        }
    }

    /// Every slot with at least `needs` free, with its partitions in
    /// order: `(gpu, device load, device replicas)`.
    pub fn slots_with(
        &self,
        needs: Mib,
    ) -> impl Iterator<Item = (Slot, impl Iterator<Item = (u32, f64, u32)> + '_)> + '_ {
        self.slots
            .iter()
            .filter(move |(slot, _)| slot.2 >= needs)
            .map(|(&slot, set)| {
                (
                    slot,
                    set.iter()
                        .map(|&(load, replicas, gpu)| (gpu, f64::from_bits(load), replicas)),
                )
            })
    }
}

/// The order key of a non-negative load (infinite included).
fn order(load: f64) -> u64 {
    debug_assert!(load >= 0.0, "a predicted load is never negative: {load}");
    load.max(0.0).to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_lists_its_partitions_by_load_then_replicas_then_gpu() {
        let mut index = Candidates::new(Mib::gib(8));
        let slot = (0, 0, Mib::gib(24));
        index.insert(slot, 3, 0.5, 1);
        index.insert(slot, 1, 0.5, 1);
        index.insert(slot, 2, 0.0, 0);
        index.insert(slot, 0, f64::INFINITY, 1);
        index.insert((0, 0, Mib::gib(4)), 9, 0.0, 0); // too little free
        let order: Vec<u32> = index
            .slots_with(Mib::gib(20))
            .flat_map(|(_, p)| p.map(|(gpu, _, _)| gpu).collect::<Vec<_>>())
            .collect();
        assert_eq!(order, vec![2, 1, 3, 0]);
        assert_eq!(index.slots_with(Mib::gib(30)).count(), 0);
        index.remove(slot, 2, 0.0, 0);
        index.remove(slot, 1, 0.5, 1);
        index.remove(slot, 3, 0.5, 1);
        index.remove(slot, 0, f64::INFINITY, 1);
        assert_eq!(index.slots_with(Mib::ZERO).count(), 0, "empty slots go");
    }
}
