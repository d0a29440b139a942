//! Removing random items one at a time, as `Vec::remove` at a uniformly
//! drawn index would, in O(log n) each instead of O(n): the study's
//! tune-down of a pod list that asks for more than its target.
//!
//! A Fenwick tree counts the items still kept; the `k`-th kept item is
//! found by descending it. The draws are the same as with `Vec::remove`
//! (each `random_range(0..kept)`), so the result is the same item for item.

use rand::Rng;

/// Which of `n` items are still kept, with the `k`-th found in O(log n).
struct Kept {
    /// Fenwick tree (1-based) of kept counts.
    tree: Vec<u32>,
    kept: Vec<bool>,
    count: usize,
}

impl Kept {
    fn all(n: usize) -> Kept {
        let mut tree = vec![0u32; n + 1];
        for i in 1..=n {
            tree[i] += 1;
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                tree[parent] += tree[i];
            }
        }
        Kept {
            tree,
            kept: vec![true; n],
            count: n,
        }
    }

    /// The index of the `k`-th kept item (0-based; `k < count`).
    fn nth(&self, k: usize) -> usize {
        let n = self.tree.len() - 1;
        let mut position = 0;
        let mut remaining = k as u32;
        let mut step = n.checked_next_power_of_two().unwrap_or(0);
        while step > 0 {
            let next = position + step;
            if next <= n && self.tree[next] <= remaining {
                position = next;
                remaining -= self.tree[next];
            }
            step /= 2;
        }
        position
    }

    fn remove(&mut self, index: usize) {
        self.kept[index] = false;
        self.count -= 1;
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
    }
}

/// Removes items of `items` one at a time, each the
/// `rng.random_range(0..items left)`-th of those left, telling `removed`
/// each; goes on while it returns true and items are left. The items kept
/// stay in their order.
pub fn thin<T>(items: &mut Vec<T>, rng: &mut impl Rng, mut removed: impl FnMut(&T) -> bool) {
    let mut kept = Kept::all(items.len());
    while kept.count > 0 {
        let index = kept.nth(rng.random_range(0..kept.count));
        kept.remove(index);
        if !removed(&items[index]) {
            break;
        }
    }
    let mut flags = kept.kept.into_iter();
    items.retain(|_| flags.next().unwrap_or(false));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    proptest! {
        /// The same items removed, in the same order, as `Vec::remove`.
        #[test]
        fn thinning_equals_removing_one_at_a_time(
            n in 0usize..300,
            removals in 0usize..320,
            seed in any::<u64>(),
        ) {
            let items: Vec<u32> = (0..n as u32).collect();
            let mut slow = items.clone();
            let mut slow_removed = Vec::new();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            while slow_removed.len() < removals && !slow.is_empty() {
                slow_removed.push(slow.remove(rng.random_range(0..slow.len())));
            }
            let mut fast = items;
            let mut fast_removed = Vec::new();
            if removals > 0 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                thin(&mut fast, &mut rng, |&x| {
                    fast_removed.push(x);
                    fast_removed.len() < removals
                });
            }
            prop_assert_eq!(fast_removed, slow_removed);
            prop_assert_eq!(fast, slow);
        }
    }
}
