//! Replica memory and placement for serving: `serve` and `perf` give a
//! replica the same cache for the same memory setting; the load-aware
//! policy never leaves a device idle while another is over capacity; a
//! plan's answer, written as a scenario, replays to the same figures; a
//! pinned placement is kept or refused with its reason.

use std::path::Path;

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, LayoutSpec, NodeShape};
use aimsim::perf::{Device, FITTED};
use aimsim::profile::{ArchitectureTable, Catalog, Precision};
use aimsim::schedule::Policy;
use aimsim::serve::traffic::{Target, TargetShape, TrafficShape};
use aimsim::serve::{
    deploy, DeployInputs, DeploymentSpec, EngineConfig, ReplicaMemory, ServingPolicy,
};
use aimsim::sim::{FleetSpec, GpuGroup};

use crate::support::{aimsim, csv_records};

const LLAMA_8B: &str = "meta-llama/Llama-3.1-8B-Instruct";
const LLAMA_70B: &str = "meta-llama/Llama-3.3-70B-Instruct";

/// A one-replica serving scenario of `model` on one GPU laid out `layout`.
fn one_replica(model: &str, precision: &str, layout: &str, memory: &str) -> String {
    format!(
        r#"
[run]
seed = 1
horizon = "10s"
[[fleet.gpus]]
kind = "MI300X"
count = 1
layout = {layout}
[[deployments]]
model = "{model}"
precision = "{precision}"
replicas = 1
memory = "{memory}"
[traffic]
source = "synthetic"
[[traffic.streams]]
model = "{model}"
rate = 1.0
prompt = {{ distribution = "fixed", tokens = 100 }}
output = {{ distribution = "fixed", tokens = 10 }}
[slo]
ttft = "1s"
"#
    )
}

#[test]
fn serve_and_perf_give_a_replica_the_same_cache_for_every_memory_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (model, precision) in [(LLAMA_8B, "fp16"), (LLAMA_70B, "int8")] {
        for (layout, perf_layout) in [
            ("\"SPX\"", ["--mode", "SPX"]),
            ("\"CPX/NPS4\"", ["--mode", "CPX/NPS4"]),
            ("[96, 92]", ["--partitions", "96,92"]),
        ] {
            for memory in ["partition", "profile", "60 GiB"] {
                let path = dir.path().join("one.toml");
                std::fs::write(&path, one_replica(model, precision, layout, memory)).unwrap();
                let out = dir.path().join("out");
                let served = aimsim(&[
                    "serve",
                    path.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ]);
                let spec = format!("{model}:{precision}");
                let mut args = vec!["perf", spec.as_str(), "--memory", memory];
                args.extend(perf_layout);
                args.extend(["--format", "json"]);
                let perf = aimsim(&args);
                let case = format!("{model}:{precision} on {layout} with {memory} memory");
                let placed = served.code == 0 && !served.stderr.contains("did not fit");
                let modelled = perf.code == 0;
                if !placed && !modelled {
                    continue; // Neither can run it there: they agree.
                }
                assert!(
                    placed && modelled,
                    "{case}: serve {} / perf {}\n{}\n{}",
                    served.code,
                    perf.code,
                    served.stderr,
                    perf.stderr
                );
                let replicas =
                    csv_records(&std::fs::read_to_string(out.join("replicas.csv")).unwrap());
                let json: serde_json::Value = serde_json::from_str(&perf.stdout).unwrap();
                assert_eq!(
                    replicas[0]["kv_capacity_tokens"],
                    json["devices"][0]["kv_cache_tokens"].to_string(),
                    "{case}"
                );
                compared += 1;
            }
        }
    }
    // 8B: every case but 60 GiB on a 24 GiB CPX partition (8); 70B: SPX and
    // the 96 GiB partition with its partition or its profile (4); 60 GiB
    // cannot hold its weights. Every other case both refuse.
    assert_eq!(compared, 12, "cases run on both");
}

/// The catalogue and architectures every placement here models with.
fn inputs<'a>(
    catalog: &'a Catalog,
    architectures: &'a ArchitectureTable,
    engine: &'a EngineConfig,
) -> DeployInputs<'a> {
    DeployInputs {
        catalog,
        architectures,
        measured: None,
        engine,
        efficiency: FITTED,
    }
}

const MODELS: [(&str, Precision); 4] = [
    (LLAMA_8B, Precision::Fp16),
    (LLAMA_8B, Precision::Int4),
    ("Qwen/Qwen3-14B-Instruct", Precision::Int8),
    (LLAMA_70B, Precision::Int8),
];

const LAYOUTS: [&str; 4] = ["SPX", "DPX/NPS2", "CPX/NPS4", "96,92"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Under the load-aware policy no device holding several replicas is
    /// predicted over its capacity while a device of the same kind (same
    /// GPU kind, layout and partition) that could take one of them holds
    /// none: the policy fills every such device before stacking.
    #[test]
    fn load_aware_never_stacks_past_capacity_while_a_like_device_idles(
        groups in proptest::collection::vec((0usize..LAYOUTS.len(), 1u32..4), 1..4),
        wanted in proptest::collection::vec((0usize..MODELS.len(), 1u32..10, 0.0f64..40.0), 1..4),
        profile_memory in any::<bool>(),
    ) {
        let catalog = Catalog::builtin();
        let architectures = ArchitectureTable::builtin();
        let engine = EngineConfig {
            memory: if profile_memory { ReplicaMemory::Profile } else { ReplicaMemory::Partition },
            ..EngineConfig::default()
        };
        let fleet = FleetSpec {
            groups: groups
                .iter()
                .map(|&(l, count)| GpuGroup {
                    kind: GpuKind::Mi300x,
                    count,
                    layout: LAYOUTS[l].parse::<LayoutSpec>().unwrap(),
                })
                .collect(),
            node: NodeShape::REFERENCE,
            elastic: None,
            policy: Policy::Spread,
        };
        let mut deployments: Vec<DeploymentSpec> = Vec::new();
        let mut shape = TrafficShape::none();
        for &(m, replicas, rate) in &wanted {
            let (model, precision) = MODELS[m];
            if deployments.iter().any(|d| d.model == model && d.precision == precision) {
                continue;
            }
            deployments.push(DeploymentSpec {
                model: model.into(),
                precision,
                replicas,
                memory: None,
                pinned: Vec::new(),
            });
            shape.targets.push(Target { model: model.into(), precision: Some(precision) });
            shape.shapes.push(TargetShape { rate, prompt: 1000.0, output: 200.0 });
        }
        let deployed = deploy(
            &fleet,
            ServingPolicy::LoadAware,
            &deployments,
            &shape,
            &inputs(&catalog, &architectures, &engine),
        )
        .unwrap();
        // The device each GPU partition is, and what it is like.
        let mut like: Vec<Option<(String, u32, u64)>> = vec![None; deployed.devices as usize];
        let mut layouts = Vec::new();
        for group in &fleet.groups {
            for _ in 0..group.count {
                layouts.push(group.layout.build(group.kind).unwrap());
            }
        }
        for (gpu, devices) in deployed.device_of.iter().enumerate() {
            for (partition, &d) in devices.iter().enumerate() {
                let device = Device::of_layout(&layouts[gpu], partition);
                like[d as usize] = Some((layouts[gpu].spec().to_string(), partition as u32, device.memory.0));
            }
        }
        for r in &deployed.replicas {
            let d = r.devices[0] as usize;
            let load = deployed.device_loads[d];
            if load <= 1.0 || deployed.device_replicas[d] < 2 || r.gpus.len() > 1 {
                continue;
            }
            let idle_alike = (0..deployed.devices as usize).find(|&e| {
                deployed.device_replicas[e] == 0 && like[e] == like[d]
            });
            prop_assert!(
                idle_alike.is_none(),
                "device {d} at load {load:.2} with {} replicas while like device {:?} idles",
                deployed.device_replicas[d],
                idle_alike
            );
        }
        // Memory charged never exceeds a partition: the scheduler's books.
        for r in &deployed.replicas {
            let at = r.shards[0];
            let capacity = layouts[at.gpu as usize].partitions()[at.partition as usize];
            prop_assert!(r.memory <= capacity);
        }
    }
}

/// A plan over two models and two policies.
const PLAN: &str = r#"
name = "replayed"
[run]
seed = 3
horizon = "90s"
warmup = "15s"
[traffic]
source = "synthetic"
[[traffic.streams]]
model = "meta-llama/Llama-3.1-8B-Instruct"
rate = 14.0
prompt = { distribution = "quantiles", points = [[0.0, 100], [0.5, 800], [1.0, 3000]] }
output = { distribution = "fixed", tokens = 150 }
[[traffic.streams]]
model = "Qwen/Qwen3-14B-Instruct"
rate = 6.0
arrivals = "gamma"
cv = 2.0
prompt = { distribution = "lognormal", median = 900, sigma = 0.7, max = 6000 }
output = { distribution = "fixed", tokens = 120 }
[engine]
memory = "profile"
[slo]
ttft = "1s"
tpot = "60ms"
[plan]
layouts = ["SPX", "DPX/NPS2"]
precisions = ["int8"]
policies = ["load-aware", "best-fit"]
"#;

#[test]
fn a_plan_answer_served_from_its_scenario_gives_the_plan_figures_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("plan.toml");
    std::fs::write(&scenario, PLAN).unwrap();
    let out = dir.path().join("plan");
    aimsim(&[
        "plan",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let models = csv_records(&std::fs::read_to_string(out.join("models.csv")).unwrap());
    let plans = csv_records(&std::fs::read_to_string(out.join("plan.csv")).unwrap());
    let mut replayed = 0;
    for plan in plans.iter().filter(|p| p["verdict"] == "met") {
        let layout: String = plan["layout"]
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let file = out.join(format!(
            "answer-{}-{layout}-{}-{}-x{}.toml",
            plan["kind"], plan["precision"], plan["policy"], plan["rate_scale"]
        ));
        assert!(file.is_file(), "{} is missing", file.display());
        let served = dir.path().join("served");
        aimsim(&[
            "serve",
            file.to_str().unwrap(),
            "--out",
            served.to_str().unwrap(),
        ])
        .expect_code(0);
        let rows = csv_records(&std::fs::read_to_string(served.join("deployments.csv")).unwrap());
        for model in models.iter().filter(|m| {
            m["layout"] == plan["layout"]
                && m["policy"] == plan["policy"]
                && !m["attainment"].is_empty()
        }) {
            let row = rows
                .iter()
                .find(|r| r["deployment"] == format!("{}:{}", model["model"], plan["precision"]))
                .expect("the model is deployed");
            let case = format!("{} {}: {}", plan["layout"], plan["policy"], model["model"]);
            assert_eq!(row["attainment_all"], model["attainment"], "{case}");
            assert_eq!(row["ttft_p99_s"], model["ttft_s"], "{case}");
            assert_eq!(row["tpot_p99_s"], model["tpot_s"], "{case}");
        }
        let all = rows.iter().find(|r| r["deployment"] == "all").unwrap();
        assert_eq!(all["output_tokens_per_s"], plan["output_tokens_per_s"]);
        replayed += 1;
    }
    assert!(replayed >= 2, "only {replayed} answers to replay");
}

#[test]
fn a_pinned_placement_is_kept_and_one_that_does_not_fit_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let text = one_replica(LLAMA_8B, "fp16", "\"CPX/NPS4\"", "partition").replace(
        "memory = \"partition\"",
        "memory = \"partition\"\nplacement = [\"0.5\"]",
    );
    let path = dir.path().join("pinned.toml");
    std::fs::write(&path, &text).unwrap();
    let out = dir.path().join("out");
    aimsim(&[
        "serve",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let replicas = csv_records(&std::fs::read_to_string(out.join("replicas.csv")).unwrap());
    assert_eq!(replicas[0]["location"], "gpu 0 partition 5");
    // A 70B replica pinned to a 24 GiB CPX partition cannot be placed.
    let text = one_replica(LLAMA_70B, "int8", "\"CPX/NPS4\"", "partition").replace(
        "memory = \"partition\"",
        "memory = \"partition\"\nplacement = [\"0.1\"]",
    );
    std::fs::write(&path, &text).unwrap();
    let run = aimsim(&[
        "serve",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.stderr.contains("pinned at gpu 0 partition 1"),
        "{}",
        run.stderr
    );
    // A location past the fleet, or not GPU.PARTITION, names its key.
    for (pin, expected) in [("\"3.0\"", "names gpu 3"), ("\"zero\"", "GPU.PARTITION")] {
        let text = one_replica(LLAMA_8B, "fp16", "\"SPX\"", "partition").replace(
            "memory = \"partition\"",
            &format!("memory = \"partition\"\nplacement = [{pin}]"),
        );
        std::fs::write(&path, &text).unwrap();
        let run = aimsim(&["serve", path.to_str().unwrap()]).expect_code(1);
        assert!(
            run.stderr.contains("deployments[0].placement[0]") && run.stderr.contains(expected),
            "{}",
            run.stderr
        );
    }
    assert!(Path::new(&path).is_file());
}
