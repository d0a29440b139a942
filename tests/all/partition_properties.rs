//! Property tests of one GPU's partitioner on its own: any sequence of
//! allocations and frees, valid or not, keeps every partition within its
//! quota and refunds exactly what was charged.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::partition::{GpuState, PartitionError};
use aimsim::units::Mib;

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        partition: usize,
        size: Mib,
    },
    /// Allocates exactly the free memory of a partition plus `extra` MiB: the
    /// boundary where an off-by-one would over-commit.
    Fill {
        partition: usize,
        extra: u64,
    },
    /// Frees the charge at this index of the test's ledger (modulo its length).
    Free(usize),
    /// Tries to refund more than a charge, which must be refused.
    OverFree(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..10, 1u64..=50 * 1024).prop_map(|(partition, mib)| Op::Allocate { partition, size: Mib(mib) }),
        // A zero charge changes no free memory, so nothing the GPU keeps
        // about its largest free partition.
        1 => (0usize..10).prop_map(|partition| Op::Allocate { partition, size: Mib::ZERO }),
        1 => (0usize..8, 0u64..=1).prop_map(|(partition, extra)| Op::Fill { partition, extra }),
        2 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::OverFree),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_stays_within_quota_and_refunds_exactly(
        layout in prop::sample::select(vec!["SPX", "CPX/NPS4", "40,40,40,40", "8,8,8", "100,60,20"]),
        ops in prop::collection::vec(op_strategy(), 1..300),
    ) {
        let layout = layout.parse::<LayoutSpec>().unwrap().build(GpuKind::Mi300x).unwrap();
        let mut gpu = GpuState::new(&layout);
        let count = layout.partitions().len();
        let mut ledger: Vec<(usize, Mib)> = Vec::new();
        for op in ops {
            let op = match op {
                Op::Fill { partition, extra } => match gpu.partitions().get(partition) {
                    Some(p) if p.free().0 + extra > 0 => Op::Allocate { partition, size: Mib(p.free().0 + extra) },
                    _ => continue,
                },
                other => other,
            };
            match op {
                Op::Allocate { partition, size } => {
                    let free = gpu.partitions().get(partition).map(|p| p.free());
                    let result = gpu.allocate(partition, size);
                    match free {
                        None => prop_assert_eq!(result, Err(PartitionError::NoSuchPartition { partition, count })),
                        Some(free) if size > free => prop_assert_eq!(result, Err(PartitionError::InsufficientMemory { partition, free, size })),
                        Some(_) => {
                            prop_assert_eq!(result, Ok(()));
                            ledger.push((partition, size));
                        }
                    }
                }
                Op::Free(index) if !ledger.is_empty() => {
                    let (partition, size) = ledger.swap_remove(index % ledger.len());
                    prop_assert_eq!(gpu.free(partition, size), Ok(()));
                }
                Op::OverFree(index) if !ledger.is_empty() => {
                    let (partition, _) = ledger[index % ledger.len()];
                    let used = gpu.partitions()[partition].used();
                    let before = gpu.clone();
                    prop_assert!(gpu.free(partition, used + Mib(1)).is_err());
                    prop_assert_eq!(&gpu, &before);
                }
                Op::Free(_) | Op::OverFree(_) | Op::Fill { .. } => {}
            }
            gpu.check()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (index, p) in gpu.partitions().iter().enumerate() {
                let expected: Mib = ledger.iter().filter(|(q, _)| *q == index).map(|(_, s)| *s).sum();
                prop_assert!(p.used() <= p.capacity());
                prop_assert_eq!(p.used(), expected);
                prop_assert_eq!(p.replicas() as usize, ledger.iter().filter(|(q, _)| *q == index).count());
            }
        }
        for (partition, size) in ledger.drain(..) {
            prop_assert_eq!(gpu.free(partition, size), Ok(()));
        }
        prop_assert_eq!(gpu.used(), Mib::ZERO);
    }
}
