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
//! - GPUs grouped by their state, the multiset of their partitions' free
//!   memory and how many partitions they have: a policy whose pick on a GPU depends on that alone
//!   (`frag-aware` when the workload asks several partitions of one GPU,
//!   its score then being the whole GPU's) ranks one GPU per state, the
//!   lowest-index one, instead of every GPU.
//!
//! A fleet keeps only the one its policy reads ([`IndexOrder`]): every
//! placement and free updates it, and that upkeep is most of what a
//! placement costs on a large fleet. The tree and the treaps live in arrays
//! sized once per GPU added; the state groups' map and list grow only when
//! the fleet holds more distinct states at once than ever before (emptied
//! groups are reused), so placing and freeing allocate nothing once warm.

use std::collections::HashMap;

use crate::hardware::MAX_PARTITIONS;
use crate::partition::GpuState;
use crate::units::Mib;

const NIL: u32 = u32::MAX;

/// Key of a treap entry: a partition's (free, GPU, partition), or a GPU's
/// (state group, GPU, 0).
type Key = (u64, u32, u32);

/// Which order an index keeps: each policy reads one, and keeping only
/// that one saves the upkeep of the others on every placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexOrder {
    /// GPUs in index order with their k-th largest free partitions and
    /// free memory (the segment tree): first GPU with room, most free GPU.
    Gpu,
    /// Partitions by free memory (the treap): least free that fits, free
    /// values and the GPUs holding each.
    Free,
    /// GPUs grouped by state (the multiset of their partitions' free
    /// memory, and their number), each group in index order.
    State,
}

/// Most distinct GPU states a search ranks; a fleet with more scans.
const MAX_STATES: usize = 1024;

/// A GPU's partitions' free memory, largest first, zero past its
/// partitions.
type Frees = [u64; MAX_PARTITIONS];

/// A GPU's state: its partitions' free memory ([`Frees`]) and how many
/// partitions it has (so a partition with nothing free is told from one
/// that does not exist: a demand mix may count the former).
type StateKey = (Frees, u8);

/// The index of one fleet.
#[derive(Debug, Clone)]
pub(crate) struct FleetIndex {
    order: IndexOrder,
    /// Kept for [`IndexOrder::Gpu`].
    tree: KthTree,
    /// Kept for [`IndexOrder::Free`].
    treap: Treap,
    /// Treap id of partition 0 of each GPU.
    first_partition: Vec<u32>,
    /// Kept for [`IndexOrder::State`].
    states: StateGroups,
}

impl FleetIndex {
    /// An index of no GPU that keeps `order`.
    pub fn new(order: IndexOrder) -> FleetIndex {
        FleetIndex {
            order,
            tree: KthTree::default(),
            treap: Treap::default(),
            first_partition: Vec::new(),
            states: StateGroups::default(),
        }
    }

    /// Indexes a GPU appended to the fleet.
    pub fn add_gpu(&mut self, gpu: &GpuState, online: bool) {
        let index = self.first_partition.len() as u32;
        self.first_partition.push(self.treap.len() as u32);
        match self.order {
            IndexOrder::Free => {
                for _ in gpu.partitions() {
                    self.treap.push_node();
                }
            }
            IndexOrder::Gpu => self.tree.push_leaf(),
            IndexOrder::State => self.states.push_gpu(),
        }
        self.update(index, gpu, online);
    }

    /// Re-reads GPU `index` after its charges or its online state changed.
    pub fn update(&mut self, index: u32, gpu: &GpuState, online: bool) {
        match self.order {
            IndexOrder::Free => self.update_treap(index, gpu, online),
            IndexOrder::Gpu => self.update_tree(index, gpu, online),
            IndexOrder::State => self.states.set(
                index,
                online.then(|| (state_of(gpu).0, gpu.partitions().len() as u8)),
            ),
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
        let (sorted, total) = if online {
            state_of(gpu)
        } else {
            ([0; MAX_PARTITIONS], 0)
        };
        self.tree.set(index as usize, sorted, total);
    }

    /// The first GPU at or after `start` with at least `k` partitions of at
    /// least `threshold` free.
    pub fn first_gpu(&self, start: u32, k: usize, threshold: Mib) -> Option<u32> {
        debug_assert_eq!(self.order, IndexOrder::Gpu);
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
        debug_assert_eq!(self.order, IndexOrder::Gpu);
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
        debug_assert_eq!(self.order, IndexOrder::Free);
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
        debug_assert_eq!(self.order, IndexOrder::Free);
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
        debug_assert_eq!(self.order, IndexOrder::Free);
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

    /// For each state of online GPUs with `k` partitions of at least
    /// `size` free, the lowest-index GPU in it that `excluded` does not
    /// hold for (a state whose every GPU it holds for is skipped), in no
    /// particular order; `false`, visiting none, if the fleet has more than
    /// [`MAX_STATES`] states (the caller scans).
    pub fn for_each_state(
        &self,
        size: Mib,
        k: usize,
        excluded: impl Fn(u32) -> bool,
        mut visit: impl FnMut(u32),
    ) -> bool {
        debug_assert_eq!(self.order, IndexOrder::State);
        let groups = &self.states;
        if groups.live() > MAX_STATES {
            return false;
        }
        for (id, &((frees, _), gpus)) in groups.states.iter().enumerate() {
            // The k-th largest free partition (none past the most a GPU has).
            let fits = frees.get(k - 1).is_some_and(|&free| free >= size.0);
            if gpus == 0 || !fits {
                continue;
            }
            let mut key = (id as u64, 0, 0);
            while let Some(node) = groups.members.lower_bound(key) {
                let (group, gpu, _) = groups.members.key(node);
                if group != id as u64 {
                    break;
                }
                if !excluded(gpu) {
                    visit(gpu);
                    break;
                }
                key = (group, gpu + 1, 0);
            }
        }
        true
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
        debug_assert_eq!(self.order, IndexOrder::Free);
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

/// A GPU's partitions' free memory, largest first and zero-padded, and
/// their sum.
fn state_of(gpu: &GpuState) -> (Frees, u64) {
    let mut sorted = [0u64; MAX_PARTITIONS];
    let mut total = 0;
    for (slot, partition) in sorted.iter_mut().zip(gpu.partitions()) {
        *slot = partition.free().0;
        total += *slot;
    }
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    (sorted, total)
}

/// Online GPUs grouped by state. A group's id stands for one state while
/// it has GPUs; an emptied group's id is reused for the next new state, so
/// a fleet keeps as many groups as it has states at once.
#[derive(Debug, Clone, Default)]
struct StateGroups {
    /// The group of each state some online GPU is in.
    ids: HashMap<StateKey, u32>,
    /// Each group's state and its number of GPUs (zero: free for reuse).
    states: Vec<(StateKey, u32)>,
    /// Ids of the emptied groups.
    free_ids: Vec<u32>,
    /// Each GPU's group; [`NIL`] while offline.
    group_of: Vec<u32>,
    /// Online GPUs ordered by (group, GPU); a GPU's node id is its index.
    members: Treap,
}

impl StateGroups {
    fn push_gpu(&mut self) {
        self.members.push_node();
        self.group_of.push(NIL);
    }

    /// Groups with GPUs.
    fn live(&self) -> usize {
        self.states.len() - self.free_ids.len()
    }

    /// Moves GPU `gpu` to the group of `state` (`None`: offline, in none).
    fn set(&mut self, gpu: u32, state: Option<StateKey>) {
        let old = self.group_of[gpu as usize];
        if old != NIL {
            if Some(self.states[old as usize].0) == state {
                return;
            }
            self.members.remove(gpu);
            let (old_state, gpus) = &mut self.states[old as usize];
            *gpus -= 1;
            if *gpus == 0 {
                self.ids.remove(old_state);
                self.free_ids.push(old);
            }
        }
        let group = match state {
            Some(state) => self.join(state),
            None => NIL,
        };
        self.group_of[gpu as usize] = group;
        if group != NIL {
            self.members.insert(gpu, (u64::from(group), gpu, 0));
        }
    }

    /// The group of `state`, opened if no GPU is in it, counting one more
    /// GPU.
    fn join(&mut self, state: StateKey) -> u32 {
        let group = match self.ids.get(&state) {
            Some(&group) => group,
            None => {
                let group = match self.free_ids.pop() {
                    Some(id) => {
                        self.states[id as usize] = (state, 0);
                        id
                    }
                    None => {
                        self.states.push((state, 0));
                        (self.states.len() - 1) as u32
                    }
                };
                self.ids.insert(state, group);
                group
            }
        };
        self.states[group as usize].1 += 1;
        group
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
            // A node that comes out as it was leaves every ancestor as it
            // was: stop (on a full fleet most changes stop low).
            if !self.pull(node) {
                break;
            }
        }
    }

    /// Recomputes `node` from its children; whether it changed.
    fn pull(&mut self, node: usize) -> bool {
        let values = max_of(&self.nodes[2 * node], &self.nodes[2 * node + 1]);
        let total = self.totals[2 * node].max(self.totals[2 * node + 1]);
        let changed = values != self.nodes[node] || total != self.totals[node];
        self.nodes[node] = values;
        self.totals[node] = total;
        changed
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
        if hi <= start || lo >= self.len || self.nodes[node][k] < threshold {
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

/// A treap over ids (partitions, or GPUs) in one fixed array (no
/// allocation per operation), ordered by key; priorities are a hash of the
/// id, so the
/// shape is deterministic.
///
/// A node's key, children and priority share one 32-byte slot, so each
/// level of a walk touches one cache line: on a fleet of 100,000 GPUs the
/// treap holds 800,000 partitions and its walks are mostly cache misses.
#[derive(Debug, Clone)]
struct Treap {
    nodes: Vec<TreapNode>,
    root: u32,
}

/// One entry of the treap.
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
struct TreapNode {
    /// The key packed so that integer order is key order ([`pack`]).
    key: u128,
    /// Left (smaller keys) and right child.
    children: [u32; 2],
    priority: u32,
    present: bool,
}

impl Default for Treap {
    fn default() -> Self {
        Treap {
            nodes: Vec::new(),
            root: NIL,
        }
    }
}

/// `(free, gpu, partition)` as one integer with the same order.
#[inline]
fn pack((free, gpu, partition): Key) -> u128 {
    (u128::from(free) << 64) | (u128::from(gpu) << 32) | u128::from(partition)
}

/// The inverse of [`pack`].
#[inline]
fn unpack(key: u128) -> Key {
    ((key >> 64) as u64, (key >> 32) as u32, key as u32)
}

/// Where a subtree hangs: the root, or a child of a node. Walks are
/// loops that carry one of these instead of recursing.
#[derive(Clone, Copy)]
enum Link {
    Root,
    Child(u32, usize),
}

/// The child a walk towards `key` takes from a node keyed `at`: right
/// (1) if `at` is below `key`, left (0) otherwise.
#[inline]
fn towards(at: u128, key: u128) -> usize {
    usize::from(at < key)
}

impl Treap {
    fn len(&self) -> usize {
        self.nodes.len()
    }

    fn push_node(&mut self) {
        let id = self.nodes.len() as u64;
        self.nodes.push(TreapNode {
            key: 0,
            children: [NIL; 2],
            // The high half of a well-mixed hash.
            priority: (splitmix64(id) >> 32) as u32,
            present: false,
        });
    }

    fn contains(&self, id: u32) -> bool {
        self.nodes[id as usize].present
    }

    fn key(&self, id: u32) -> Key {
        unpack(self.nodes[id as usize].key)
    }

    /// Points `link` at `node`.
    #[inline]
    fn attach(&mut self, link: Link, node: u32) {
        match link {
            Link::Root => self.root = node,
            Link::Child(parent, side) => self.nodes[parent as usize].children[side] = node,
        }
    }

    /// Inserts node `id` (not present) with `key`: down by key while the
    /// nodes passed outrank it, then the subtree there is split around it.
    fn insert(&mut self, id: u32, key: Key) {
        let key = pack(key);
        let priority = {
            let new = &mut self.nodes[id as usize];
            new.key = key;
            new.present = true;
            new.priority
        };
        let (mut link, mut node) = (Link::Root, self.root);
        while node != NIL {
            let at = &self.nodes[node as usize];
            if at.priority < priority {
                break;
            }
            let side = towards(at.key, key);
            link = Link::Child(node, side);
            node = at.children[side];
        }
        self.nodes[id as usize].children = self.split(node, key);
        self.attach(link, id);
    }

    /// Removes node `id` (present): found by its key, replaced by the
    /// merge of its children.
    fn remove(&mut self, id: u32) {
        let key = self.nodes[id as usize].key;
        let (mut link, mut node) = (Link::Root, self.root);
        while node != id {
            let at = &self.nodes[node as usize];
            let side = towards(at.key, key);
            link = Link::Child(node, side);
            node = at.children[side];
        }
        let [left, right] = self.nodes[id as usize].children;
        self.merge_into(link, left, right);
        self.nodes[id as usize].present = false;
    }

    /// Splits the subtree at `node` into keys below `key` and keys at or
    /// above it; returns both roots.
    fn split(&mut self, mut node: u32, key: u128) -> [u32; 2] {
        let mut roots = [NIL; 2];
        // The last node taken into each part, whose inner child the next
        // one of that part hangs from.
        let mut tails = [NIL; 2];
        while node != NIL {
            let at = self.nodes[node as usize];
            // Part 0 (below `key`) grows along its right side, part 1
            // along its left.
            let part = usize::from(at.key >= key);
            let tail = tails[part];
            if tail == NIL {
                roots[part] = node;
            } else {
                self.nodes[tail as usize].children[1 - part] = node;
            }
            tails[part] = node;
            node = at.children[1 - part];
        }
        for (part, tail) in tails.into_iter().enumerate() {
            if tail != NIL {
                self.nodes[tail as usize].children[1 - part] = NIL;
            }
        }
        roots
    }

    /// Joins two subtrees, every key of `a` below every key of `b`, and
    /// hangs the result from `link`.
    fn merge_into(&mut self, mut link: Link, mut a: u32, mut b: u32) {
        loop {
            if a == NIL || b == NIL {
                self.attach(link, if a == NIL { b } else { a });
                return;
            }
            if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
                self.attach(link, a);
                link = Link::Child(a, 1);
                a = self.nodes[a as usize].children[1];
            } else {
                self.attach(link, b);
                link = Link::Child(b, 0);
                b = self.nodes[b as usize].children[0];
            }
        }
    }

    /// The node with the smallest key at or above `key`.
    fn lower_bound(&self, key: Key) -> Option<u32> {
        let key = pack(key);
        let (mut node, mut best) = (self.root, NIL);
        while node != NIL {
            let at = &self.nodes[node as usize];
            let side = towards(at.key, key);
            if side == 0 {
                best = node;
            }
            node = at.children[side];
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
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Walks the subtree at `node` in order into `out`, checking that every
    /// node linked is present and no child outranks its parent.
    fn in_order(t: &Treap, node: u32, out: &mut Vec<Key>) {
        if node == NIL {
            return;
        }
        let at = t.nodes[node as usize];
        assert!(at.present, "node {node} is linked but not present");
        for child in at.children {
            if child != NIL {
                assert!(t.nodes[child as usize].priority <= at.priority);
            }
        }
        in_order(t, at.children[0], out);
        out.push(unpack(at.key));
        in_order(t, at.children[1], out);
    }

    proptest! {
        /// Random inserts, removes and re-keyings of a few dozen nodes
        /// whose keys collide on the free value (as a fleet's partitions
        /// do): after each, an in-order walk is exactly the expected set,
        /// the heap order holds, and `lower_bound` answers as the set does
        /// for keys in and around it.
        #[test]
        fn the_treap_is_an_ordered_set_through_any_operations(
            operations in prop::collection::vec((0u32..40, 0u64..6, any::<bool>()), 1..300),
        ) {
            let mut treap = Treap::default();
            for _ in 0..40 {
                treap.push_node();
            }
            let mut expected: BTreeSet<Key> = BTreeSet::new();
            for (id, free, keep) in operations {
                if treap.contains(id) {
                    prop_assert!(expected.remove(&treap.key(id)));
                    treap.remove(id);
                }
                if keep {
                    // One GPU per 4 ids, partitions in id order, as the
                    // fleet index numbers them.
                    let key = (free, id / 4, id % 4);
                    treap.insert(id, key);
                    expected.insert(key);
                }
                let mut walked = Vec::new();
                in_order(&treap, treap.root, &mut walked);
                prop_assert_eq!(&walked, &expected.iter().copied().collect::<Vec<_>>());
                for free in 0..7 {
                    for probe in [(free, 0, 0), (free, 5, 2), (free, 9, 4)] {
                        let found = treap.lower_bound(probe).map(|id| treap.key(id));
                        prop_assert_eq!(found, expected.range(probe..).next().copied());
                    }
                }
            }
        }

        /// Random leaf updates, raising and lowering values (so some stop
        /// propagating early): the tree answers both its queries as a plain
        /// scan of the leaves does.
        #[test]
        fn the_tree_answers_as_a_scan_through_any_updates(
            updates in prop::collection::vec((0usize..13, prop::collection::vec(0u64..4, 3)), 1..200),
        ) {
            let mut tree = KthTree::default();
            let mut leaves = vec![([0u64; MAX_PARTITIONS], 0u64); 13];
            tree.push_leaf();
            for (step, (leaf, free)) in updates.into_iter().enumerate() {
                // Leaves are added as updates go (the tree regrows at 2,
                // 3, 5 and 9 leaves, after values were set).
                if step > 0 && step < 13 {
                    tree.push_leaf();
                }
                let leaf = leaf % tree.len;
                let mut values = [0u64; MAX_PARTITIONS];
                values[..3].copy_from_slice(&free);
                values.sort_unstable_by(|a, b| b.cmp(a));
                let total = free.iter().sum();
                tree.set(leaf, values, total);
                leaves[leaf] = (values, total);
                let len = tree.len;
                for k in 0..3 {
                    for threshold in 0..5 {
                        let fits = |l: &usize| leaves[*l].0[k] >= threshold;
                        for start in [0, 6] {
                            prop_assert_eq!(
                                tree.first_from(start, k, threshold),
                                (start..len).find(fits)
                            );
                        }
                        let most = (0..len)
                            .filter(fits)
                            .max_by_key(|&l| (leaves[l].1, std::cmp::Reverse(l)));
                        prop_assert_eq!(tree.most_total_with(k, threshold, &|_| false), most);
                    }
                }
            }
        }
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
