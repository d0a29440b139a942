//! Where a demand goes: the policy's choice over the fleet, from the fleet
//! index where the policy can answer from it, by a plain scan otherwise.

use crate::partition::GpuState;
use crate::units::Mib;

use super::index::FleetIndex;
use super::policies::{GpuPick, IndexAnswer, IndexedFleet, PlacementPolicy, Scope};

/// One search: `k` partitions of `size` on one GPU that `excluded` does not
/// hold for, skipping offline GPUs.
pub(crate) struct Search<'a, E: Fn(u32) -> bool> {
    /// Every GPU, by index.
    pub gpus: &'a [GpuState],
    /// Which GPUs are in service.
    pub online: &'a [bool],
    /// The fleet index, if the fleet keeps one.
    pub index: Option<&'a FleetIndex>,
    /// Memory per partition.
    pub size: Mib,
    /// Partitions on the one GPU.
    pub k: usize,
    /// GPUs already taken by the request.
    pub excluded: E,
}

/// The policy's choice for `search`: from the fleet index if there is one
/// and the policy answers from it, by the plain scan otherwise. (Taken by
/// value and taken apart: only the exclusion is lent to the index, so the
/// rest of the search stays in registers.)
#[inline]
pub(crate) fn find<P: PlacementPolicy, E: Fn(u32) -> bool>(
    policy: &P,
    search: Search<'_, E>,
) -> Option<(u32, GpuPick)> {
    let Search {
        gpus,
        online,
        index,
        size,
        k,
        excluded,
    } = search;
    if let Some(index) = index {
        let fleet = IndexedFleet { index, gpus };
        if let IndexAnswer::Decided(found) = policy.search_index(&fleet, size, k, &excluded) {
            return found;
        }
    }
    scan(
        policy,
        &Search {
            gpus,
            online,
            index,
            size,
            k,
            excluded,
        },
    )
}

/// The plain scan: the first GPU (in index order) with a pick, or the
/// best-scoring pick anywhere (ties to the lower index).
#[inline]
pub(crate) fn scan<P: PlacementPolicy, E: Fn(u32) -> bool>(
    policy: &P,
    search: &Search<'_, E>,
) -> Option<(u32, GpuPick)> {
    let whole_fleet = P::SCOPE == Scope::WholeFleet;
    let mut best: Option<(u32, GpuPick)> = None;
    let mut previous: Option<&GpuState> = None;
    for (index, gpu) in search.gpus.iter().enumerate() {
        let index = index as u32;
        // Every policy's filter asks for at least `size` free.
        if gpu.largest_free() < search.size
            || !search.online[index as usize]
            || (search.excluded)(index)
        {
            continue;
        }
        // An empty GPU laid out like the empty one before scores the same
        // and loses the tie: skip it (many empty GPUs in a row cost one
        // look).
        if whole_fleet && previous.is_some_and(|p| p.both_empty_alike(gpu)) {
            continue;
        }
        previous = Some(gpu);
        let Some(pick) = policy.pick_on_gpu(gpu, search.size, search.k) else {
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
