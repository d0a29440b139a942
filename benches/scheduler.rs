//! Criterion benchmarks of the scheduler hot path: one schedule + unschedule
//! pair, on one GPU and on fleets filled to a given share of their memory.
//!
//! Run with `cargo bench --bench scheduler` (`-- pair` or `-- fleet` to pick a
//! group).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::schedule::{PlacementRequest, Policy, Scheduler};
use aimsim::units::Mib;

/// The AIM seed example's replica: Llama-3.1-8B at fp16.
const REPLICA: Mib = Mib::gib(20);
/// Fleet sizes for the scaling group.
const FLEET_SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Shares of fleet memory held by background replicas before timing.
const FILLS: [u64; 2] = [50, 90];

fn layout(text: &str) -> aimsim::hardware::Layout {
    text.parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap()
}

/// Schedule then unschedule one replica on one empty MI300X.
fn pair_on_one_gpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("pair");
    group.throughput(Throughput::Elements(1));
    for layout_text in ["40,40,40,40", "CPX/NPS4"] {
        for policy in Policy::ALL {
            let mut fleet = Scheduler::uniform(policy, &layout(layout_text), 1);
            let request = PlacementRequest::single(REPLICA);
            group.bench_with_input(
                BenchmarkId::new(policy.name(), layout_text),
                &request,
                |b, request| {
                    b.iter(|| {
                        let placement = fleet.schedule(black_box(request)).unwrap();
                        fleet.unschedule(placement.replica).unwrap();
                    })
                },
            );
        }
    }
    group.finish();
}

/// The same pair on fleets of CPX GPUs already filled to 50% or 90% with
/// 12 GiB replicas (half a CPX partition).
fn pair_on_filled_fleets(c: &mut Criterion) {
    let mut group = c.benchmark_group("fleet");
    group.throughput(Throughput::Elements(1));
    let cpx = layout("CPX/NPS4");
    for policy in Policy::ALL {
        for fill in FILLS {
            for gpus in FLEET_SIZES {
                let mut fleet = Scheduler::uniform(policy, &cpx, gpus);
                let background = Mib::gib(12);
                let target =
                    cpx.partitions().iter().copied().sum::<Mib>().0 * gpus as u64 * fill / 100;
                let mut placed = Mib::ZERO;
                while placed.0 + background.0 <= target {
                    fleet
                        .schedule(&PlacementRequest::single(background))
                        .unwrap();
                    placed += background;
                }
                let request = PlacementRequest::single(background);
                let id = BenchmarkId::new(format!("{}/{fill}%", policy.name()), gpus);
                group.bench_with_input(id, &request, |b, request| {
                    b.iter(|| {
                        let placement = fleet.schedule(black_box(request)).unwrap();
                        fleet.unschedule(placement.replica).unwrap();
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, pair_on_one_gpu, pair_on_filled_fleets);
criterion_main!(benches);
