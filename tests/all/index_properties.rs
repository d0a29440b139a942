//! The fleet index decides exactly as the plain scan: the same random
//! operations on an indexed and a scanning scheduler give the same
//! placements, rejections and books, for every policy, on fleets of mixed
//! layouts with GPUs going offline and coming back, for requests of one or
//! several partitions of a GPU, on one or several GPUs, with or without
//! host CPU (on small nodes, so that the host runs out before the GPUs).

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, HostDemand, Layout, LayoutSpec, NodeShape};
use aimsim::schedule::{
    Demand, DemandMix, Placement, PlacementRequest, Policy, Scheduler, SearchMode,
};
use aimsim::units::Mib;

#[derive(Debug, Clone)]
enum Op {
    Schedule(Demand),
    Unschedule(usize),
    /// Toggles GPU (index modulo the fleet) offline if empty, online if offline.
    Toggle(usize),
}

fn layouts() -> impl Strategy<Value = Vec<Layout>> {
    let one = prop::sample::select(vec![
        "SPX",
        "DPX/NPS2",
        "CPX/NPS4",
        "40,40,40,40",
        "100,60,20,8",
        "24,24",
    ])
    .prop_map(|t| {
        t.parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi300x)
            .unwrap()
    });
    prop::collection::vec(one, 1..=12)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let size = prop_oneof![
        3 => prop::sample::select(vec![1u64, 3, 5, 9, 12, 13, 20, 24, 25, 33, 40, 60, 90, 100]).prop_map(Mib::gib),
        1 => (1u64..=120 * 1024).prop_map(Mib),
    ];
    let host = prop_oneof![
        3 => Just(HostDemand::NONE),
        1 => (1u32..=3).prop_map(|cores| HostDemand { cpu_milli: cores * 1000, memory: Mib::ZERO }),
    ];
    let demand = (
        size,
        prop_oneof![8 => Just(1u32), 1 => 2u32..=3],
        prop_oneof![2 => Just(1u32), 1 => 2u32..=4],
        host,
    )
        .prop_map(|(size, gpu_count, partitions, host)| Demand {
            size,
            gpu_count,
            partitions,
            host,
        });
    let op = prop_oneof![
        6 => demand.prop_map(Op::Schedule),
        3 => any::<usize>().prop_map(Op::Unschedule),
        1 => any::<usize>().prop_map(Op::Toggle),
    ];
    prop::collection::vec(op, 1..250)
}

/// Mixes with and without several-partition demands (with them, a
/// frag-aware score depends on the whole GPU and its index ranks one GPU
/// per state; without, one partition per free value).
fn mix(with_grouped: bool) -> DemandMix {
    let mut entries: Vec<(Demand, u64)> = [(1u64, 5u64), (9, 20), (20, 40), (33, 10), (90, 4)]
        .iter()
        .map(|&(gib, w)| (Demand::single(Mib::gib(gib)), w))
        .collect();
    if with_grouped {
        entries.push((
            Demand {
                size: Mib::gib(24),
                gpu_count: 1,
                partitions: 4,
                host: HostDemand::NONE,
            },
            3,
        ));
    }
    DemandMix::new(entries)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn indexed_and_scanning_schedulers_agree(
        policy in prop::sample::select(Policy::ALL.to_vec()),
        layouts in layouts(),
        grouped in any::<bool>(),
        ops in ops(),
    ) {
        // Two GPUs and four cores a node: requests asking 1-3 cores run
        // out of host before they run out of GPU memory.
        let node = NodeShape { gpus: 2, cpu_milli: 4_000, memory: Mib::gib(64) };
        let build = |mode| {
            Scheduler::on_nodes(policy.configure(&mix(grouped)), node, layouts.iter())
                .with_search(mode)
        };
        let (mut indexed, mut scan) = (build(SearchMode::Indexed), build(SearchMode::Scan));
        let mut live: Vec<Placement> = Vec::new();
        for op in ops {
            match op {
                Op::Schedule(demand) => {
                    let request = PlacementRequest { demand, preferred: None };
                    let (a, b) = (indexed.schedule(&request), scan.schedule(&request));
                    prop_assert_eq!(&a, &b, "{:?}", demand);
                    if let Ok(placement) = a {
                        live.push(placement);
                    }
                }
                Op::Unschedule(i) if !live.is_empty() => {
                    let placement = live.swap_remove(i % live.len());
                    prop_assert_eq!(indexed.unschedule(placement.replica), scan.unschedule(placement.replica));
                }
                Op::Toggle(i) => {
                    let gpu = (i % layouts.len()) as u32;
                    let online = !indexed.is_online(gpu);
                    prop_assert_eq!(indexed.set_online(gpu, online), scan.set_online(gpu, online));
                }
                Op::Unschedule(_) => {}
            }
            prop_assert_eq!(indexed.gpus(), scan.gpus());
        }
        indexed.check_invariants().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

/// Two GPUs whose partitions have the same free memory but that have
/// different numbers of partitions (one with four full partitions more)
/// are in different states for frag-aware's index: a demand mix may count
/// a partition with nothing free (here a zero-size demand for six
/// partitions, which the CPX GPU can host and the four-partition one
/// cannot), and the scan ranks them apart.
#[test]
fn gpus_alike_but_for_their_full_partitions_are_told_apart() {
    let layout = |text: &str| {
        text.parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi300x)
            .unwrap()
    };
    let layouts = [layout("CPX/NPS4"), layout("24,24,24,24")];
    let mix = DemandMix::new(vec![(
        Demand {
            size: Mib::ZERO,
            gpu_count: 1,
            partitions: 6,
            host: HostDemand::NONE,
        },
        1,
    )]);
    let decide = |mode| {
        let mut fleet =
            Scheduler::new(Policy::FragAware.configure(&mix), layouts.iter()).with_search(mode);
        for partition in 4..8 {
            let full = PlacementRequest {
                demand: Demand::single(Mib::gib(24)),
                preferred: Some(aimsim::schedule::PartitionRef { gpu: 0, partition }),
            };
            fleet.schedule(&full).unwrap();
        }
        fleet
            .schedule(&PlacementRequest::single(Mib::gib(10)))
            .unwrap()
            .first()
            .at
    };
    assert_eq!(decide(SearchMode::Indexed), decide(SearchMode::Scan));
}
