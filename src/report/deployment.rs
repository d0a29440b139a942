//! A mixed plan's answer as the settings an operator applies: the fleet's
//! GPU groups (kind, partition mode, count), and per replica its AIM
//! profile, the partitions it is pinned to and the vLLM engine arguments
//! that give it the plan's configuration (`deployment-mixed-xSCALE.json`).
//!
//! Precisions map to vLLM as the performance model runs them
//! ([`crate::perf`]): `fp16` is `--dtype float16`; `int8` is FP8 W8A8,
//! `--quantization fp8`; `int4` is 4-bit weights with a 16-bit scale per
//! group of 128 and 16-bit math, which vLLM serves from a GPTQ or AWQ
//! checkpoint (`--quantization gptq` is written; use `awq` for an AWQ one).

use serde_json::{json, Value};

use crate::capacity::mixed::{MixedPlan, MixedStep};
use crate::perf::KvCache;
use crate::profile::{Catalog, Precision};
use crate::serve::{EngineConfig, ReplicaMemory};
use crate::units::Mib;

/// vLLM's `--quantization` for `precision` (`None`: unquantised).
fn quantization(precision: Precision) -> Option<&'static str> {
    match precision {
        Precision::Fp16 => None,
        Precision::Int8 => Some("fp8"),
        Precision::Int4 => Some("gptq"),
    }
}

/// vLLM's `--gpu-memory-utilization` of a replica given `memory` in a
/// partition of `partition` whose profile asks `profile` per GPU: the
/// share of the device it takes, times the share of that its engine uses.
fn utilization(engine: &EngineConfig, memory: ReplicaMemory, profile: Mib, partition: Mib) -> f64 {
    let taken = memory.charge(profile, partition).unwrap_or(partition);
    let share = taken.0 as f64 / partition.0.max(1) as f64;
    (engine.limits_for(memory).memory_utilization * share * 1e4).round() / 1e4
}

/// The settings of `step` (a mixed plan's answer) as pretty JSON.
pub fn deployment_json(
    plan: &MixedPlan,
    step: &MixedStep,
    engine: &EngineConfig,
    catalog: &Catalog,
) -> String {
    let mut groups = Vec::new();
    let mut first = 0u32;
    for (mode, &gpus) in plan.modes.iter().zip(&step.composition.gpus) {
        if gpus == 0 {
            continue;
        }
        groups.push(json!({
            "kind": mode.kind.to_string(),
            "layout": mode.layout.to_string(),
            "gpus": gpus,
            "first_gpu": first,
        }));
        first += gpus;
    }
    let mut replicas = Vec::new();
    for (m, space) in plan.models.iter().enumerate() {
        let choice = step.composition.choices[m];
        let config = space.viable[choice.viable].config;
        let mode = &plan.modes[config.mode];
        let memory = step.evaluation.memory[m];
        let variant = catalog
            .find(&space.model, config.precision)
            .ok()
            .map(|id| catalog.variant(id));
        let profile = variant.map_or(Mib::ZERO, |v| {
            Mib((v.memory.0 * u64::from(v.gpu_count)).div_ceil(u64::from(config.tp)))
        });
        let limits = config.knobs.apply(engine.limits);
        let mut vllm = json!({
            "model": space.model,
            "tensor-parallel-size": config.tp,
            "dtype": "float16",
            "kv-cache-dtype": match engine.kv_cache {
                KvCache::Bits16 => "auto",
                KvCache::Bits8 => "fp8",
            },
            "gpu-memory-utilization": utilization(engine, memory, profile, mode.partition),
            "max-num-seqs": limits.max_seqs,
            "max-num-batched-tokens": limits.max_batched_tokens,
            "enable-chunked-prefill": engine.chunked_prefill,
        });
        if let Some(q) = quantization(config.precision) {
            vllm["quantization"] = Value::from(q);
        }
        for (r, at) in step.evaluation.placements[m].iter().enumerate() {
            replicas.push(json!({
                "model": space.model,
                "replica": r,
                "aim_profile": variant.map_or(String::new(), |v| v.profile.variant_id.clone()),
                // A tensor-parallel degree other than the profile's splits
                // its memory evenly over the GPUs.
                "aim_profile_gpu_count": variant.map_or(0, |v| v.gpu_count),
                "profile_memory_per_gpu_gib": profile.as_gib(),
                "precision": config.precision.to_string(),
                "partition_mode": mode.layout.to_string(),
                "partition_gib": mode.partition.as_gib(),
                "memory": memory.to_string(),
                "partitions": at.iter().map(|p| format!("{}.{}", p.gpu, p.partition)).collect::<Vec<_>>(),
                "vllm": vllm.clone(),
            }));
        }
    }
    let doc = json!({
        "gpus": step.composition.total_gpus(),
        "groups": groups,
        "replicas": replicas,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    text
}
