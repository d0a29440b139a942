//! The fleet index decides exactly as the plain scan: the same random
//! operations on an indexed and a scanning scheduler give the same
//! placements, rejections and books, for every policy, on fleets of mixed
//! layouts with GPUs going offline and coming back.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, HostDemand, Layout, LayoutSpec};
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
    let demand = (
        size,
        prop_oneof![8 => Just(1u32), 1 => 2u32..=3],
        prop_oneof![6 => Just(1u32), 1 => 2u32..=4],
    )
        .prop_map(|(size, gpu_count, partitions)| Demand {
            size,
            gpu_count,
            partitions,
            host: HostDemand::NONE,
        });
    let op = prop_oneof![
        6 => demand.prop_map(Op::Schedule),
        3 => any::<usize>().prop_map(Op::Unschedule),
        1 => any::<usize>().prop_map(Op::Toggle),
    ];
    prop::collection::vec(op, 1..250)
}

/// Mixes with and without several-partition demands (the latter is what
/// the index answers for frag-aware; the former falls back to the scan).
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
        let build = |mode| {
            Scheduler::new(policy.configure(&mix(grouped)), layouts.iter()).with_search(mode)
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
