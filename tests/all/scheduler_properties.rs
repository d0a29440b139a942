//! Property tests over random schedule/unschedule sequences: no partition is
//! ever over-committed, memory charged equals memory freed, every request is
//! placed or rejected with a reason that is true, and every placement is the
//! one a plain, independent reading of the policy's rule would make.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, Layout, LayoutSpec};
use aimsim::schedule::{
    Demand, PartitionRef, Placement, PlacementRequest, Policy, RejectCode, Scheduler,
};
use aimsim::units::Mib;
use aimsim::workload::{ClassId, DemandMix};

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
    let preferred = prop::option::weighted(
        0.2,
        (0u32..5, 0u32..9).prop_map(|(gpu, partition)| PartitionRef { gpu, partition }),
    );
    (size, gpu_count, preferred).prop_map(|(size, gpu_count, preferred)| PlacementRequest {
        demand: Demand { size, gpu_count },
        preferred,
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

/// The demand mix `frag-aware` scores with in these tests.
fn test_mix() -> DemandMix {
    let sizes = [(1u64, 5u64), (9, 20), (20, 40), (33, 10), (90, 4), (165, 1)];
    DemandMix::new(sizes.iter().map(|&(gib, w)| {
        (
            Demand {
                size: Mib::gib(gib),
                gpu_count: 1,
            },
            ClassId(0),
            w,
        )
    }))
}

/// `free x (weight of mix sizes > free)`, counted plainly.
fn stranded(free: Mib, mix: &DemandMix) -> i128 {
    let above: u64 = mix
        .entries()
        .iter()
        .filter(|(d, _, _)| d.size > free)
        .map(|e| e.2)
        .sum();
    i128::from(free.0) * i128::from(above)
}

/// The policy's rule, read plainly: filter every partition, then pick.
/// Returns `None` when no partition qualifies on a GPU not in `taken`.
fn oracle_pick(
    policy: Policy,
    free: &[Vec<Mib>],
    size: Mib,
    taken: &[u32],
) -> Option<PartitionRef> {
    let min_free = Mib::gib(8);
    let mut candidates: Vec<(u32, u32, Mib)> = Vec::new();
    for (g, parts) in free.iter().enumerate() {
        if taken.contains(&(g as u32)) {
            continue;
        }
        for (p, &f) in parts.iter().enumerate() {
            let qualifies = match policy {
                Policy::Aim => f >= size && f >= min_free,
                Policy::FirstFit | Policy::BestFit | Policy::FragAware => f >= size,
            };
            if qualifies {
                candidates.push((g as u32, p as u32, f));
            }
        }
    }
    let chosen = match policy {
        Policy::FirstFit => candidates.first().copied(),
        Policy::BestFit => candidates
            .iter()
            .copied()
            .min_by_key(|&(g, p, f)| (f - size, g, p)),
        Policy::FragAware => {
            let mix = test_mix();
            // Least growth of expected stranded memory, then least left over.
            candidates.iter().copied().min_by_key(|&(g, p, f)| {
                (stranded(f - size, &mix) - stranded(f, &mix), f - size, g, p)
            })
        }
        Policy::Aim => {
            let first_gpu = candidates.first()?.0;
            candidates
                .iter()
                .copied()
                .filter(|&(g, _, _)| g == first_gpu)
                .min_by_key(|&(_, p, f)| (std::cmp::Reverse(f), p))
        }
    };
    chosen.map(|(gpu, partition, _)| PartitionRef { gpu, partition })
}

/// Where the oracle would put `request`, or `None` if it has no capacity now.
fn oracle_placement(
    policy: Policy,
    free: &[Vec<Mib>],
    request: &PlacementRequest,
) -> Option<Vec<PartitionRef>> {
    let size = request.demand.size;
    let mut shards = Vec::new();
    if let Some(at) = request.preferred {
        if free[at.gpu as usize][at.partition as usize] >= size {
            shards.push(at);
        }
    }
    while shards.len() < request.demand.gpu_count as usize {
        let taken: Vec<u32> = shards.iter().map(|s| s.gpu).collect();
        shards.push(oracle_pick(policy, free, size, &taken)?);
    }
    Some(shards)
}

fn run_sequence(
    policy: Policy,
    layout: &Layout,
    gpus: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut s = Scheduler::uniform(policy, layout, gpus);
    s.set_demand_mix(test_mix());
    let largest = layout.largest_partition();
    let mut live: Vec<Placement> = Vec::new();
    let mut charged = Mib::ZERO;
    let mut refunded = Mib::ZERO;
    for op in ops {
        match op {
            Op::Schedule(request) => {
                let before = free_map(&s);
                let exists = request.preferred.is_none_or(|at| {
                    (at.gpu as usize) < gpus && (at.partition as usize) < layout.partitions().len()
                });
                match s.schedule(request) {
                    Ok(placement) => {
                        prop_assert!(exists, "placed with a missing preferred partition");
                        let expected = oracle_placement(policy, &before, request);
                        let got: Vec<PartitionRef> =
                            placement.shards().iter().map(|s| s.at).collect();
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
                        let never = request.demand.size > largest
                            || request.demand.gpu_count as usize > gpus;
                        let expected_code = if !exists {
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
        s.check_invariants().map_err(TestCaseError::fail)?;
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
