//! A fleet index that keeps placement fast on large fleets, with decisions
//! identical to the plain scan of [`super::search::scan`].
//!
//! - A segment tree over GPUs keeps, for every k, the largest k-th-largest
//!   free partition below each node: "the first GPU in index order with k
//!   partitions of at least t free" (`aim`, `first-fit`) is one descent.
//!   It also keeps the most free memory of any GPU below each node, so "the
//!   GPU with the most free memory among those with k partitions of at
//!   least t free" (`spread`) is a branch-and-bound descent.
//! - A treap over every partition of the online GPUs, ordered by (free,
//!   GPU, partition): "the least free memory that still fits, lowest index
//!   first" (`best-fit`) is one lower-bound search, and the distinct free
//!   values at or above a size (what `frag-aware` ranks when the workload's
//!   demands take one partition each) are a walk over it. The GPUs holding
//!   a partition with a given free value, in index order, are another walk:
//!   requests for several partitions of one GPU visit GPUs value by value,
//!   best-ranked values first ([`super::policies::best_by_value_rank`]).
//!
//! A fleet keeps only the one its policy reads ([`IndexOrder`]): every
//! placement and free updates it, and that upkeep is most of what a
//! placement costs on a large fleet. Both live in arrays sized once per GPU
//! added, so placing and freeing allocate nothing.

use crate::hardware::MAX_PARTITIONS;
use crate::partition::GpuState;
use crate::units::Mib;

const NIL: u32 = u32::MAX;

/// Key of a partition in the treap.
type Key = (u64, u32, u32);

/// Which of the two orders an index keeps: each policy reads one, and
/// keeping only that one halves the upkeep of every placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexOrder {
    /// GPUs in index order with their k-th largest free partitions and
    /// free memory (the segment tree): first GPU with room, most free GPU.
    ByGpu,
    /// Partitions by free memory (the treap): least free that fits, free
    /// values and the GPUs holding each.
    ByFree,
}

/// The index of one fleet.
#[derive(Debug, Clone)]
pub(crate) struct FleetIndex {
    order: IndexOrder,
    /// Kept for [`IndexOrder::ByGpu`].
    tree: KthTree,
    /// Kept for [`IndexOrder::ByFree`].
    treap: Treap,
    /// Treap id of partition 0 of each GPU.
    first_partition: Vec<u32>,
}

impl FleetIndex {
    /// An index of no GPU that keeps `order`.
    pub fn new(order: IndexOrder) -> FleetIndex {
        FleetIndex {
            order,
            tree: KthTree::default(),
            treap: Treap::default(),
            first_partition: Vec::new(),
        }
    }

    /// Indexes a GPU appended to the fleet.
    pub fn add_gpu(&mut self, gpu: &GpuState, online: bool) {
        let index = self.first_partition.len() as u32;
        self.first_partition.push(self.treap.len() as u32);
        match self.order {
            IndexOrder::ByFree => {
                for _ in gpu.partitions() {
                    self.treap.push_node();
                }
            }
            IndexOrder::ByGpu => self.tree.push_leaf(),
        }
        self.update(index, gpu, online);
    }

    /// Re-reads GPU `index` after its charges or its online state changed.
    pub fn update(&mut self, index: u32, gpu: &GpuState, online: bool) {
        match self.order {
            IndexOrder::ByFree => self.update_treap(index, gpu, online),
            IndexOrder::ByGpu => self.update_tree(index, gpu, online),
        }
    }

    fn update_treap(&mut self, index: u32, gpu: &GpuState, online: bool) {
        let base = self.first_partition[index as usize];
        for (p, partition) in gpu.partitions().iter().enumerate() {
            let id = base + p as u32;
            let key = (partition.free().0, index, p as u32);
            let indexed = self.treap.contains(id);
            if indexed && (!online || self.treap.key(id) != key) {
                self.treap.remove(id);
            }
            if online && !self.treap.contains(id) {
                self.treap.insert(id, key);
            }
        }
    }

    fn update_tree(&mut self, index: u32, gpu: &GpuState, online: bool) {
        let mut sorted = [0u64; MAX_PARTITIONS];
        let mut total = 0;
        if online {
            for (slot, partition) in sorted.iter_mut().zip(gpu.partitions()) {
                *slot = partition.free().0;
                total += *slot;
            }
        }
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        self.tree.set(index as usize, sorted, total);
    }

    /// The first GPU at or after `start` with at least `k` partitions of at
    /// least `threshold` free.
    pub fn first_gpu(&self, start: u32, k: usize, threshold: Mib) -> Option<u32> {
        debug_assert_eq!(self.order, IndexOrder::ByGpu);
        self.tree
            .first_from(start as usize, k - 1, threshold.0)
            .map(|g| g as u32)
    }

    /// The GPU with the most free memory in all (lowest index among equals)
    /// of those with at least `k` partitions of at least `threshold` free
    /// that `excluded` does not hold for.
    pub fn most_free_gpu_with_room(
        &self,
        k: usize,
        threshold: Mib,
        excluded: impl Fn(u32) -> bool,
    ) -> Option<u32> {
        debug_assert_eq!(self.order, IndexOrder::ByGpu);
        self.tree
            .most_total_with(k - 1, threshold.0, &excluded)
            .map(|g| g as u32)
    }

    /// The partition with the least free memory of at least `size`, lowest
    /// (GPU, partition) among equals, on a GPU `excluded` does not hold for.
    pub fn least_free_at_least(
        &self,
        size: Mib,
        excluded: impl Fn(u32) -> bool,
    ) -> Option<(u32, u32)> {
        debug_assert_eq!(self.order, IndexOrder::ByFree);
        let mut key = (size.0, 0, 0);
        loop {
            let id = self.treap.lower_bound(key)?;
            let (_, gpu, partition) = self.treap.key(id);
            if !excluded(gpu) {
                return Some((gpu, partition));
            }
            key = (self.treap.key(id).0, gpu, partition + 1);
        }
    }

    /// The distinct free values of at least `size` among the online GPUs'
    /// partitions, ascending.
    pub fn free_values_from(&self, size: Mib) -> impl Iterator<Item = Mib> + '_ {
        debug_assert_eq!(self.order, IndexOrder::ByFree);
        let mut next = size.0;
        std::iter::from_fn(move || {
            let free = self.treap.key(self.treap.lower_bound((next, 0, 0))?).0;
            next = free + 1;
            Some(Mib(free))
        })
    }

    /// Each online GPU with a partition of exactly `free` free, in index
    /// order, once; `visit` returns `false` to stop.
    pub fn for_each_gpu_with_free(&self, free: Mib, mut visit: impl FnMut(u32) -> bool) {
        debug_assert_eq!(self.order, IndexOrder::ByFree);
        let mut key = (free.0, 0, 0);
        while let Some(id) = self.treap.lower_bound(key) {
            let (value, gpu, _) = self.treap.key(id);
            if value != free.0 || !visit(gpu) {
                return;
            }
            // The GPU's other partitions with this value come next: skip them.
            key = (value, gpu + 1, 0);
        }
    }

    /// Each distinct free value of at least `size`, ascending, with the
    /// lowest (GPU, partition) holding it on a GPU `excluded` does not hold
    /// for; `visit` returns `false` to stop.
    pub fn for_each_free_value(
        &self,
        size: Mib,
        excluded: impl Fn(u32) -> bool,
        mut visit: impl FnMut(Mib, u32, u32) -> bool,
    ) {
        debug_assert_eq!(self.order, IndexOrder::ByFree);
        let mut key = (size.0, 0, 0);
        while let Some(id) = self.treap.lower_bound(key) {
            let (free, gpu, partition) = self.treap.key(id);
            if excluded(gpu) {
                key = (free, gpu, partition + 1);
                continue;
            }
            if !visit(Mib(free), gpu, partition) {
                return;
            }
            key = (free + 1, 0, 0);
        }
    }
}

/// Segment tree over GPUs: node values are, for each k, the largest k-th
/// largest free partition among the GPUs below, and the most free memory of
/// one GPU below.
#[derive(Debug, Clone, Default)]
struct KthTree {
    /// Leaves start here (a power of two).
    capacity: usize,
    len: usize,
    nodes: Vec<[u64; MAX_PARTITIONS]>,
    /// The most free memory of one GPU below each node.
    totals: Vec<u64>,
}

impl KthTree {
    fn push_leaf(&mut self) {
        self.len += 1;
        if self.len > self.capacity {
            let capacity = self.len.next_power_of_two();
            let mut nodes = vec![[0; MAX_PARTITIONS]; 2 * capacity];
            let mut totals = vec![0; 2 * capacity];
            if self.capacity > 0 {
                nodes[capacity..capacity + self.capacity]
                    .copy_from_slice(&self.nodes[self.capacity..2 * self.capacity]);
                totals[capacity..capacity + self.capacity]
                    .copy_from_slice(&self.totals[self.capacity..2 * self.capacity]);
            }
            self.capacity = capacity;
            self.nodes = nodes;
            self.totals = totals;
            for node in (1..capacity).rev() {
                self.pull(node);
            }
        }
    }

    fn set(&mut self, leaf: usize, values: [u64; MAX_PARTITIONS], total: u64) {
        let mut node = self.capacity + leaf;
        self.nodes[node] = values;
        self.totals[node] = total;
        while node > 1 {
            node /= 2;
            self.pull(node);
        }
    }

    /// Recomputes `node` from its children.
    fn pull(&mut self, node: usize) {
        self.nodes[node] = max_of(&self.nodes[2 * node], &self.nodes[2 * node + 1]);
        self.totals[node] = self.totals[2 * node].max(self.totals[2 * node + 1]);
    }

    /// The leaf with the largest total among those whose `k`-th largest
    /// value is at least `threshold` and that `excluded` does not hold for;
    /// the lowest among equals.
    fn most_total_with(
        &self,
        k: usize,
        threshold: u64,
        excluded: &impl Fn(u32) -> bool,
    ) -> Option<usize> {
        if self.capacity == 0 {
            return None;
        }
        let mut best = None;
        self.bound(1, 0, self.capacity, k, threshold, excluded, &mut best);
        best.map(|(_, leaf)| leaf)
    }

    /// Left-to-right descent that skips subtrees with no leaf of room or
    /// none that could beat `best` (an equal total further right loses).
    #[allow(clippy::too_many_arguments)]
    fn bound(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        k: usize,
        threshold: u64,
        excluded: &impl Fn(u32) -> bool,
        best: &mut Option<(u64, usize)>,
    ) {
        if lo >= self.len
            || self.nodes[node][k] < threshold
            || best.is_some_and(|(top, _)| self.totals[node] <= top)
        {
            return;
        }
        if hi - lo == 1 {
            if !excluded(lo as u32) {
                *best = Some((self.totals[node], lo));
            }
            return;
        }
        let mid = (lo + hi) / 2;
        self.bound(2 * node, lo, mid, k, threshold, excluded, best);
        self.bound(2 * node + 1, mid, hi, k, threshold, excluded, best);
    }

    fn first_from(&self, start: usize, k: usize, threshold: u64) -> Option<usize> {
        if self.capacity == 0 {
            return None;
        }
        self.descend(1, 0, self.capacity, start, k, threshold)
    }

    fn descend(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        start: usize,
        k: usize,
        threshold: u64,
    ) -> Option<usize> {
        if hi <= start || self.nodes[node][k] < threshold {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = (lo + hi) / 2;
        self.descend(2 * node, lo, mid, start, k, threshold)
            .or_else(|| self.descend(2 * node + 1, mid, hi, start, k, threshold))
    }
}

fn max_of(a: &[u64; MAX_PARTITIONS], b: &[u64; MAX_PARTITIONS]) -> [u64; MAX_PARTITIONS] {
    let mut out = *a;
    for (o, v) in out.iter_mut().zip(b) {
        *o = (*o).max(*v);
    }
    out
}

/// A treap over partition ids in fixed arrays (no allocation per
/// operation), ordered by key; priorities are a hash of the id, so the
/// shape is deterministic.
#[derive(Debug, Clone)]
struct Treap {
    keys: Vec<Key>,
    priorities: Vec<u64>,
    left: Vec<u32>,
    right: Vec<u32>,
    present: Vec<bool>,
    root: u32,
}

impl Default for Treap {
    fn default() -> Self {
        Treap {
            keys: Vec::new(),
            priorities: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            present: Vec::new(),
            root: NIL,
        }
    }
}

impl Treap {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn push_node(&mut self) {
        let id = self.keys.len() as u64;
        self.keys.push((0, 0, 0));
        self.priorities.push(splitmix64(id));
        self.left.push(NIL);
        self.right.push(NIL);
        self.present.push(false);
    }

    fn contains(&self, id: u32) -> bool {
        self.present[id as usize]
    }

    fn key(&self, id: u32) -> Key {
        self.keys[id as usize]
    }

    fn insert(&mut self, id: u32, key: Key) {
        self.keys[id as usize] = key;
        self.left[id as usize] = NIL;
        self.right[id as usize] = NIL;
        self.present[id as usize] = true;
        let (l, r) = self.split(self.root, key);
        let joined = self.merge(l, id);
        self.root = self.merge(joined, r);
    }

    fn remove(&mut self, id: u32) {
        self.root = self.remove_from(self.root, self.keys[id as usize]);
        self.present[id as usize] = false;
    }

    fn remove_from(&mut self, node: u32, key: Key) -> u32 {
        let n = node as usize;
        if self.keys[n] == key {
            return self.merge(self.left[n], self.right[n]);
        }
        if key < self.keys[n] {
            self.left[n] = self.remove_from(self.left[n], key);
        } else {
            self.right[n] = self.remove_from(self.right[n], key);
        }
        node
    }

    /// Splits `node` into keys below `key` and keys at or above it.
    fn split(&mut self, node: u32, key: Key) -> (u32, u32) {
        if node == NIL {
            return (NIL, NIL);
        }
        let n = node as usize;
        if self.keys[n] < key {
            let (l, r) = self.split(self.right[n], key);
            self.right[n] = l;
            (node, r)
        } else {
            let (l, r) = self.split(self.left[n], key);
            self.left[n] = r;
            (l, node)
        }
    }

    /// Joins two treaps, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.priorities[a as usize] > self.priorities[b as usize] {
            let merged = self.merge(self.right[a as usize], b);
            self.right[a as usize] = merged;
            a
        } else {
            let merged = self.merge(a, self.left[b as usize]);
            self.left[b as usize] = merged;
            b
        }
    }

    /// The node with the smallest key at or above `key`.
    fn lower_bound(&self, key: Key) -> Option<u32> {
        let (mut node, mut best) = (self.root, NIL);
        while node != NIL {
            if self.keys[node as usize] >= key {
                best = node;
                node = self.left[node as usize];
            } else {
                node = self.right[node as usize];
            }
        }
        (best != NIL).then_some(best)
    }
}

/// A well-mixed 64-bit hash (SplitMix64).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_treap_keeps_keys_in_order_through_updates() {
        let mut t = Treap::default();
        for _ in 0..200 {
            t.push_node();
        }
        for id in 0..200u32 {
            t.insert(id, (u64::from(id * 7919 % 200), id, 0));
        }
        for id in (0..200u32).step_by(3) {
            t.remove(id);
            t.insert(id, (u64::from(id % 13), id, 1));
        }
        let mut expected: Vec<Key> = (0..200u32).map(|id| t.key(id)).collect();
        expected.sort();
        let mut walked = Vec::new();
        let mut key = (0, 0, 0);
        while let Some(id) = t.lower_bound(key) {
            let k = t.key(id);
            walked.push(k);
            key = (k.0, k.1, k.2 + 1);
        }
        assert_eq!(walked, expected);
    }

    #[test]
    fn the_tree_finds_the_first_leaf_with_room() {
        let mut tree = KthTree::default();
        for _ in 0..5 {
            tree.push_leaf();
        }
        tree.set(1, [10, 5, 0, 0, 0, 0, 0, 0], 15);
        tree.set(3, [20, 20, 20, 0, 0, 0, 0, 0], 60);
        assert_eq!(tree.first_from(0, 0, 8), Some(1));
        assert_eq!(tree.first_from(2, 0, 8), Some(3));
        assert_eq!(tree.first_from(0, 1, 6), Some(3));
        assert_eq!(tree.first_from(0, 2, 21), None);
        assert_eq!(tree.first_from(4, 0, 1), None);
    }

    #[test]
    fn the_tree_finds_the_most_free_leaf_with_room() {
        let mut tree = KthTree::default();
        for _ in 0..6 {
            tree.push_leaf();
        }
        tree.set(0, [30, 0, 0, 0, 0, 0, 0, 0], 30);
        tree.set(2, [10, 10, 10, 10, 0, 0, 0, 0], 40);
        tree.set(4, [20, 20, 0, 0, 0, 0, 0, 0], 40);
        tree.set(5, [25, 1, 0, 0, 0, 0, 0, 0], 26);
        let none = |_: u32| false;
        // Most free in all: leaves 2 and 4 tie at 40, the lower wins.
        assert_eq!(tree.most_total_with(0, 1, &none), Some(2));
        // A partition of 15: only leaves 0, 4 and 5 have one.
        assert_eq!(tree.most_total_with(0, 15, &none), Some(4));
        assert_eq!(tree.most_total_with(0, 15, &|g| g == 4), Some(0));
        // Two partitions of 15: leaf 4 alone.
        assert_eq!(tree.most_total_with(1, 15, &none), Some(4));
        assert_eq!(tree.most_total_with(2, 15, &none), None);
    }
}
