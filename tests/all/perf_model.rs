//! The performance model against physics and against its calibration:
//! no prediction beats the datasheet, time grows with work, precision and
//! partitions move time the way bytes and bandwidth say, and the published
//! measurements are met within the stated errors.

use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::perf::calibration::{self, Role};
use aimsim::perf::{
    batch_latency, Batch, Device, Efficiency, EngineLimits, KvCache, ReplicaModel, ReplicaSpec,
    FITTED,
};
use aimsim::profile::{Architecture, ArchitectureTable, Precision};

/// The efficiency with every fixed cost removed: the bare roofline.
const BARE: Efficiency = Efficiency {
    layer_overhead: 0.0,
    sequence_overhead: 0.0,
    ..FITTED
};

fn model(
    arch: &Architecture,
    precision: Precision,
    device: Device,
    e: Efficiency,
) -> Option<ReplicaModel> {
    ReplicaModel::new(&ReplicaSpec {
        arch,
        precision,
        kv_cache: KvCache::Bits16,
        device,
        tp: 1,
        limits: EngineLimits::default(),
        efficiency: e,
    })
    .ok()
}

fn decode(batch: u32, context: u32) -> Batch {
    let mut b = Batch::default();
    for _ in 0..batch {
        b.add_decode(context, 0);
    }
    b
}

fn prefill(tokens: u32) -> Batch {
    let mut b = Batch::default();
    b.add_prefill(tokens, 0, 0, true);
    b
}

fn devices() -> Vec<Device> {
    let cpx = |kind: GpuKind, mode: &str| {
        Device::of_layout(&mode.parse::<LayoutSpec>().unwrap().build(kind).unwrap(), 0)
    };
    vec![
        Device::whole(GpuKind::Mi300x),
        Device::whole(GpuKind::Mi355x),
        cpx(GpuKind::Mi300x, "CPX/NPS4"),
        cpx(GpuKind::Mi325x, "QPX/NPS1"),
    ]
}

#[test]
fn no_prediction_beats_the_datasheet() {
    let table = ArchitectureTable::builtin();
    let mut checked = 0;
    for arch in table.iter() {
        for precision in Precision::ALL {
            for device in devices() {
                let Some(m) = model(arch, precision, device, FITTED) else {
                    continue;
                };
                // Decode of one token reads every weight of the non-expert
                // part at least once: at most the peak bandwidth.
                let bytes = m.weight_memory()
                    * if arch.is_moe() {
                        arch.active_params_b / arch.total_params_b
                    } else {
                        1.0
                    };
                let floor = bytes / device.peak_bandwidth();
                let t = m.step_time(&decode(1, 128), 1);
                assert!(
                    t >= floor * 0.999,
                    "{} {precision} on {device}: {t} < {floor}",
                    arch.model_id
                );
                // Prefill cannot beat the peak of its math.
                let tokens = 4096;
                let flops = 2.0 * arch.active_params_b * 1e9 * f64::from(tokens) * 0.9;
                let peak = match precision {
                    Precision::Int8 => device.peak_8bit(),
                    _ => device.peak_16bit(),
                };
                let t = m.step_time(&prefill(tokens), 1);
                assert!(
                    t >= flops / peak,
                    "{} {precision} prefill on {device}",
                    arch.model_id
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked}");
}

#[test]
fn time_grows_with_batch_and_context_and_throughput_with_batch() {
    let table = ArchitectureTable::builtin();
    for id in [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Qwen/Qwen3-30B-Instruct",
        "google/gemma-3-27B",
    ] {
        let arch = table.get(id).unwrap();
        let m = model(
            arch,
            Precision::Int8,
            Device::whole(GpuKind::Mi300x),
            FITTED,
        )
        .unwrap();
        let mut last = (0.0, 0.0);
        for batch in [1, 2, 4, 8, 16, 32, 64, 128, 256] {
            let t = m.step_time(&decode(batch, 2048), 1);
            let throughput = f64::from(batch) / t;
            assert!(t > last.0, "{id}: step time at batch {batch}");
            assert!(throughput >= last.1, "{id}: throughput at batch {batch}");
            last = (t, throughput);
        }
        let mut previous = 0.0;
        for context in [128, 1024, 4096, 16384] {
            let t = m.step_time(&decode(32, context), 1);
            assert!(t > previous, "{id}: context {context}");
            previous = t;
        }
    }
}

#[test]
fn fewer_bytes_decode_faster_but_int4_prefill_is_no_faster_than_fp16() {
    let table = ArchitectureTable::builtin();
    for arch in table.iter() {
        let device = Device::whole(GpuKind::Mi355x);
        let (Some(fp16), Some(int8), Some(int4)) = (
            model(arch, Precision::Fp16, device, FITTED),
            model(arch, Precision::Int8, device, FITTED),
            model(arch, Precision::Int4, device, FITTED),
        ) else {
            continue;
        };
        let t = |m: &ReplicaModel| m.step_time(&decode(1, 512), 1);
        assert!(
            t(&int4) < t(&int8) && t(&int8) < t(&fp16),
            "{}",
            arch.model_id
        );
        // Large prefill: compute-bound at 16-bit math either way.
        let p = |m: &ReplicaModel| m.step_time(&prefill(65_536), 1);
        assert!(
            p(&int4) >= p(&fp16) * 0.98,
            "{}: int4 prefill",
            arch.model_id
        );
    }
}

#[test]
fn a_cpx_partition_decodes_slower_by_its_bandwidth_share() {
    let table = ArchitectureTable::builtin();
    let arch = table.get("meta-llama/Llama-3.1-8B-Instruct").unwrap();
    let layout = "CPX/NPS4"
        .parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap();
    let cpx = Device::of_layout(&layout, 0);
    let whole = Device::whole(GpuKind::Mi300x);
    let bare = |d| {
        model(arch, Precision::Int4, d, BARE)
            .unwrap()
            .step_time(&decode(1, 256), 1)
    };
    // The bare roofline: an eighth of the bandwidth, a little back for NPS4 locality.
    let ratio = bare(cpx) / bare(whole);
    assert!((6.5..=8.0).contains(&ratio), "{ratio}");
    // With the fixed costs, which a partition does not divide, still slower.
    let fitted = |d| {
        model(arch, Precision::Int4, d, FITTED)
            .unwrap()
            .step_time(&decode(1, 256), 1)
    };
    assert!(fitted(cpx) > 2.0 * fitted(whole));
}

#[test]
fn busy_software_partitions_share_the_device_bandwidth() {
    let table = ArchitectureTable::builtin();
    let arch = table.get("Qwen/Qwen3-8B-Instruct").unwrap();
    let layout = "20,20,20,20,20,20,20,20"
        .parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap();
    let soft = Device::of_layout(&layout, 3);
    let m = model(arch, Precision::Int8, soft, BARE).unwrap();
    let alone = m.step_time(&decode(4, 1024), 1);
    let crowded = m.step_time(&decode(4, 1024), 8);
    // Eight busy replicas each get an eighth: together no more than the
    // whole device's bandwidth.
    assert!((crowded / alone - 8.0).abs() < 1e-9, "{}", crowded / alone);
    let whole = model(arch, Precision::Int8, Device::whole(GpuKind::Mi300x), BARE).unwrap();
    let bytes_per_step = whole.weight_memory();
    let bandwidth_used_by_eight = 8.0 * bytes_per_step / crowded;
    assert!(bandwidth_used_by_eight <= Device::whole(GpuKind::Mi300x).peak_bandwidth());
}

#[test]
fn a_replica_that_cannot_hold_its_weights_is_refused() {
    let table = ArchitectureTable::builtin();
    let arch = table.get("deepseek-ai/DeepSeek-V3").unwrap();
    let err = ReplicaModel::new(&ReplicaSpec {
        arch,
        precision: Precision::Fp16,
        kv_cache: KvCache::Bits16,
        device: Device::whole(GpuKind::Mi300x),
        tp: 4,
        limits: EngineLimits::default(),
        efficiency: FITTED,
    })
    .expect_err("671 B parameters at 2 bytes do not fit four MI300X")
    .to_string();
    assert!(err.contains("no room for a key/value cache"), "{err}");
}

#[test]
fn calibration_points_are_met_within_the_stated_errors() {
    let comparisons = calibration::evaluate(FITTED);
    // Validation points documented in PERFORMANCE_MODEL.md section 7 as
    // missing the 25% target.
    let known_misses = ["azure405-2048-2048", "oracle405-b128", "oracle405-b256"];
    let mut fit = 0;
    for c in &comparisons {
        let error = c.error().abs();
        match c.measurement.role {
            Role::Fit => {
                fit += 1;
                assert!(
                    error <= 0.10,
                    "{}: {:+.1}%",
                    c.measurement.id,
                    c.error() * 100.0
                );
            }
            Role::Validate if known_misses.contains(&c.measurement.id.as_str()) => {
                assert!(
                    error > 0.25 && error <= 0.40,
                    "{}: {:+.1}% (update the documentation)",
                    c.measurement.id,
                    c.error() * 100.0
                );
            }
            Role::Validate => {
                assert!(
                    error <= 0.25,
                    "{}: {:+.1}%",
                    c.measurement.id,
                    c.error() * 100.0
                );
            }
        }
    }
    assert!(
        fit >= 15 && comparisons.len() >= 70,
        "{fit} / {}",
        comparisons.len()
    );
}

#[test]
fn the_shipped_constants_are_the_fit_and_the_document_shows_their_table() {
    let (fitted, _) = calibration::fit();
    for (name, a, b) in [
        ("kv_bandwidth", fitted.kv_bandwidth, FITTED.kv_bandwidth),
        (
            "layer_overhead",
            fitted.layer_overhead,
            FITTED.layer_overhead,
        ),
        (
            "sequence_overhead",
            fitted.sequence_overhead,
            FITTED.sequence_overhead,
        ),
    ] {
        assert!((a / b - 1.0).abs() < 1e-6, "{name}: refit {a}, shipped {b}");
    }
    let document = include_str!("../../PERFORMANCE_MODEL.md");
    for row in [
        format!(
            "| KV-cache bandwidth fraction | {:.3} |",
            FITTED.kv_bandwidth
        ),
        format!(
            "| per-layer cost | {:.1} us per layer",
            FITTED.layer_overhead * 1e6
        ),
        format!(
            "| per-sequence cost | {:.1} us per sequence",
            FITTED.sequence_overhead * 1e6
        ),
    ] {
        assert!(
            document.contains(&row),
            "PERFORMANCE_MODEL.md section 4 lacks `{row}`"
        );
    }
    let table = calibration::report(&calibration::evaluate(FITTED));
    assert!(
        document.contains(&table),
        "PERFORMANCE_MODEL.md section 8 differs from `aimsim perf --calibration`; regenerate it"
    );
}

#[test]
fn a_batch_runs_its_prefill_then_its_decode() {
    let table = ArchitectureTable::builtin();
    let arch = table.get("meta-llama/Llama-3.1-8B-Instruct").unwrap();
    let m = model(
        arch,
        Precision::Fp16,
        Device::whole(GpuKind::Mi300x),
        FITTED,
    )
    .unwrap();
    let one = batch_latency(&m, 8, 512, 256, 1);
    assert!((one.e2e_s - (one.ttft_s + 255.0 * one.tpot_s)).abs() < 1e-9);
    assert!((one.tokens_per_s - 8.0 * 256.0 / one.e2e_s).abs() < 1e-9);
    // Twice the prompt: more prefill; the decode grows only with context.
    let longer = batch_latency(&m, 8, 1024, 256, 1);
    assert!(longer.ttft_s > one.ttft_s * 1.5 && longer.tpot_s > one.tpot_s);
}
