//! Heap allocations on the hot paths, counted by a counting allocator (its
//! own test binary, since the global allocator is per binary).
//!
//! Guards runtime defect 6 (the AIM runtime parsed its YAML twice per GPU):
//! building a fleet costs one allocation per GPU, the partition list, and
//! nothing proportional to the catalog; and placing or freeing a replica
//! allocates nothing once the fleet is warm.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

use aimsim::hardware::{GpuKind, Layout, LayoutSpec};
use aimsim::profile::{Catalog, Precision};
use aimsim::schedule::{
    ConfiguredPolicy, Demand, DemandMix, PlacementRequest, Policy, Scheduler, SearchMode,
};
use aimsim::units::Mib;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// An MI300X laid out as `text`.
fn layout(text: &str) -> Layout {
    text.parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap()
}

/// Allocations made on this thread while `f` runs.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let value = f();
    (ALLOCATIONS.with(Cell::get) - before, value)
}

#[test]
fn building_a_fleet_costs_one_allocation_per_gpu() {
    let layout = layout("CPX/NPS4");
    for gpus in [10usize, 1_000, 10_000] {
        let (count, fleet) = allocations(|| Scheduler::uniform(Policy::Aim, &layout, gpus));
        assert_eq!(fleet.gpus().len(), gpus);
        // One partition list per GPU, plus the doublings of the fleet's and
        // the fleet index's arrays (a dozen arrays, log2(gpus) times each).
        let growth = 16 * (gpus.ilog2() as usize + 1);
        assert!(
            count <= gpus + growth,
            "{gpus} GPUs took {count} allocations"
        );
    }
}

#[test]
fn schedule_and_unschedule_allocate_nothing_once_warm() {
    let catalog = Catalog::builtin();
    let sizes: Vec<_> = [
        "meta-llama/Llama-3.1-8B-Instruct",
        "google/gemma-3-27B",
        "Qwen/Qwen3-4B-Instruct",
    ]
    .iter()
    .map(|m| {
        catalog
            .variant(catalog.find(m, Precision::Int4).unwrap())
            .memory
    })
    .collect();
    let layout = layout("40,40,40,40");
    for policy in Policy::ALL {
        let mut fleet = Scheduler::uniform(policy, &layout, 64);
        // Keep at most RING replicas live, freeing the oldest first, so the
        // replica table has a high-water mark that the warm-up reaches.
        const RING: usize = 128;
        let mut ring = [None; RING];
        let mut churn = |fleet: &mut Scheduler, calls: usize| {
            let mut placed = 0;
            for i in 0..calls {
                if let Some(old) = ring[i % RING].take() {
                    fleet.unschedule(old).unwrap();
                }
                if let Ok(p) = fleet.schedule(&PlacementRequest::single(sizes[i % sizes.len()])) {
                    ring[i % RING] = Some(p.replica);
                    placed += 1;
                }
            }
            placed
        };
        churn(&mut fleet, 1_000);
        let (count, placed) = allocations(|| churn(&mut fleet, 10_000));
        assert_eq!(
            placed, 10_000,
            "{policy}: the fleet has room for {RING} replicas"
        );
        assert_eq!(
            count, 0,
            "{policy}: {count} allocations in 10,000 schedule/unschedule pairs"
        );
    }
}

#[test]
fn the_fleet_index_allocates_nothing_once_warm_for_one_or_several_partitions() {
    let layout = layout("CPX/NPS4");
    // One and two partitions of one GPU, and a size no partition can hold
    // (a refusal).
    let requests = [
        PlacementRequest::single(Mib::gib(6)),
        PlacementRequest {
            demand: Demand {
                partitions: 2,
                ..Demand::single(Mib::gib(10))
            },
            preferred: None,
        },
        PlacementRequest::single(Mib::gib(200)),
    ];
    // Every policy, and frag-aware for a workload that asks two partitions
    // of a GPU (its index then groups GPUs by state).
    let grouped = DemandMix::new(vec![(requests[0].demand, 3), (requests[1].demand, 1)]);
    let policies = Policy::ALL
        .map(ConfiguredPolicy::from)
        .into_iter()
        .chain([Policy::FragAware.configure(&grouped)]);
    for configured in policies {
        let policy = configured.policy();
        let mut fleet =
            Scheduler::uniform(configured, &layout, 256).with_search(SearchMode::Indexed);
        const RING: usize = 128;
        let mut ring = [None; RING];
        let mut churn = |fleet: &mut Scheduler, calls: usize| {
            for i in 0..calls {
                if let Some(old) = ring[i % RING].take() {
                    fleet.unschedule(old).unwrap();
                }
                if let Ok(p) = fleet.schedule(&requests[i % requests.len()]) {
                    ring[i % RING] = Some(p.replica);
                }
            }
        };
        churn(&mut fleet, 1_000);
        let (count, ()) = allocations(|| churn(&mut fleet, 10_000));
        assert_eq!(
            count, 0,
            "{policy}: {count} allocations in 10,000 indexed schedule/unschedule pairs"
        );
    }
}
