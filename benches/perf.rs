//! The performance model's hot path: one engine iteration's time, which the
//! request-level simulator evaluates once per iteration of every replica.
//!
//! `cargo bench --bench perf`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::perf::{Batch, Device, EngineLimits, KvCache, ReplicaModel, ReplicaSpec, FITTED};
use aimsim::profile::{ArchitectureTable, Precision};

fn model(id: &str, precision: Precision, device: Device) -> ReplicaModel {
    let table = ArchitectureTable::builtin();
    ReplicaModel::new(&ReplicaSpec {
        arch: table.get(id).expect("a catalog model"),
        precision,
        kv_cache: KvCache::Bits16,
        device,
        tp: 1,
        limits: EngineLimits::default(),
        efficiency: FITTED,
    })
    .expect("fits")
}

/// A mixed iteration: 64 decodes at ~1.5k context and a 512-token chunk.
fn mixed() -> Batch {
    let mut b = Batch::default();
    for i in 0..64 {
        b.add_decode(1024 + 16 * i, 0);
    }
    b.add_prefill(512, 1024, 0, false);
    b
}

fn step_time(c: &mut Criterion) {
    let cpx = "CPX/NPS4"
        .parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap();
    let cases = [
        (
            "llama-8b-fp16-spx",
            model(
                "meta-llama/Llama-3.1-8B-Instruct",
                Precision::Fp16,
                Device::whole(GpuKind::Mi300x),
            ),
        ),
        (
            "llama-8b-int4-cpx",
            model(
                "meta-llama/Llama-3.1-8B-Instruct",
                Precision::Int4,
                Device::of_layout(&cpx, 0),
            ),
        ),
        (
            "qwen3-30b-moe-int8",
            model(
                "Qwen/Qwen3-30B-Instruct",
                Precision::Int8,
                Device::whole(GpuKind::Mi300x),
            ),
        ),
    ];
    let batch = mixed();
    let mut group = c.benchmark_group("step_time");
    for (name, m) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| m.step_time(black_box(&batch), black_box(1)))
        });
    }
    group.finish();
}

criterion_group!(benches, step_time);
criterion_main!(benches);
