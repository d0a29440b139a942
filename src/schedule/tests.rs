//! Behaviour of the scheduler and its policies, with the expected choices
//! worked out by hand in comments.

use super::*;
use crate::hardware::{GpuKind, HostDemand, Layout, LayoutSpec, NodeShape};
use crate::profile::{Catalog, Precision};
use crate::units::Mib;

fn layout(text: &str) -> Layout {
    text.parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap()
}

fn fleet(policy: Policy, text: &str, gpus: usize) -> Scheduler {
    Scheduler::uniform(policy, &layout(text), gpus)
}

fn gib(n: u64) -> PlacementRequest {
    PlacementRequest::single(Mib::gib(n))
}

fn at(gpu: u32, partition: u32) -> PartitionRef {
    PartitionRef { gpu, partition }
}

fn place(s: &mut Scheduler, request: PlacementRequest) -> PartitionRef {
    s.schedule(&request).unwrap().first().at
}

#[test]
fn aim_seed_example_goes_to_partition_zero() {
    // MI300X [40,40,40,40], Llama-3.1-8B fp16 (20 GB): all four tie at 40
    // free, the lowest id wins.
    let catalog = Catalog::builtin();
    let llama = catalog.variant(
        catalog
            .find("meta-llama/Llama-3.1-8B-Instruct", Precision::Fp16)
            .unwrap(),
    );
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    let placement = s.schedule(&PlacementRequest::single(llama.memory)).unwrap();
    assert_eq!(
        placement.first(),
        Shard {
            at: at(0, 0),
            size: Mib::gib(20)
        }
    );
}

#[test]
fn aim_picks_the_partition_with_most_free_memory() {
    // After 20 on p0 and 30 on p1, free is [20, 10, 40, 40]: a 5 GiB replica
    // goes to p2 (40 free, lowest of the tie), the next to p3, the next to p2
    // (35 vs 35: lowest id).
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    s.schedule(&PlacementRequest {
        demand: Demand {
            size: Mib::gib(20),
            gpu_count: 1,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: Some(at(0, 0)),
    })
    .unwrap();
    s.schedule(&PlacementRequest {
        demand: Demand {
            size: Mib::gib(30),
            gpu_count: 1,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: Some(at(0, 1)),
    })
    .unwrap();
    assert_eq!(place(&mut s, gib(5)), at(0, 2));
    assert_eq!(place(&mut s, gib(5)), at(0, 3));
    assert_eq!(place(&mut s, gib(5)), at(0, 2));
}

#[test]
fn aim_never_offers_a_partition_with_less_than_min_partition_free() {
    // p0 has 6 GiB free after 34: a 4 GiB replica fits there but the runtime
    // only offers partitions with >= 8 GiB free, so with the other three full
    // it is rejected; first-fit takes p0.
    for (policy, expected) in [(Policy::Aim, None), (Policy::FirstFit, Some(at(0, 0)))] {
        let mut s = fleet(policy, "40,40,40,40", 1);
        for p in 0..4 {
            let size = if p == 0 { 34 } else { 40 };
            s.schedule(&PlacementRequest {
                demand: Demand {
                    size: Mib::gib(size),
                    gpu_count: 1,
                    partitions: 1,
                    host: HostDemand::NONE,
                },
                preferred: Some(at(0, p)),
            })
            .unwrap();
        }
        let got = s.schedule(&gib(4)).ok().map(|p| p.first().at);
        assert_eq!(got, expected, "{policy}");
    }
}

#[test]
fn first_fit_and_best_fit_choose_as_their_names_say() {
    // Free after setup: gpu0 [40-30=10, 40], gpu1 [40-25=15, 40] (2 x 40 layout on 2 GPUs).
    let setup = |policy| {
        let mut s = fleet(policy, "40,40", 2);
        for (g, size) in [(0, 30), (1, 25)] {
            s.schedule(&PlacementRequest {
                demand: Demand {
                    size: Mib::gib(size),
                    gpu_count: 1,
                    partitions: 1,
                    host: HostDemand::NONE,
                },
                preferred: Some(at(g, 0)),
            })
            .unwrap();
        }
        s
    };
    // 9 GiB: first-fit takes the first that fits (gpu0 p0, 10 free); best-fit
    // the least left over anywhere (gpu0 p0 leaves 1); aim the most free on
    // the first GPU with a candidate (gpu0 p1, 40 free).
    assert_eq!(place(&mut setup(Policy::FirstFit), gib(9)), at(0, 0));
    assert_eq!(place(&mut setup(Policy::BestFit), gib(9)), at(0, 0));
    assert_eq!(place(&mut setup(Policy::Aim), gib(9)), at(0, 1));
    // 12 GiB: only gpu1 p0 (15) and the empty 40s fit; best-fit crosses to
    // gpu1 p0 (3 left), first-fit stays on gpu0 p1.
    assert_eq!(place(&mut setup(Policy::BestFit), gib(12)), at(1, 0));
    assert_eq!(place(&mut setup(Policy::FirstFit), gib(12)), at(0, 1));
}

#[test]
fn aim_uses_the_first_gpu_in_index_order_that_has_a_candidate() {
    // gpu0 is full; gpu1 and gpu2 are empty: aim goes to gpu1 even though
    // every partition of gpu2 has as much free.
    let mut s = fleet(Policy::Aim, "SPX", 3);
    place(&mut s, gib(192));
    assert_eq!(place(&mut s, gib(10)), at(1, 0));
}

#[test]
fn preferred_partition_is_used_when_it_fits_and_skipped_when_not() {
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    let preferred = |size, p| PlacementRequest {
        demand: Demand {
            size: Mib::gib(size),
            gpu_count: 1,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: Some(at(0, p)),
    };
    assert_eq!(place(&mut s, preferred(30, 3)), at(0, 3));
    // 20 no longer fits p3 (10 free): the policy chooses p0.
    assert_eq!(place(&mut s, preferred(20, 3)), at(0, 0));
}

#[test]
fn a_missing_preferred_partition_is_an_invalid_request() {
    // Runtime defect 4: a missing preferred partition was silently ignored.
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    for missing in [at(0, 4), at(1, 0)] {
        let request = PlacementRequest {
            demand: Demand {
                size: Mib::gib(1),
                gpu_count: 1,
                partitions: 1,
                host: HostDemand::NONE,
            },
            preferred: Some(missing),
        };
        let rejection = s.schedule(&request).unwrap_err();
        assert_eq!(rejection.code, RejectCode::Invalid);
        assert_eq!(
            rejection.reason,
            RejectReason::NoSuchPartition { preferred: missing }
        );
    }
    assert_eq!(s.live_replicas(), 0);
}

#[test]
fn rejections_say_never_or_not_now() {
    let mut s = fleet(Policy::FirstFit, "CPX", 2);
    let never = s.schedule(&gib(25)).unwrap_err();
    assert_eq!(never.code, RejectCode::NeverFits);
    assert_eq!(
        never.to_string(),
        "never fits: needs 25 GiB, the largest partition is 24 GiB"
    );
    let too_wide = s
        .schedule(&PlacementRequest {
            demand: Demand {
                size: Mib::gib(1),
                gpu_count: 3,
                partitions: 1,
                host: HostDemand::NONE,
            },
            preferred: None,
        })
        .unwrap_err();
    assert_eq!(
        too_wide.reason,
        RejectReason::NotEnoughGpus {
            needed: 3,
            fleet: 2
        }
    );
    for _ in 0..16 {
        place(&mut s, gib(20));
    }
    let full = s.schedule(&gib(20)).unwrap_err();
    assert_eq!(full.code, RejectCode::NoCapacityNow);
    assert!(s
        .schedule(&gib(0))
        .is_err_and(|r| r.code == RejectCode::Invalid));
}

#[test]
fn a_multi_gpu_replica_is_all_or_nothing_on_distinct_gpus() {
    let mut s = fleet(Policy::FirstFit, "SPX", 3);
    place(&mut s, gib(150)); // gpu0 has 42 free
    let two = PlacementRequest {
        demand: Demand {
            size: Mib::gib(100),
            gpu_count: 2,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: None,
    };
    let placement = s.schedule(&two).unwrap();
    let gpus: Vec<u32> = placement.shards().map(|s| s.at.gpu).collect();
    assert_eq!(gpus, vec![1, 2]);
    // Now only 92 free on gpu1 and gpu2 and 42 on gpu0: a second pair fails
    // and leaves every GPU exactly as it was.
    let before: Vec<Mib> = s.gpus().iter().map(|g| g.used()).collect();
    let rejection = s.schedule(&two).unwrap_err();
    assert_eq!(
        rejection.reason,
        RejectReason::NoCandidate {
            size: Mib::gib(100),
            partitions: 1,
            needed: 2,
            found: 0,
            min_free: Mib::gib(100),
        }
    );
    let after: Vec<Mib> = s.gpus().iter().map(|g| g.used()).collect();
    assert_eq!(before, after);
    s.unschedule(placement.replica).unwrap();
    assert_eq!(s.gpus()[1].used(), Mib::ZERO);
    s.check_invariants().unwrap();
}

#[test]
fn precision_is_charged_and_refunded_exactly() {
    // Runtime defect 1: an int4 model was charged its fp16 size, and the real
    // path freed fp16 after allocating int4, driving a partition to -11 GiB.
    let catalog = Catalog::builtin();
    let model = "meta-llama/Llama-3.1-8B-Instruct";
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    let mut charged = Mib::ZERO;
    for precision in Precision::ALL {
        let variant = catalog.variant(catalog.find(model, precision).unwrap());
        let placement = s
            .schedule(&PlacementRequest::single(variant.memory))
            .unwrap();
        assert_eq!(placement.first().size, variant.memory);
        charged += variant.memory;
    }
    assert_eq!(s.gpus()[0].used(), Mib::gib(20 + 13 + 9));
    assert_eq!(charged, s.gpus()[0].used());
    let ids: Vec<ReplicaId> = s.placements().map(|p| p.replica).collect();
    for id in ids {
        s.unschedule(id).unwrap();
    }
    assert!(s.gpus()[0]
        .partitions()
        .iter()
        .all(|p| p.used() == Mib::ZERO && p.replicas() == 0));
}

#[test]
fn one_model_may_hold_many_replicas_and_each_is_freed_alone() {
    // Runtime defect 3: one replica per model id, and re-scheduling a
    // stopped id leaked the first copy.
    let mut s = fleet(Policy::Aim, "40,40,40,40", 1);
    let replicas: Vec<Placement> = (0..6).map(|_| s.schedule(&gib(9)).unwrap()).collect();
    assert_eq!(s.live_replicas(), 6);
    assert_eq!(s.gpus()[0].used(), Mib::gib(54));
    s.unschedule(replicas[2].replica).unwrap();
    assert_eq!(s.gpus()[0].used(), Mib::gib(45));
    // Stop and start the "same" model again many times: nothing leaks.
    for _ in 0..100 {
        let again = s.schedule(&gib(9)).unwrap();
        s.unschedule(again.replica).unwrap();
    }
    assert_eq!(s.gpus()[0].used(), Mib::gib(45));
    assert_eq!(s.live_replicas(), 5);
    s.check_invariants().unwrap();
}

#[test]
fn a_stale_replica_id_is_refused_even_after_its_slot_is_reused() {
    let mut s = fleet(Policy::Aim, "SPX", 1);
    let first = s.schedule(&gib(10)).unwrap().replica;
    s.unschedule(first).unwrap();
    let second = s.schedule(&gib(10)).unwrap().replica;
    assert_ne!(first, second);
    assert_eq!(s.unschedule(first), Err(UnscheduleError(first)));
    assert_eq!(s.gpus()[0].used(), Mib::gib(10));
    assert!(s.placement(second).is_some());
}

#[test]
fn policies_parse_by_name() {
    for policy in Policy::ALL {
        assert_eq!(policy.name().parse::<Policy>(), Ok(policy));
    }
    assert!("no-such-policy".parse::<Policy>().is_err());
}

fn whole(partitions: u32) -> PlacementRequest {
    PlacementRequest {
        demand: Demand {
            size: Mib::gib(24),
            gpu_count: 1,
            partitions,
            host: HostDemand::NONE,
        },
        preferred: None,
    }
}

#[test]
fn several_partitions_of_one_gpu_are_all_or_nothing() {
    // Two CPX GPUs. Four whole partitions go to gpu 0 (partitions 0-3); then
    // a pod on gpu 0 partition 4 and one on gpu 1 partition 0 leave no GPU
    // with 8 free partitions, but 4 still fit on gpu 1.
    let mut s = fleet(Policy::BestFit, "CPX", 2);
    let four = s.schedule(&whole(4)).unwrap();
    let spots: Vec<(u32, u32)> = four.shards().map(|s| (s.at.gpu, s.at.partition)).collect();
    assert_eq!(spots, [(0, 0), (0, 1), (0, 2), (0, 3)]);
    for gpu in 0..2 {
        s.schedule(&PlacementRequest {
            demand: Demand::single(Mib::gib(1)),
            preferred: Some(at(gpu, 4)),
        })
        .unwrap();
    }
    let before: Vec<Mib> = s.gpus().iter().map(|g| g.used()).collect();
    let eight = s.schedule(&whole(8)).unwrap_err();
    assert_eq!(eight.code, RejectCode::NoCapacityNow);
    assert_eq!(
        eight.to_string(),
        "no capacity now: no GPU has 8 partitions of 24 GiB free"
    );
    assert_eq!(
        before,
        s.gpus().iter().map(|g| g.used()).collect::<Vec<_>>()
    );
    let placed = s.schedule(&whole(4)).unwrap();
    assert!(placed.shards().all(|s| s.at.gpu == 1));
    s.unschedule(four.replica).unwrap();
    s.check_invariants().unwrap();
    assert_eq!(
        s.schedule(&whole(9)).unwrap_err().reason,
        RejectReason::TooManyShards { requested: 9 }
    );
    let mut quad = fleet(Policy::BestFit, "40,40,40,40", 1);
    let six = quad.schedule(&whole(6)).unwrap_err();
    assert_eq!(
        (six.code, six.reason),
        (
            RejectCode::NeverFits,
            RejectReason::NotEnoughPartitions { needed: 6, most: 4 }
        )
    );
    let pinned = PlacementRequest {
        preferred: Some(at(0, 0)),
        ..whole(2)
    };
    assert_eq!(
        s.schedule(&pinned).unwrap_err().reason,
        RejectReason::PreferredWithSeveralPartitions
    );
}

#[test]
fn frag_aware_keeps_a_gpu_whole_for_a_workload_that_needs_whole_gpus() {
    // gpu 0 is CPX (8 x 24), gpu 1 has two 24 GiB partitions. The workload
    // asks for 12 GiB pods and for all 8 partitions of one GPU, equally often.
    // A 12 GiB pod on gpu 0 would leave it with 7 free partitions: every
    // byte of it (180 GiB) stranded for the 8-partition demand. On gpu 1 it
    // strands 36 GiB where 48 were stranded already (gpu 1 can never host
    // 8 partitions): the expected stranded memory falls by 12 there and
    // grows by 180 on gpu 0. Best-fit sees equal left-overs and takes gpu 0.
    let mix = DemandMix::new([(Demand::single(Mib::gib(12)), 1), (whole(8).demand, 1)]);
    let layouts = [layout("CPX"), layout("24,24")];
    for (policy, gpu) in [(Policy::BestFit, 0), (Policy::FragAware, 1)] {
        let mut s = Scheduler::new(policy.configure(&mix), layouts.iter());
        assert_eq!(place(&mut s, gib(12)).gpu, gpu, "{policy}");
    }
}

#[test]
fn on_a_mixed_fleet_a_request_no_single_gpu_can_host_never_fits() {
    // One MI325X (256 GiB) and one MI300X (192 GiB), both SPX: a replica of
    // 2 x 200 GiB passes the fleet-wide checks (largest partition 256, two
    // GPUs) but only one GPU could ever host a share.
    let layouts = [
        "SPX"
            .parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi325x)
            .unwrap(),
        layout("SPX"),
    ];
    let mut s = Scheduler::new(Policy::Aim, layouts.iter());
    let wide = PlacementRequest {
        demand: Demand {
            size: Mib::gib(200),
            gpu_count: 2,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: None,
    };
    let rejection = s.schedule(&wide).unwrap_err();
    assert_eq!(rejection.code, RejectCode::NeverFits);
    assert_eq!(
        rejection.reason,
        RejectReason::NotEnoughCapableGpus {
            needed: 2,
            capable: 1
        }
    );
    // One share of 200 fits the MI325X.
    assert_eq!(place(&mut s, gib(200)), at(0, 0));
}

#[test]
fn a_refusal_remembered_on_a_mixed_fleet_keeps_each_reason() {
    // GPUs of 100 + 20 and of 60 + 60 GiB. Two partitions of 50 GiB fit
    // the second GPU once; a second such replica is refused for want of
    // memory, and the refusal is remembered. A later two-partition request
    // of 55 GiB is refused the same way (some GPU could hold it empty);
    // one of 70 GiB never fits (no GPU has two partitions of 70), although
    // it is larger than the remembered size and smaller than the largest
    // partition.
    let layouts = [layout("100,20"), layout("60,60")];
    let two = |gib: u64| PlacementRequest {
        demand: Demand {
            size: Mib::gib(gib),
            gpu_count: 1,
            partitions: 2,
            host: HostDemand::NONE,
        },
        preferred: None,
    };
    for policy in Policy::ALL {
        let mut s = Scheduler::new(policy, layouts.iter());
        assert_eq!(place(&mut s, two(50)), at(1, 0), "{policy}");
        let no_room = |s: &Scheduler, gib: u64| RejectReason::NoCandidate {
            size: Mib::gib(gib),
            partitions: 2,
            needed: 1,
            found: 0,
            min_free: s.strands_below(Mib::gib(gib)),
        };
        for (gib, expected) in [
            (50, no_room(&s, 50)),
            (55, no_room(&s, 55)),
            (
                70,
                RejectReason::NotEnoughCapableGpus {
                    needed: 1,
                    capable: 0,
                },
            ),
            (50, no_room(&s, 50)),
        ] {
            let rejection = s.schedule(&two(gib)).unwrap_err();
            assert_eq!(rejection.reason, expected, "{policy}, 2 x {gib} GiB");
        }
        s.check_invariants().unwrap();
    }
}

fn gang(gib: u64, gpus: u32, cores: u32, host_gib: u64) -> PlacementRequest {
    PlacementRequest {
        demand: Demand {
            size: Mib::gib(gib),
            gpu_count: gpus,
            partitions: 1,
            host: HostDemand {
                cpu_milli: cores * 1000,
                memory: Mib::gib(host_gib),
            },
        },
        preferred: None,
    }
}

fn small_nodes(policy: Policy, gpus_per_node: u32, nodes: usize) -> Scheduler {
    let node = NodeShape {
        gpus: gpus_per_node,
        cpu_milli: 8_000,
        memory: Mib::gib(64),
    };
    let spx = layout("SPX");
    Scheduler::on_nodes(
        policy,
        node,
        std::iter::repeat_n(&spx, gpus_per_node as usize * nodes),
    )
}

#[test]
fn a_small_gang_fills_a_node_in_use_and_keeps_an_empty_node_whole() {
    // Two nodes of 4 SPX GPUs. One replica on node 1 (gpu 4); a TP=2 gang
    // then goes to node 1 under best-fit (the tightest node that takes it),
    // to node 0 under first-fit, and to node 0 under spread (most free).
    for (policy, expected_node) in [
        (Policy::BestFit, 1),
        (Policy::FragAware, 1),
        (Policy::FirstFit, 0),
        (Policy::Spread, 0),
    ] {
        let mut s = small_nodes(policy, 4, 2);
        s.schedule(&PlacementRequest {
            demand: Demand::single(Mib::gib(150)),
            preferred: Some(at(4, 0)),
        })
        .unwrap();
        let placement = s.schedule(&gang(100, 2, 2, 16)).unwrap();
        let nodes: Vec<u32> = placement
            .shards()
            .map(|shard| s.node_of(shard.at.gpu))
            .collect();
        assert_eq!(nodes, vec![expected_node; 2], "{policy}");
        // A TP=4 gang still finds a whole node under best-fit.
        if policy == Policy::BestFit {
            let four = s.schedule(&gang(100, 4, 2, 16)).unwrap();
            assert!(four.shards().all(|shard| s.node_of(shard.at.gpu) == 0));
        }
        s.check_invariants().unwrap();
    }
}

#[test]
fn a_gang_never_spans_nodes_even_when_the_fleet_has_the_gpus() {
    // Two nodes of 2 GPUs, one GPU of each taken: 2 free GPUs in the fleet
    // but not on one node, so a TP=2 gang is refused, naming the node.
    let mut s = small_nodes(Policy::FirstFit, 2, 2);
    place(&mut s, gib(150));
    s.schedule(&PlacementRequest {
        demand: Demand::single(Mib::gib(150)),
        preferred: Some(at(2, 0)),
    })
    .unwrap();
    let refused = s.schedule(&gang(100, 2, 0, 0)).unwrap_err();
    assert_eq!(refused.code, RejectCode::NoCapacityNow);
    assert_eq!(
        refused.to_string(),
        "no capacity now: 100 GiB fits on 1 of the 2 distinct GPUs of one node needed"
    );
    // A TP=4 gang can never fit nodes of 2 GPUs.
    let never = s.schedule(&gang(10, 4, 0, 0)).unwrap_err();
    assert_eq!(never.code, RejectCode::NeverFits);
    assert!(
        never.to_string().contains("needs 4 GPUs of one node"),
        "{never}"
    );
}

#[test]
fn host_cpu_and_memory_bound_a_node_before_its_gpu_memory_does() {
    // One node of 1 SPX GPU, 8 cores, 64 GiB: four 2-core replicas fill the
    // CPU with 152 GiB of GPU memory still free; the fifth is refused for
    // the host, and freeing one makes room again.
    let mut s = small_nodes(Policy::BestFit, 1, 1);
    let mut placed = Vec::new();
    for _ in 0..4 {
        placed.push(s.schedule(&gang(10, 1, 2, 16)).unwrap());
    }
    let refused = s.schedule(&gang(10, 1, 2, 1)).unwrap_err();
    assert_eq!(refused.code, RejectCode::NoCapacityNow);
    assert_eq!(
        refused.to_string(),
        "no capacity now: the GPU memory is free but no node with it has 2 CPU cores and 1 GiB of host memory left"
    );
    let node = s.nodes().next().unwrap();
    assert_eq!(
        (node.cpu_used_milli, node.memory_used),
        (8_000, Mib::gib(64))
    );
    s.unschedule(placed[0].replica).unwrap();
    assert!(s.schedule(&gang(10, 1, 2, 16)).is_ok());
    // More than any node has: never.
    let never = s.schedule(&gang(10, 1, 9, 0)).unwrap_err();
    assert_eq!(never.code, RejectCode::NeverFits);
    assert!(never.to_string().contains("9 CPU cores"), "{never}");
    s.check_invariants().unwrap();
}

#[test]
fn gpus_fill_nodes_in_order_and_a_new_layout_opens_a_node() {
    let mut s = Scheduler::new(Policy::FirstFit, std::iter::repeat_n(&layout("SPX"), 10));
    s.add_gpu(&layout("CPX/NPS4"));
    let nodes: Vec<(u32, u32)> = s.nodes().map(|n| (n.first_gpu, n.gpus)).collect();
    assert_eq!(nodes, vec![(0, 8), (8, 2), (10, 1)]);
    s.close_node();
    s.add_gpu(&layout("CPX/NPS4"));
    assert_eq!(s.node_of(11), 3);
}

#[test]
fn a_refusal_is_remembered_only_until_memory_is_freed_or_added() {
    for policy in Policy::ALL {
        let mut s = fleet(policy, "CPX/NPS4", 3);
        let mut placed = Vec::new();
        while let Ok(p) = s.schedule(&gib(20)) {
            placed.push(p);
        }
        // Refused by a search, then without one: the same answer.
        let first = s.schedule(&gib(12)).unwrap_err();
        assert_eq!(first.code, RejectCode::NoCapacityNow, "{policy}");
        assert_eq!(s.schedule(&gib(12)), Err(first), "{policy}");
        assert!(s.schedule(&gib(16)).is_err(), "{policy}");
        // A smaller request is still searched for, and fits.
        let left = s.gpus()[0].partitions()[0].free();
        if left >= Mib::gib(8) || policy != Policy::Aim {
            assert!(
                s.schedule(&PlacementRequest::single(left)).is_ok(),
                "{policy}"
            );
        }
        // Freeing memory makes room again.
        let freed = s.unschedule(placed[5].replica).unwrap();
        assert_eq!(
            s.schedule(&gib(16)).unwrap().first().at,
            freed.first().at,
            "{policy}"
        );
        // So does a GPU added to the fleet.
        assert!(s.schedule(&gib(16)).is_err(), "{policy}");
        let gpu = s.add_gpu(&layout("CPX/NPS4"));
        assert_eq!(
            s.schedule(&gib(16)).unwrap().first().at.gpu,
            gpu,
            "{policy}"
        );
        s.check_invariants().unwrap();
        // And a GPU coming back into service.
        let mut s = fleet(policy, "CPX/NPS4", 2);
        s.set_online(1, false).unwrap();
        while s.schedule(&gib(20)).is_ok() {}
        assert!(s.schedule(&gib(16)).is_err(), "{policy}");
        s.set_online(1, true).unwrap();
        assert_eq!(s.schedule(&gib(16)).unwrap().first().at.gpu, 1, "{policy}");
    }
}

#[test]
fn schedule_at_books_exactly_where_it_is_told_or_says_why_not() {
    // Two nodes of 2 SPX GPUs (8 cores, 64 GiB each).
    let mut s = small_nodes(Policy::Spread, 2, 2);
    let demand = |gib: u64, gpus: u32, cores: u32| gang(gib, gpus, cores, 1).demand;
    // A gang of two on node 1, second shard first: kept in that order.
    let placed = s
        .schedule_at(demand(50, 2, 1), &[at(3, 0), at(2, 0)])
        .unwrap();
    let shards: Vec<PartitionRef> = placed.shards().map(|s| s.at).collect();
    assert_eq!(shards, vec![at(3, 0), at(2, 0)]);
    assert_eq!(s.gpus()[3].free_memory(), Mib::gib(142));
    let refused = |s: &mut Scheduler, d: Demand, pins: &[PartitionRef]| {
        let before = s.gpus().to_vec();
        let r = s.schedule_at(d, pins).unwrap_err();
        assert_eq!(s.gpus(), &before[..], "a refusal changes nothing");
        r
    };
    // Wrong shape: too few, the same GPU twice, across nodes.
    for pins in [
        vec![at(0, 0)],
        vec![at(0, 0), at(0, 0)],
        vec![at(1, 0), at(2, 0)],
    ] {
        let r = refused(&mut s, demand(10, 2, 1), &pins);
        assert_eq!(r.code, RejectCode::Invalid, "{pins:?}: {r}");
        assert!(r.to_string().contains("pinned"), "{r}");
    }
    // A partition that does not exist.
    let r = refused(&mut s, demand(10, 1, 1), &[at(0, 1)]);
    assert_eq!(
        r.reason,
        RejectReason::NoSuchPartition {
            preferred: at(0, 1)
        }
    );
    // Not enough free there.
    let r = refused(&mut s, demand(150, 1, 1), &[at(3, 0)]);
    assert_eq!(r.code, RejectCode::NoCapacityNow);
    assert!(r.to_string().contains("pinned gpu 3 partition 0"), "{r}");
    // Offline.
    s.set_online(1, false).unwrap();
    let r = refused(&mut s, demand(10, 1, 1), &[at(1, 0)]);
    assert_eq!(r.code, RejectCode::NoCapacityNow);
    // No host room left on node 0 (8 cores).
    let r = refused(&mut s, demand(10, 1, 9), &[at(0, 0)]);
    assert!(matches!(r.reason, RejectReason::NoHostRoom { .. }), "{r}");
    // Freed, it refunds exactly what it charged.
    s.unschedule(placed.replica).unwrap();
    assert_eq!(s.gpus()[3].free_memory(), Mib::gib(192));
    s.check_invariants().unwrap();
}
