//! Exact counts of deployments, all at once: a static set in a scenario, a
//! precision override for it and for traces, and the bin-packing bounds a
//! plan shows for any workload whose requests never leave.

use std::fs;
use std::path::Path;

use crate::support::{aimsim, csv_records, static_plan};

fn metric(stdout: &str, name: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no metric {name} in\n{stdout}"))
        .trim()
        .parse()
        .unwrap()
}

fn simulate(args: &[&str], out: &Path) -> String {
    let mut all = vec!["simulate"];
    all.extend(args);
    all.extend(["--out", out.to_str().unwrap()]);
    aimsim(&all).expect_code(0).stdout
}

#[test]
fn a_static_set_places_its_counts_and_int4_needs_fewer_gpus() {
    let dir = tempfile::tempdir().unwrap();
    let fp16 = simulate(&["scenarios/static-set.toml"], &dir.path().join("fp16"));
    assert_eq!(metric(&fp16, "arrivals"), 600.0);
    assert_eq!(metric(&fp16, "placed"), 600.0);
    assert_eq!(metric(&fp16, "departures"), 0.0);
    let int4 = simulate(
        &[
            "scenarios/static-set.toml",
            "--set",
            "workload.precision=\"int4\"",
        ],
        &dir.path().join("int4"),
    );
    assert_eq!(metric(&int4, "fit_rate_int4"), 1.0);
    assert!(metric(&int4, "gpus_busy_peak") < metric(&fp16, "gpus_busy_peak"));
    // The per-model report has the counts asked for.
    let by_model = fs::read_to_string(dir.path().join("int4/fit_by_model.csv")).unwrap();
    assert!(
        by_model.contains("meta-llama/Llama-3.3-70B-Instruct,200,200,"),
        "{by_model}"
    );
    assert!(
        by_model.contains("meta-llama/Llama-3.1-8B-Instruct,400,400,"),
        "{by_model}"
    );
}

#[test]
fn a_plan_of_a_static_set_answers_per_precision_above_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan");
    aimsim(&[
        "plan",
        "scenarios/static-set.toml",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let plan = fs::read_to_string(out.join("plan.csv")).unwrap();
    let mut spx = Vec::new();
    for r in csv_records(&plan) {
        let l2: f64 = r["l2_bound"].parse().unwrap();
        if let Ok(needed) = r["gpus_needed"].parse::<f64>() {
            assert!(l2 <= needed, "bound {l2} above the answer {needed}");
        }
        if r["layout"] == "SPX/NPS1" && r["policy"] == "best-fit" {
            spx.push(r["gpus_needed"].parse::<u32>().unwrap());
        }
    }
    // FP16, INT8, INT4 in that order: fewer bytes, fewer GPUs.
    assert_eq!(spx.len(), 3);
    assert!(spx[0] > spx[1] && spx[1] > spx[2], "{spx:?}");
}

#[test]
fn a_trace_takes_a_precision_override_and_a_static_trace_gets_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("static.csv");
    let mut text = String::from("arrival,model,precision\n");
    for i in 0..40 {
        let model = if i % 4 == 0 {
            "meta-llama/Llama-3.3-70B-Instruct"
        } else {
            "Qwen/Qwen3-14B-Instruct"
        };
        text.push_str(&format!("{},{model},fp16\n", i * 10));
    }
    fs::write(&trace, text).unwrap();
    let scenario = dir.path().join("t.toml");
    fs::write(
        &scenario,
        "[run]\nseed = 1\n[fleet]\npolicy = \"best-fit\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 64\nlayout = \"SPX\"\n[workload]\nsource = \"trace\"\n[sweep]\nmixes = [{ fp16 = 1.0 }, { int4 = 1.0 }]\ntarget_fit = 1.0\n",
    )
    .unwrap();
    let scenario = scenario.to_str().unwrap();
    let trace = trace.to_str().unwrap();
    let as_is = simulate(&[scenario, "--trace", trace], &dir.path().join("a"));
    assert_eq!(metric(&as_is, "fit_rate_fp16"), 1.0);
    let int4 = simulate(
        &[
            scenario,
            "--trace",
            trace,
            "--set",
            "workload.precision=\"int4\"",
        ],
        &dir.path().join("b"),
    );
    assert_eq!(metric(&int4, "fit_rate_int4"), 1.0);
    assert!(metric(&int4, "used_gib_peak") < metric(&as_is, "used_gib_peak"));

    let plan = static_plan(&[scenario, "--trace", trace], &dir.path().join("plan"));
    for r in plan {
        let bound = &r["l1_bound"];
        assert!(bound.parse::<f64>().is_ok_and(|b| b >= 1.0), "L1 `{bound}`");
    }
}

#[test]
fn bad_static_sets_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/static-set.toml"
    ))
    .unwrap();
    let cases = [
        (
            "count = 200",
            "count = 0",
            "key `workload.deployments[0].count`: must be at least 1",
        ),
        (
            "precision = \"fp16\", count = 400",
            "precision = \"fp4\", count = 400",
            "key `workload.deployments[1].precision`",
        ),
        (
            "model = \"meta-llama/Llama-3.1-8B-Instruct\"",
            "model = \"meta-llama/Llama-3.1-8B-Instrukt\"",
            "key `workload.deployments[1].model`: unknown model",
        ),
        (
            "mixes = [{ fp16 = 1.0 }, { int8 = 1.0 }, { int4 = 1.0 }]",
            "mixes = [{ fp16 = 0.5, int4 = 0.5 }]",
            "key `sweep.mixes`: a trace or a static set takes pure mixes only",
        ),
    ];
    for (from, to, message) in cases {
        assert!(base.contains(from), "{from}");
        let path = dir.path().join("bad.toml");
        fs::write(&path, base.replacen(from, to, 1)).unwrap();
        let run = aimsim(&[
            "plan",
            path.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .expect_code(1);
        assert!(run.stderr.contains(message), "{to}: {}", run.stderr);
    }
}

#[test]
fn physical_sizes_charge_the_real_model_over_the_gpus_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("deepseek.toml");
    fs::write(
        &scenario,
        "[run]\nseed = 1\n[fleet]\npolicy = \"best-fit\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 8\nlayout = \"SPX\"\n[workload]\nsource = \"static\"\ndeployments = [{ model = \"deepseek-ai/DeepSeek-R1-0528\", precision = \"int8\", count = 1 }]\n",
    )
    .unwrap();
    let scenario = scenario.to_str().unwrap();
    // As profiled: 13 GB on one GPU (the profile cannot hold 671 B parameters).
    let profile = simulate(&[scenario], &dir.path().join("profile"));
    assert_eq!(metric(&profile, "gpus_busy_peak"), 1.0);
    // Physically: 625 GiB of INT8 weights, split over all eight GPUs.
    let physical = simulate(
        &[scenario, "--set", "workload.sizes=\"physical\""],
        &dir.path().join("physical"),
    );
    assert_eq!(metric(&physical, "gpus_busy_peak"), 8.0);
    assert!(physical.contains("physical sizes"), "{physical}");
    // With four GPUs it can never fit.
    let four = simulate(
        &[
            scenario,
            "--set",
            "workload.sizes=\"physical\"",
            "--set",
            "fleet.gpus.0.count=4",
        ],
        &dir.path().join("four"),
    );
    assert_eq!(metric(&four, "rejected_never_fits"), 1.0);
    let bad = aimsim(&[
        "simulate",
        scenario,
        "--set",
        "workload.sizes=\"real\"",
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(
        bad.stderr.contains("key `workload.sizes`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_tensor_parallel_replica_takes_its_gpus_on_one_node_with_its_host_needs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, fleet: &str| {
        let path = dir.path().join(name);
        fs::write(
            &path,
            format!("[run]\nseed = 1\n[fleet]\npolicy = \"best-fit\"\n{fleet}\n[workload]\nsource = \"static\"\nsizes = \"physical\"\ndeployments = [{{ model = \"mistralai/Mistral-Large\", precision = \"fp16\", count = 1 }}]\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let group = "[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 2\nlayout = \"SPX\"\n";
    // Mistral-Large at FP16 (229 GiB of weights) is a TP=2 gang: two GPUs
    // of one node.
    let one_node = write("one-node.toml", group);
    let placed = simulate(&[&one_node], &dir.path().join("one"));
    assert_eq!(metric(&placed, "gpus_busy_peak"), 2.0);
    assert_eq!(metric(&placed, "placed"), 1.0);
    // Its two shares hold its weights: no "cannot hold" warning (one GPU's
    // share alone would not).
    let quiet = aimsim(&[
        "simulate",
        &one_node,
        "--out",
        dir.path().join("quiet").to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(!quiet.stderr.contains("warning:"), "{}", quiet.stderr);
    // The same two GPUs as two groups are two servers: the gang cannot
    // span them, and says so.
    let one_gpu = "[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1\nlayout = \"SPX\"\n";
    let split = write("split.toml", &format!("{one_gpu}{one_gpu}"));
    let refused = simulate(&[&split], &dir.path().join("split"));
    assert_eq!(metric(&refused, "rejected_never_fits"), 1.0);
    // A node whose CPU cannot give the profile's 2 cores: never fits.
    let starved = write(
        "starved.toml",
        &format!("{group}[fleet.node]\ngpus = 2\ncpu_cores = 1.5\n"),
    );
    let starved = simulate(&[&starved], &dir.path().join("starved"));
    assert_eq!(metric(&starved, "rejected_never_fits"), 1.0);
    // A TP degree that does not divide the node is an error naming the key.
    for gpus in [1, 3] {
        let odd = write(
            &format!("odd-{gpus}.toml"),
            &format!("{group}[fleet.node]\ngpus = {gpus}\n"),
        );
        let out = dir.path().join(format!("odd-{gpus}"));
        let bad = aimsim(&["simulate", &odd, "--out", out.to_str().unwrap()]);
        assert_ne!(bad.code, 0);
        assert!(
            bad.stderr.contains("spanning 2 GPUs")
                && bad
                    .stderr
                    .contains(&format!("a node's {gpus} GPUs (fleet.node.gpus)")),
            "{}",
            bad.stderr
        );
        assert!(!out.exists(), "nothing is written for a refused scenario");
    }
    // Bad node keys name the key.
    for (table, key) in [
        ("gpus = 0", "fleet.node.gpus"),
        ("gpus = 17", "fleet.node.gpus"),
        ("cpu_cores = -1", "fleet.node.cpu_cores"),
        ("memory_gb = 0", "fleet.node.memory_gb"),
        ("sockets = 2", "sockets"),
    ] {
        let bad = write("bad.toml", &format!("{group}[fleet.node]\n{table}\n"));
        let out = aimsim(&[
            "simulate",
            &bad,
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ]);
        assert_ne!(out.code, 0);
        assert!(out.stderr.contains(key), "{table}: {}", out.stderr);
    }
}
