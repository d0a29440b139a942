//! Mixed plans: per model a configuration, partition modes mixed in one
//! fleet. The answer is never costlier than a one-layout, one-precision
//! cell, each model's replica count is tight, the answer replays exactly,
//! the command writes a scenario and deployment settings that reproduce it,
//! and a plan no fleet can meet exits non-zero.

use std::fs;

use aimsim::capacity::evaluate::evaluate_fleet;
use aimsim::capacity::mixed::compose::mode_gpus;
use aimsim::capacity::mixed::{plan_mixed, MixedSpace, Needed};
use aimsim::capacity::{per_model, plan, Cell, RatedTraffic, Verdict};
use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::profile::{ArchitectureTable, Catalog, Precision};
use aimsim::serve::{EngineKnobs, ServingPolicy};

use crate::serving_plans::{chat_slo, context, traffic, LARGE, SMALL};
use crate::support::{aimsim, csv_records};

fn layouts() -> Vec<LayoutSpec> {
    ["SPX", "DPX/NPS2", "QPX"]
        .iter()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn a_mixed_plan_costs_no_more_than_any_one_layout_cell_and_each_count_is_tight() {
    let catalog = Catalog::builtin();
    let architectures = ArchitectureTable::builtin();
    let context = context(&catalog, &architectures, chat_slo());
    let recorded = traffic(&[(SMALL, 12.0), (LARGE, 3.0)], 120);
    let models = [SMALL.to_string(), LARGE.to_string()];
    let precisions = [Precision::Fp16, Precision::Int8, Precision::Int4];
    let space = MixedSpace {
        kinds: vec![(GpuKind::Mi300x, 1.0)],
        layouts: layouts(),
        precisions: precisions.to_vec(),
        knobs: vec![
            EngineKnobs::default(),
            EngineKnobs {
                max_seqs: Some(64),
                max_batched_tokens: None,
            },
        ],
    };
    let split = per_model(&recorded);
    let mixed = plan_mixed(&context, &space, &models, &recorded, &split, |_, _| {});
    assert_eq!(mixed.verdict, Verdict::Met, "{:?}", mixed.verdict);
    let answer = mixed.answer().unwrap();
    assert!(answer.evaluation.met());
    let gpus = answer.composition.total_gpus();
    assert_eq!(answer.evaluation.gpus, gpus);
    // Bounds below the answer, in order.
    let bound = mixed.composition_optimum.as_ref().unwrap().total_gpus();
    assert!(mixed.throughput_bound <= bound && bound <= gpus);

    // Every homogeneous cell of the same space needs at least as many.
    let cells: Vec<Cell> = layouts()
        .into_iter()
        .flat_map(|layout| {
            precisions.iter().map(move |&precision| Cell {
                kind: GpuKind::Mi300x,
                layout: layout.clone(),
                precision,
                policy: ServingPolicy::LoadAware,
                traffic: 0,
            })
        })
        .collect();
    let rated = [RatedTraffic {
        rate_scale: 1.0,
        recorded: recorded.clone(),
    }];
    let cells = plan(&context, &cells, &rated, |_| {}).unwrap();
    let fewest = cells
        .iter()
        .filter_map(|c| c.answer.as_ref().map(|a| a.gpus))
        .min()
        .unwrap();
    assert!(
        gpus <= fewest,
        "mixed {gpus} GPUs, a one-layout cell {fewest}"
    );

    // Each model's chosen count is at least what its traffic needs alone,
    // and that need is tight: it meets alone, one replica fewer misses.
    for (m, s) in mixed.models.iter().enumerate() {
        let choice = answer.composition.choices[m];
        let Needed::Replicas(n, _) = s.needed[choice.viable] else {
            panic!("the chosen configuration was searched");
        };
        assert!(choice.replicas >= n);
        let config = s.viable[choice.viable].config;
        let mode = &mixed.modes[config.mode];
        // Whether `k` replicas alone meet the SLO; a run that gives up as
        // soon as the SLO is certainly missed says the same.
        let alone = |k: u32| {
            let host = s.viable[choice.viable].host;
            let gpus = mode_gpus(mode, &context.node, host, &[(config.tp, k)]).unwrap();
            let run = |give_up: bool| {
                evaluate_fleet(
                    &context,
                    &mode.fleet(&context, gpus),
                    &[(0, config.deployment(&context, &s.model, k))],
                    std::slice::from_ref(&s.model),
                    ServingPolicy::LoadAware,
                    &split[m],
                    give_up,
                )
                .unwrap()
                .met()
            };
            let full = run(false);
            assert_eq!(full, run(true), "{} x {k}: giving up early", s.model);
            full
        };
        assert!(alone(n), "{} x {n} alone", s.model);
        if n > 1 {
            assert!(!alone(n - 1), "{} x {} alone", s.model, n - 1);
        }
        // Pruned configurations say why.
        assert!(s.pruned.iter().all(|p| !p.reason.is_empty()));
    }
    // The same plan again gives the same answer (the composition, the
    // pins and every figure).
    let again = plan_mixed(&context, &space, &models, &recorded, &split, |_, _| {});
    let second = again.answer().unwrap();
    assert_eq!(second.composition, answer.composition);
    assert_eq!(second.evaluation, answer.evaluation);
}

/// A small two-model serving scenario with a `[plan]`, SLO as given.
fn scenario(ttft: &str) -> String {
    format!(
        r#"name = "mixed-test"
[run]
seed = 3
horizon = "2m"
warmup = "15s"

[traffic]
source = "synthetic"

[[traffic.streams]]
model = "{SMALL}"
rate = 12.0
prompt = {{ distribution = "lognormal", median = 800, sigma = 0.8, max = 4096 }}
output = {{ distribution = "lognormal", median = 150, sigma = 0.7, max = 1024 }}

[[traffic.streams]]
model = "{LARGE}"
rate = 3.0
prompt = {{ distribution = "lognormal", median = 800, sigma = 0.8, max = 4096 }}
output = {{ distribution = "lognormal", median = 150, sigma = 0.7, max = 1024 }}

[slo]
ttft = "{ttft}"
tpot = "60ms"
percentile = 0.95

[plan]
layouts = ["SPX", "DPX/NPS2", "QPX"]
precisions = ["int8", "int4"]
max_gpus = 32

[prices]
MI300X = 2.0
"#
    )
}

#[test]
fn the_command_writes_an_answer_that_serve_replays_and_the_settings_to_deploy_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.toml");
    fs::write(&file, scenario("1s")).unwrap();
    let out = |threads: &str| {
        let out = dir.path().join(format!("plan-{threads}"));
        aimsim(&[
            "plan",
            file.to_str().unwrap(),
            "--threads",
            threads,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
        out
    };
    let (one, two) = (out("1"), out("2"));
    // The same bytes at any thread count.
    for name in ["mixed.csv", "configs.csv", "compositions.csv", "summary.md"] {
        assert_eq!(
            fs::read(one.join(name)).unwrap(),
            fs::read(two.join(name)).unwrap(),
            "{name}"
        );
    }
    // A row for each model at its own precision, then one per precision
    // every model is held to; holding them can only cost more.
    let mixed = csv_records(&fs::read_to_string(one.join("mixed.csv")).unwrap());
    let rules: Vec<&str> = mixed.iter().map(|r| r["precision"].as_str()).collect();
    assert_eq!(rules, ["per-model", "int8", "int4"]);
    let row = &mixed[0];
    let bound = |r: &std::collections::BTreeMap<String, String>| {
        r["composition_optimum_gpus"].parse::<u32>().unwrap()
    };
    assert!(mixed[1..].iter().all(|held| bound(held) >= bound(row)));
    assert_eq!(row["verdict"], "met");
    let gpus: u32 = row["gpus"].parse().unwrap();
    let fewest: u32 = row["fewest_homogeneous_gpus"].parse().unwrap();
    assert!(gpus <= fewest);
    // Every configuration has a status, and the chosen ones are viable.
    let configs = csv_records(&fs::read_to_string(one.join("configs.csv")).unwrap());
    assert!(configs.iter().any(|c| c["status"] == "pruned"));
    let chosen: Vec<_> = configs.iter().filter(|c| c["chosen"] == "true").collect();
    assert_eq!(chosen.len(), 2);
    assert!(chosen.iter().all(|c| c["status"] == "viable"));

    // `serve` of the answer gives the plan's figures.
    let served = dir.path().join("served");
    aimsim(&[
        "serve",
        one.join("answer-mixed-x1.toml").to_str().unwrap(),
        "--out",
        served.to_str().unwrap(),
    ])
    .expect_code(0);
    let summary = csv_records(&fs::read_to_string(served.join("summary.csv")).unwrap());
    let value = |key: &str| {
        summary
            .iter()
            .find(|r| r["metric"] == key)
            .map(|r| r["value"].clone())
            .unwrap()
    };
    assert_eq!(value("slo_attainment"), row["attainment"]);
    let per_gpu = csv_records(&fs::read_to_string(served.join("gpus.csv")).unwrap());
    assert_eq!(per_gpu.len() as u32, gpus);

    // The deployment settings: one entry per replica, on distinct
    // partitions, with the engine arguments of its configuration.
    let settings: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(one.join("deployment-mixed-x1.json")).unwrap())
            .unwrap();
    assert_eq!(settings["gpus"].as_u64(), Some(u64::from(gpus)));
    let replicas = settings["replicas"].as_array().unwrap();
    let wanted: usize = chosen
        .iter()
        .map(|c| c["replicas_needed"].parse::<usize>().unwrap())
        .sum();
    assert!(replicas.len() >= wanted);
    let mut partitions = std::collections::BTreeSet::new();
    for r in replicas {
        let tp = r["vllm"]["tensor-parallel-size"].as_u64().unwrap();
        let at = r["partitions"].as_array().unwrap();
        assert_eq!(at.len() as u64, tp);
        for p in at {
            assert!(partitions.insert(p.as_str().unwrap().to_string()));
        }
        let quantization = r["vllm"]["quantization"].as_str();
        match r["precision"].as_str().unwrap() {
            "int8" => assert_eq!(quantization, Some("fp8")),
            "int4" => assert_eq!(quantization, Some("gptq")),
            other => panic!("precision {other} was not planned"),
        }
    }
}

#[test]
fn a_plan_no_fleet_can_meet_exits_non_zero_with_why_and_still_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.toml");
    fs::write(&file, scenario("5ms")).unwrap();
    let out = dir.path().join("plan");
    let run = aimsim(&[
        "plan",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(
        run.stderr.contains("no fleet meets the SLO at"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("even alone on an idle replica"),
        "{}",
        run.stderr
    );
    assert!(out.join("summary.md").exists());
    assert!(!out.join("answer-mixed-x1.toml").exists());
}

#[test]
fn plan_mixed_false_plans_the_one_layout_cells_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.toml");
    fs::write(
        &file,
        scenario("1s").replace("max_gpus = 32", "max_gpus = 32\nmixed = false"),
    )
    .unwrap();
    let out = dir.path().join("plan");
    aimsim(&[
        "plan",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(out.join("plan.csv").exists());
    assert!(!out.join("mixed.csv").exists());
}

#[test]
fn a_deployment_takes_a_tensor_parallel_degree_and_refuses_one_a_node_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tp.toml");
    let text = |tp: u32, extra: &str| {
        format!(
            r#"name = "tp"
[run]
seed = 1
horizon = "30s"
[[fleet.gpus]]
kind = "MI300X"
count = 2
layout = "SPX"
[[deployments]]
model = "{LARGE}"
precision = "fp16"
replicas = 1
tp = {tp}
{extra}
[traffic]
source = "synthetic"
[[traffic.streams]]
model = "{LARGE}"
rate = 1.0
prompt = {{ distribution = "fixed", tokens = 500 }}
output = {{ distribution = "fixed", tokens = 50 }}
"#
        )
    };
    fs::write(&file, text(3, "")).unwrap();
    let refused = aimsim(&["serve", file.to_str().unwrap()]).expect_code(1);
    assert!(
        !refused.stderr.contains("--tp"),
        "serve has no --tp flag to suggest: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("deployments[0].tp"),
        "{}",
        refused.stderr
    );
    fs::write(&file, text(2, "max_seqs = 64")).unwrap();
    let out = dir.path().join("served");
    aimsim(&[
        "serve",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    // One replica over both GPUs.
    let gpus = csv_records(&fs::read_to_string(out.join("gpus.csv")).unwrap());
    assert_eq!(gpus.len(), 2);
    assert!(gpus.iter().all(|g| g["replicas"] == "1"), "{gpus:?}");
}
