//! Property tests over random schedule/unschedule sequences: no partition is
//! ever over-committed, memory charged equals memory freed, every request is
//! placed or rejected with a reason that is true, and every placement is the
//! one a plain, independent reading of the policy's rule would make.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, HostDemand, Layout, LayoutSpec};
use aimsim::schedule::{
    Demand, DemandMix, PartitionRef, Placement, PlacementRequest, Policy, RejectCode, RejectReason,
    Scheduler,
};
use aimsim::units::Mib;

#[derive(Debug, Clone)]
enum Op {
    Schedule(PlacementRequest),
    /// Frees the live replica at this index (modulo the live count).
    Unschedule(usize),
}

fn layout_strategy() -> impl Strategy<Value = Layout> {
    let modes = prop::sample::select(vec![
        "SPX",
        "DPX/NPS2",
        "QPX/NPS4",
        "CPX/NPS4",
        "40,40,40,40",
        "100,60,20,8",
    ]);
    let named = modes.prop_map(|text| {
        text.parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi300x)
            .unwrap()
    });
    let custom = prop::collection::vec(8u64..=60, 1..=6).prop_filter_map("fits the GPU", |gib| {
        LayoutSpec::Custom(gib.into_iter().map(Mib::gib).collect())
            .build(GpuKind::Mi300x)
            .ok()
    });
    prop_oneof![named, custom]
}

fn request_strategy() -> impl Strategy<Value = PlacementRequest> {
    let catalog_sizes =
        prop::sample::select(vec![1u64, 3, 5, 9, 13, 20, 25, 33, 60, 90, 105, 128, 165])
            .prop_map(Mib::gib);
    let any_size = (1u64..=200 * 1024).prop_map(Mib);
    let size = prop_oneof![3 => catalog_sizes, 1 => any_size];
    let gpu_count = prop_oneof![6 => Just(1u32), 1 => 2u32..=3];
    let partitions = prop_oneof![6 => Just(1u32), 1 => 2u32..=5];
    let preferred = prop::option::weighted(
        0.2,
        (0u32..5, 0u32..9).prop_map(|(gpu, partition)| PartitionRef { gpu, partition }),
    );
    (size, gpu_count, partitions, preferred).prop_map(|(size, gpu_count, partitions, preferred)| {
        PlacementRequest {
            demand: Demand {
                size,
                gpu_count,
                partitions,
                host: HostDemand::NONE,
            },
            preferred,
        }
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => request_strategy().prop_map(Op::Schedule),
        2 => any::<usize>().prop_map(Op::Unschedule),
    ]
}

/// Free memory of every partition, by GPU then partition.
fn free_map(s: &Scheduler) -> Vec<Vec<Mib>> {
    s.gpus()
        .iter()
        .map(|g| g.partitions().iter().map(|p| p.free()).collect())
        .collect()
}

/// The demand mix `frag-aware` scores with in these tests:
/// `(size GiB, partitions of one GPU, weight)`.
const TEST_MIX: [(u64, u32, u64); 7] = [
    (1, 1, 5),
    (9, 1, 20),
    (20, 1, 40),
    (33, 1, 10),
    (90, 1, 4),
    (165, 1, 1),
    (24, 4, 3),
];

fn test_mix() -> DemandMix {
    DemandMix::new(TEST_MIX.iter().map(|&(gib, partitions, w)| {
        (
            Demand {
                size: Mib::gib(gib),
                gpu_count: 1,
                partitions,
                host: HostDemand::NONE,
            },
            w,
        )
    }))
}

/// Memory of one GPU that requests of `TEST_MIX` cannot use, counted plainly:
/// a one-partition request cannot use partitions smaller than it; a request
/// for k partitions cannot use small partitions, nor any of a GPU with fewer
/// than k large enough.
fn stranded(frees: &[Mib]) -> i128 {
    TEST_MIX
        .iter()
        .map(|&(gib, k, weight)| {
            let size = Mib::gib(gib);
            let large = frees.iter().filter(|&&f| f >= size).count();
            let unusable: u64 = if k > 1 && large < k as usize {
                frees.iter().map(|f| f.0).sum()
            } else {
                frees.iter().filter(|&&f| f < size).map(|f| f.0).sum()
            };
            i128::from(unusable) * i128::from(weight)
        })
        .sum()
}

/// What the policy picks on one GPU: partition indexes, and a key ranking
/// the pick against other GPUs' (lower is better; only for whole-fleet
/// policies). `None` if fewer than `k` partitions pass the filter.
fn oracle_gpu(
    policy: Policy,
    frees: &[Mib],
    size: Mib,
    k: usize,
) -> Option<(Vec<u32>, (i128, u64))> {
    let passes = |f: Mib| match policy {
        Policy::Aim => f >= size && f >= Mib::gib(8),
        Policy::FirstFit | Policy::BestFit | Policy::FragAware | Policy::Spread => f >= size,
    };
    let mut candidates: Vec<u32> = (0..frees.len() as u32)
        .filter(|&p| passes(frees[p as usize]))
        .collect();
    if candidates.len() < k {
        return None;
    }
    let left = |p: u32| (frees[p as usize] - size).0;
    match policy {
        Policy::FirstFit => Some((candidates[..k].to_vec(), (0, 0))),
        Policy::Aim => {
            candidates.sort_by_key(|&p| (std::cmp::Reverse(frees[p as usize]), p));
            Some((candidates[..k].to_vec(), (0, 0)))
        }
        Policy::Spread => {
            // The GPU with the most free memory in all, then its most-free
            // partitions.
            candidates.sort_by_key(|&p| (std::cmp::Reverse(frees[p as usize]), p));
            let gpu_free: u64 = frees.iter().map(|f| f.0).sum();
            Some((candidates[..k].to_vec(), (-i128::from(gpu_free), 0)))
        }
        Policy::BestFit => {
            candidates.sort_by_key(|&p| (left(p), p));
            let picked = candidates[..k].to_vec();
            let total = picked.iter().map(|&p| left(p)).sum();
            Some((picked, (0, total)))
        }
        Policy::FragAware => {
            // One at a time: least growth of stranded memory, least left over, lowest index.
            let mut state = frees.to_vec();
            let before = stranded(&state);
            let mut picked = Vec::new();
            let mut total_left = 0;
            for _ in 0..k {
                let best = candidates
                    .iter()
                    .copied()
                    .filter(|p| !picked.contains(p))
                    .min_by_key(|&p| {
                        let mut after = state.clone();
                        after[p as usize] -= size;
                        (stranded(&after), (state[p as usize] - size).0, p)
                    })?;
                total_left += (state[best as usize] - size).0;
                state[best as usize] -= size;
                picked.push(best);
            }
            Some((picked, (stranded(&state) - before, total_left)))
        }
    }
}

/// The policy's choice over the fleet, skipping GPUs in `taken`.
fn oracle_pick(
    policy: Policy,
    free: &[Vec<Mib>],
    size: Mib,
    k: usize,
    taken: &[u32],
) -> Option<(u32, Vec<u32>)> {
    let mut best: Option<(u32, Vec<u32>, (i128, u64))> = None;
    for (g, frees) in free.iter().enumerate() {
        let g = g as u32;
        if taken.contains(&g) {
            continue;
        }
        let Some((picked, key)) = oracle_gpu(policy, frees, size, k) else {
            continue;
        };
        if matches!(policy, Policy::Aim | Policy::FirstFit) {
            return Some((g, picked));
        }
        if best.as_ref().is_none_or(|b| key < b.2) {
            best = Some((g, picked, key));
        }
    }
    best.map(|(g, picked, _)| (g, picked))
}

/// Where the oracle would put `request`, or `None` if it has no capacity now.
fn oracle_placement(
    policy: Policy,
    free: &[Vec<Mib>],
    request: &PlacementRequest,
) -> Option<Vec<PartitionRef>> {
    let d = request.demand;
    let mut shards = Vec::new();
    let mut gpus = Vec::new();
    if let Some(at) = request.preferred {
        if free[at.gpu as usize][at.partition as usize] >= d.size {
            shards.push(at);
            gpus.push(at.gpu);
        }
    }
    while gpus.len() < d.gpu_count as usize {
        let (gpu, picked) = oracle_pick(policy, free, d.size, d.partitions as usize, &gpus)?;
        shards.extend(
            picked
                .into_iter()
                .map(|partition| PartitionRef { gpu, partition }),
        );
        gpus.push(gpu);
    }
    Some(shards)
}

/// Why a valid request for one GPU on a uniform fleet is refused: the
/// first of the scheduler's checks it fails (a partition too large, too
/// many partitions, no GPU that could hold it even empty), or no room now.
/// However often the same request was refused before.
fn one_gpu_reason(s: &Scheduler, layout: &Layout, d: Demand) -> RejectReason {
    let largest = layout.largest_partition();
    let most = layout.partitions().len() as u32;
    let large = layout.partitions().iter().filter(|&&c| c >= d.size).count() as u32;
    if d.size > largest {
        RejectReason::LargerThanAnyPartition {
            size: d.size,
            largest,
        }
    } else if d.partitions > most {
        RejectReason::NotEnoughPartitions {
            needed: d.partitions,
            most,
        }
    } else if large < d.partitions {
        RejectReason::NotEnoughCapableGpus {
            needed: 1,
            capable: 0,
        }
    } else {
        RejectReason::NoCandidate {
            size: d.size,
            partitions: d.partitions,
            needed: 1,
            found: 0,
            min_free: s.strands_below(d.size),
        }
    }
}

fn run_sequence(
    policy: Policy,
    layout: &Layout,
    gpus: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut s = Scheduler::uniform(policy.configure(&test_mix()), layout, gpus);
    let mut live: Vec<Placement> = Vec::new();
    let mut charged = Mib::ZERO;
    let mut refunded = Mib::ZERO;
    for op in ops {
        match op {
            Op::Schedule(request) => {
                let before = free_map(&s);
                let d = request.demand;
                let exists = request.preferred.is_none_or(|at| {
                    (at.gpu as usize) < gpus && (at.partition as usize) < layout.partitions().len()
                });
                let invalid =
                    d.shards() > 8 || (request.preferred.is_some() && d.partitions > 1) || !exists;
                match s.schedule(request) {
                    Ok(placement) => {
                        prop_assert!(!invalid, "placed an invalid request");
                        let expected = oracle_placement(policy, &before, request);
                        let got: Vec<PartitionRef> = placement.shards().map(|s| s.at).collect();
                        prop_assert_eq!(
                            Some(got),
                            expected,
                            "placement differs from the policy's rule"
                        );
                        for shard in placement.shards() {
                            prop_assert_eq!(shard.size, request.demand.size);
                            charged += shard.size;
                        }
                        live.push(placement);
                    }
                    Err(rejection) => {
                        prop_assert_eq!(&free_map(&s), &before, "a rejection changed the fleet");
                        // Every GPU has this layout: it can host the demand
                        // when empty if enough of its partitions are large enough.
                        let large = layout.partitions().iter().filter(|&&c| c >= d.size).count();
                        let never = large < d.partitions as usize || d.gpu_count as usize > gpus;
                        let expected_code = if invalid {
                            RejectCode::Invalid
                        } else if never {
                            RejectCode::NeverFits
                        } else {
                            RejectCode::NoCapacityNow
                        };
                        prop_assert_eq!(rejection.code, expected_code, "{}", rejection);
                        prop_assert!(!rejection.to_string().is_empty());
                        if expected_code == RejectCode::NoCapacityNow {
                            prop_assert_eq!(
                                oracle_placement(policy, &before, request),
                                None,
                                "rejected although it fits"
                            );
                        }
                        if !invalid && d.gpu_count == 1 {
                            prop_assert_eq!(
                                rejection.reason,
                                one_gpu_reason(&s, layout, d),
                                "the reason differs from the checks' order"
                            );
                        }
                    }
                }
            }
            Op::Unschedule(index) => {
                if live.is_empty() {
                    continue;
                }
                let placement = live.swap_remove(index % live.len());
                let freed = s
                    .unschedule(placement.replica)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(freed, placement);
                for shard in freed.shards() {
                    refunded += shard.size;
                }
                prop_assert!(s.unschedule(placement.replica).is_err(), "freed twice");
            }
        }
        s.check_invariants()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let used: Mib = s.gpus().iter().map(|g| g.used()).sum();
        prop_assert_eq!(
            used,
            charged - refunded,
            "charged - refunded != memory in use"
        );
        prop_assert_eq!(s.live_replicas(), live.len());
    }
    for placement in live.drain(..) {
        s.unschedule(placement.replica)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    prop_assert!(
        s.gpus()
            .iter()
            .all(|g| g.used() == Mib::ZERO && !g.is_busy()),
        "memory left after freeing all"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_books_exact(
        policy in prop::sample::select(Policy::ALL.to_vec()),
        layout in layout_strategy(),
        gpus in 1usize..=5,
        ops in prop::collection::vec(op_strategy(), 1..200),
    ) {
        run_sequence(policy, &layout, gpus, &ops)?;
    }
}
