//! Where a demand goes: the policy's pick on one GPU, and the search over
//! the fleet (first GPU with a candidate, or the best anywhere).

use crate::hardware::MAX_PARTITIONS;
use crate::partition::GpuState;
use crate::units::Mib;
use crate::workload::DemandMix;

use super::policy::{Policy, Scope};

/// The partitions a policy picks on one GPU, and how it ranks that pick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GpuPick {
    /// Higher wins; ties go to the lower GPU index.
    pub score: i128,
    /// Partition indexes, in the order picked.
    pub partitions: [u32; MAX_PARTITIONS],
    /// How many of `partitions` are used.
    pub len: usize,
}

/// Scale that puts the `frag-aware` stranded-memory change above its
/// left-over tie-breaker (left-over memory is below 2^32 MiB).
const PRIMARY: i128 = 1 << 32;

/// The policy's pick of `k` partitions of `size` on `gpu`, or `None` if
/// fewer than `k` partitions pass its filter.
pub(crate) fn pick_on_gpu(
    policy: Policy,
    mix: &DemandMix,
    gpu: &GpuState,
    size: Mib,
    k: usize,
) -> Option<GpuPick> {
    if policy == Policy::FragAware {
        return frag_aware_pick(mix, gpu, size, k);
    }
    let mut candidates = [(0i128, 0u32); MAX_PARTITIONS];
    let mut n = 0;
    for (index, partition) in gpu.partitions().iter().enumerate() {
        if policy.filter(partition, size) {
            candidates[n] = (policy.score(partition, size), index as u32);
            n += 1;
        }
    }
    if n < k {
        return None;
    }
    // Highest score first, lowest index among equals.
    candidates[..n].sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut pick = GpuPick {
        score: 0,
        partitions: [0; MAX_PARTITIONS],
        len: k,
    };
    for (slot, &(score, index)) in candidates[..k].iter().enumerate() {
        pick.score += score;
        pick.partitions[slot] = index;
    }
    Some(pick)
}

/// `frag-aware`: picks partitions one at a time, each the one whose use
/// grows the GPU's expected stranded memory least (then the least left
/// over, then the lowest index); the pick's score is the total change.
fn frag_aware_pick(mix: &DemandMix, gpu: &GpuState, size: Mib, k: usize) -> Option<GpuPick> {
    let parts = gpu.partitions();
    let n = parts.len();
    let mut frees = [Mib::ZERO; MAX_PARTITIONS];
    for (free, partition) in frees.iter_mut().zip(parts) {
        *free = partition.free();
    }
    let before = mix.expected_stranded(&frees[..n]) as i128;
    let mut current = before;
    let mut taken = [false; MAX_PARTITIONS];
    let mut pick = GpuPick {
        score: 0,
        partitions: [0; MAX_PARTITIONS],
        len: k,
    };
    let mut left_total: i128 = 0;
    for slot in 0..k {
        let mut best: Option<(i128, usize, i128)> = None;
        for i in 0..n {
            if taken[i] || frees[i] < size {
                continue;
            }
            // An earlier free partition with the same free memory scores the
            // same and wins the tie.
            if (0..i).any(|j| !taken[j] && frees[j] == frees[i]) {
                continue;
            }
            frees[i] -= size;
            let after = mix.expected_stranded(&frees[..n]) as i128;
            frees[i] += size;
            let left = i128::from((frees[i] - size).0);
            let key = (current - after) * PRIMARY - left;
            if best.is_none_or(|(top, _, _)| key > top) {
                best = Some((key, i, after));
            }
        }
        let (_, index, after) = best?;
        left_total += i128::from((frees[index] - size).0);
        frees[index] -= size;
        taken[index] = true;
        current = after;
        pick.partitions[slot] = index as u32;
    }
    pick.score = (before - current) * PRIMARY - left_total;
    Some(pick)
}

/// The policy's choice over the fleet: the first GPU (in index order) with
/// a pick, or the best-scoring pick anywhere (ties to the lower index),
/// skipping offline GPUs and those `excluded` holds for.
pub(crate) fn find(
    policy: Policy,
    mix: &DemandMix,
    gpus: &[GpuState],
    online: &[bool],
    size: Mib,
    k: usize,
    excluded: impl Fn(u32) -> bool,
) -> Option<(u32, GpuPick)> {
    let whole_fleet = policy.scope() == Scope::WholeFleet;
    let mut best: Option<(u32, GpuPick)> = None;
    let mut previous: Option<&GpuState> = None;
    for (index, gpu) in gpus.iter().enumerate() {
        let index = index as u32;
        if !online[index as usize] || excluded(index) {
            continue;
        }
        // A GPU in the same state as the one before scores the same and
        // loses the tie: skip it (many empty GPUs in a row cost one look).
        if whole_fleet && previous.is_some_and(|p| p == gpu) {
            continue;
        }
        previous = Some(gpu);
        let Some(pick) = pick_on_gpu(policy, mix, gpu, size, k) else {
            continue;
        };
        if !whole_fleet {
            return Some((index, pick));
        }
        if best.is_none_or(|(_, top)| pick.score > top.score) {
            best = Some((index, pick));
        }
    }
    best
}
