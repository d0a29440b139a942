//! Property tests over random schedule/unschedule sequences on fleets of
//! small nodes with little CPU and host memory: a gang (a replica on several
//! GPUs) never spans two nodes, no node's CPU or host memory is ever
//! over-committed, host resources charged equal those refunded, a gang goes
//! to the node its policy's rule names, and a request is refused for lack
//! of room only when no node has it.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, HostDemand, Layout, LayoutSpec, NodeShape, MIN_PARTITION};
use aimsim::schedule::{
    Demand, DemandMix, NodeRule, Placement, PlacementRequest, Policy, RejectCode, Scheduler,
};
use aimsim::units::Mib;

#[derive(Debug, Clone)]
enum Op {
    Schedule(Demand),
    /// Frees the live replica at this index (modulo the live count).
    Unschedule(usize),
}

fn node_strategy() -> impl Strategy<Value = NodeShape> {
    (1u32..=4, 1u64..=8, 8u64..=96).prop_map(|(gpus, cores, gib)| NodeShape {
        gpus,
        cpu_milli: cores * 1000,
        memory: Mib::gib(gib),
    })
}

fn layout_strategy() -> impl Strategy<Value = Layout> {
    prop::sample::select(vec!["SPX", "DPX/NPS2", "CPX/NPS4", "40,40,40,40"]).prop_map(|text| {
        text.parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi300x)
            .unwrap()
    })
}

fn demand_strategy() -> impl Strategy<Value = Demand> {
    let size = prop::sample::select(vec![5u64, 13, 20, 33, 60, 90, 180]).prop_map(Mib::gib);
    let gpu_count = prop_oneof![3 => Just(1u32), 2 => Just(2u32), 1 => Just(4u32)];
    let cpu = prop::sample::select(vec![0u32, 500, 1000, 2000, 3000]);
    let memory = prop::sample::select(vec![0u64, 4, 16, 40]).prop_map(Mib::gib);
    (size, gpu_count, cpu, memory).prop_map(|(size, gpu_count, cpu_milli, memory)| Demand {
        size,
        gpu_count,
        partitions: 1,
        host: HostDemand { cpu_milli, memory },
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => demand_strategy().prop_map(Op::Schedule),
        1 => any::<usize>().prop_map(Op::Unschedule),
    ]
}

/// Whether partition free memory `free` passes `policy`'s filter for `size`.
fn passes(policy: Policy, free: Mib, size: Mib) -> bool {
    free >= size && (policy != Policy::Aim || free >= MIN_PARTITION)
}

/// Nodes (index, free GPU memory) that could take `demand` now, by a plain
/// reading of the rule: host room left and `gpu_count` GPUs of the node
/// each with a partition that passes the filter.
fn nodes_with_room(s: &Scheduler, policy: Policy, demand: &Demand) -> Vec<(u32, Mib)> {
    s.nodes()
        .enumerate()
        .filter(|(_, node)| {
            node.cpu_used_milli + u64::from(demand.host.cpu_milli) <= node.shape.cpu_milli
                && node.memory_used + demand.host.memory <= node.shape.memory
        })
        .filter_map(|(index, node)| {
            let gpus = &s.gpus()[node.first_gpu as usize..(node.first_gpu + node.gpus) as usize];
            let with_room = gpus
                .iter()
                .filter(|g| {
                    g.partitions()
                        .iter()
                        .any(|p| passes(policy, p.free(), demand.size))
                })
                .count() as u32;
            let free = gpus.iter().map(|g| g.free_memory()).sum();
            (with_room >= demand.gpu_count).then_some((index as u32, free))
        })
        .collect()
}

/// The node the policy's rule picks among `candidates` (ties to the lowest
/// index).
fn rule_pick(rule: NodeRule, candidates: &[(u32, Mib)]) -> u32 {
    let mut best = candidates[0];
    for &c in &candidates[1..] {
        let better = match rule {
            NodeRule::First => false,
            NodeRule::Tightest => c.1 < best.1,
            NodeRule::Loosest => c.1 > best.1,
        };
        if better {
            best = c;
        }
    }
    best.0
}

fn host_in_use(s: &Scheduler) -> (u64, Mib) {
    s.nodes().fold((0, Mib::ZERO), |(cpu, memory), n| {
        (cpu + n.cpu_used_milli, memory + n.memory_used)
    })
}

fn run_sequence(
    policy: Policy,
    node: NodeShape,
    layout: &Layout,
    gpus: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut s = Scheduler::on_nodes(
        policy.configure(&DemandMix::default()),
        node,
        std::iter::repeat_n(layout, gpus),
    );
    prop_assert_eq!(s.nodes().count(), gpus.div_ceil(node.gpus as usize));
    let mut live: Vec<Placement> = Vec::new();
    let (mut charged_cpu, mut refunded_cpu) = (0u64, 0u64);
    let (mut charged_memory, mut refunded_memory) = (Mib::ZERO, Mib::ZERO);
    for op in ops {
        match op {
            Op::Schedule(demand) => {
                let candidates = nodes_with_room(&s, policy, demand);
                let request = PlacementRequest {
                    demand: *demand,
                    preferred: None,
                };
                match s.schedule(&request) {
                    Ok(placement) => {
                        let node_of = s.node_of(placement.first().at.gpu);
                        prop_assert!(
                            placement
                                .shards()
                                .all(|shard| s.node_of(shard.at.gpu) == node_of),
                            "a gang spans nodes: {:?}",
                            placement
                        );
                        prop_assert_eq!(placement.shards().len(), demand.gpu_count as usize);
                        prop_assert!(
                            candidates.iter().any(|c| c.0 == node_of),
                            "placed on node {} which had no room: {:?}",
                            node_of,
                            candidates
                        );
                        if demand.gpu_count > 1 {
                            prop_assert_eq!(
                                node_of,
                                rule_pick(policy.node_rule(), &candidates),
                                "the gang went to another node than {:?} names",
                                policy.node_rule()
                            );
                        }
                        prop_assert_eq!(placement.host, demand.host);
                        charged_cpu += u64::from(demand.host.cpu_milli);
                        charged_memory += demand.host.memory;
                        live.push(placement);
                    }
                    Err(rejection) => {
                        prop_assert!(!rejection.to_string().is_empty());
                        // Never fits exactly when no node of this fleet
                        // could hold it, empty (however often it was
                        // refused before).
                        let capable = layout
                            .partitions()
                            .iter()
                            .any(|&c| passes(policy, c, demand.size));
                        let biggest_node = node.gpus.min(gpus as u32);
                        let never = !capable
                            || demand.gpu_count > biggest_node
                            || !node.could_host(demand.host);
                        prop_assert_eq!(
                            rejection.code == RejectCode::NeverFits,
                            never,
                            "{} for a request an empty node {} hold",
                            rejection,
                            if never { "cannot" } else { "can" }
                        );
                        if rejection.code == RejectCode::NoCapacityNow {
                            prop_assert!(
                                candidates.is_empty(),
                                "refused ({}) although nodes {:?} had room",
                                rejection,
                                candidates
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
                refunded_cpu += u64::from(freed.host.cpu_milli);
                refunded_memory += freed.host.memory;
            }
        }
        s.check_invariants()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            host_in_use(&s),
            (charged_cpu - refunded_cpu, charged_memory - refunded_memory),
            "host charged - refunded != host in use"
        );
        for n in s.nodes() {
            prop_assert!(n.cpu_used_milli <= n.shape.cpu_milli);
            prop_assert!(n.memory_used <= n.shape.memory);
        }
    }
    for placement in live.drain(..) {
        s.unschedule(placement.replica)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    prop_assert_eq!(host_in_use(&s), (0, Mib::ZERO));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gangs_stay_on_one_node_and_hosts_are_never_over_committed(
        policy in prop::sample::select(Policy::ALL.to_vec()),
        node in node_strategy(),
        layout in layout_strategy(),
        gpus in 1usize..=10,
        ops in prop::collection::vec(op_strategy(), 1..150),
    ) {
        run_sequence(policy, node, &layout, gpus, &ops)?;
    }
}
