//! Conventions of the command line a new user relies on: inputs that are
//! bounded or refused clearly, messages that say what rule applied, output
//! that pipes, JSON with numbers, shell completions and a man page.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{aimsim, aimsim_in, Run};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Writes `text` to `dir/name` and returns the path.
fn write_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `aimsim simulate SCENARIO --trace TRACE --out OUT`.
fn simulate_trace(scenario: &str, trace: &Path, out: &Path) -> Run {
    aimsim(&[
        "simulate",
        scenario,
        "--trace",
        trace.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Runs `aimsim ARGS` with `input` on stdin.
fn aimsim_with_stdin(args: &[&str], input: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The process may refuse before reading: a closed pipe is fine here.
    let _ = child.stdin.take().unwrap().write_all(input);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_trace_from_a_pipe_is_refused_before_it_is_half_read() {
    let root = tempfile::tempdir().unwrap();
    let trace = std::fs::read(fixture("openb_pods_small.csv")).unwrap();
    let (code, stderr) = aimsim_with_stdin(
        &[
            "simulate",
            "scenarios/openb-replay.toml",
            "--trace",
            "/dev/stdin",
            "--out",
            root.path().join("out").to_str().unwrap(),
        ],
        &trace,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("/dev/stdin: not a regular file")
            && stderr.contains("save it to a file first"),
        "{stderr}"
    );
    assert!(!root.path().join("out").exists());
}

#[test]
fn a_line_without_end_is_refused_at_a_mebibyte() {
    let root = tempfile::tempdir().unwrap();
    let trace = root.path().join("zeros.csv");
    let mut text = b"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n".to_vec();
    text.extend(std::iter::repeat_n(b'0', 3 << 20));
    std::fs::write(&trace, text).unwrap();
    let run = simulate_trace(
        "scenarios/openb-replay.toml",
        &trace,
        &root.path().join("out"),
    )
    .expect_code(1);
    assert!(
        run.stderr.contains("line 2 is longer than 1 MiB"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_time_too_late_is_not_called_negative() {
    let root = tempfile::tempdir().unwrap();
    let trace = write_file(root.path(), "late.csv", "arrival,model,precision\n0,meta-llama/Llama-3.1-8B-Instruct,fp16\n1e308,meta-llama/Llama-3.1-8B-Instruct,fp16\n");
    let scenario = write_file(root.path(), "t.toml", "[run]\nseed = 1\n[fleet]\npolicy = \"aim\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1\nlayout = \"SPX\"\n[workload]\nsource = \"trace\"\n");
    let run =
        simulate_trace(scenario.to_str().unwrap(), &trace, &root.path().join("out")).expect_code(1);
    assert!(
        run.stderr.contains("line 3")
            && run
                .stderr
                .contains("`1e308` is later than the longest time"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_fill_experiment_takes_trace_variants_without_time_or_order() {
    let root = tempfile::tempdir().unwrap();
    // Like the trace's multigpu* variants: no time columns.
    let untimed = write_file(root.path(), "multigpu.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,500\np1,1000,1024,2,1000\np2,1000,1024,0,0\np3,1000,1024,1,250\n");
    // Like the gpushare* variants: not in creation order.
    let unordered = write_file(
        root.path(),
        "gpushare.csv",
        "name,num_gpu,gpu_milli,creation_time,deletion_time\np0,1,500,100,200\np1,1,250,50,300\n",
    );
    for trace in [&untimed, &unordered] {
        let out = root.path().join(trace.file_stem().unwrap());
        simulate_trace("scenarios/openb-fill.toml", trace, &out).expect_code(0);
        assert!(out.join("fill.csv").is_file());
    }
    // A replay over time needs them, and says the fill experiment does not.
    let run = simulate_trace(
        "scenarios/openb-replay.toml",
        &untimed,
        &root.path().join("out"),
    )
    .expect_code(1);
    assert!(
        run.stderr.contains("missing column `creation_time`")
            && run.stderr.contains("fill experiment"),
        "{}",
        run.stderr
    );
    let run = simulate_trace(
        "scenarios/openb-replay.toml",
        &unordered,
        &root.path().join("out"),
    )
    .expect_code(1);
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("creation order"),
        "{}",
        run.stderr
    );
}

#[test]
fn place_names_the_runtime_rule_counts_replicas_and_lists_models_in_table_order() {
    let run = aimsim(&[
        "place",
        "--partitions",
        "40",
        "Qwen/Qwen3-14B-Instruct",
        "Qwen/Qwen2.5-1.5B-Instruct:int4",
    ])
    .expect_code(1);
    assert!(
        run.stdout
            .contains("no partition has the 8 GiB free the policy requires before it takes 2 GiB"),
        "{}",
        run.stdout
    );
    // Under a policy without that rule, the same request fits.
    aimsim(&[
        "place",
        "--partitions",
        "40",
        "--policy",
        "best-fit",
        "Qwen/Qwen3-14B-Instruct",
        "Qwen/Qwen2.5-1.5B-Instruct:int4",
    ])
    .expect_code(0);

    let run = aimsim(&[
        "place",
        "--gpus",
        "8",
        "--format",
        "json",
        "meta-llama/Llama-3.3-70B-Instruct:int4*5",
        "meta-llama/Llama-3.1-8B-Instruct:int4*7",
    ])
    .expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["requested"], 12);
    assert_eq!(report["placed"], 12);
    let bad = aimsim(&["place", "meta-llama/Llama-3.1-8B-Instruct*0"]).expect_code(2);
    assert!(bad.stderr.contains("count `0`"), "{}", bad.stderr);

    let run = aimsim(&["place", "--all-models", "--gpus", "64", "--format", "csv"]).expect_code(0);
    let models: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    let sizing = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/aim_profiles/sizing.csv"
    ))
    .unwrap();
    let table_order: Vec<&str> = sizing
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(models, table_order);
}

#[test]
fn simulate_json_has_numbers() {
    let root = tempfile::tempdir().unwrap();
    let run = aimsim(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--format",
        "json",
        "--out",
        root.path().join("out").to_str().unwrap(),
    ])
    .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        doc["metrics"]["fit_rate"].is_f64(),
        "{}",
        doc["metrics"]["fit_rate"]
    );
    assert!(
        doc["metrics"]["placed"].is_u64(),
        "{}",
        doc["metrics"]["placed"]
    );
    assert!(doc["metrics"]["policy"].is_string());
    assert!(doc["classes"][0]["fit_rate"].is_number());
}

#[test]
fn completions_and_a_man_page_come_from_the_command_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let run = aimsim(&["completions", shell]).expect_code(0);
        assert!(
            run.stdout.contains("simulate") && run.stdout.contains("format"),
            "{shell}"
        );
    }
    let man = aimsim(&["man"]).expect_code(0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH aimsim"),
        "{}",
        &man.stdout[..200]
    );
    // Every page aimsim(1) refers to exists, and plan's describes both
    // kinds of plan.
    let refs: Vec<&str> = man
        .stdout
        .split("aimsim\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name))
        .collect();
    assert!(refs.len() >= 10, "{refs:?}");
    for name in refs {
        let page = aimsim(&["man", name]).expect_code(0);
        assert!(
            page.stdout.contains(&format!(".TH aimsim-{name} 1")),
            "{name}: {}",
            &page.stdout[..200]
        );
    }
    let plan = aimsim(&["man", "plan"]).expect_code(0).stdout;
    assert!(
        plan.contains("serving scenario") && plan.contains("fit rate"),
        "{plan}"
    );
    let help = aimsim(&["plan", "--help"]).expect_code(0).stdout;
    assert!(
        help.contains("[slo]") && help.contains("mixed fleet"),
        "{help}"
    );
    aimsim(&["man", "nope"]).expect_code(2);
    let help = aimsim(&["simulate", "--help"]).expect_code(0);
    assert!(
        help.stdout
            .contains("Examples:\n  aimsim simulate scenarios/quickstart.toml"),
        "{}",
        help.stdout
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args(["profiles", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn every_error_is_one_line_even_from_a_toml_parser() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("m.toml"), "name=\"x\"\n[fleet\n").unwrap();
    let run = aimsim_in(Some(root.path()), &["simulate", "m.toml"]).expect_code(1);
    assert_eq!(
        run.stderr,
        "error: m.toml: line 2, column 7: invalid table header; expected `.`, `]`\n"
    );
}

#[test]
fn a_profile_too_small_for_its_weights_is_named_once_per_run() {
    let run = aimsim(&[
        "place",
        "--gpus",
        "2",
        "deepseek-ai/DeepSeek-R1-0528",
        "deepseek-ai/DeepSeek-R1-0528",
        "meta-llama/Llama-3.1-8B-Instruct",
    ])
    .expect_code(0);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains(
            "deepseek-ai/DeepSeek-R1-0528 at fp16: 20 GB holds fewer bytes than 671.0B parameters"
        ),
        "{}",
        warnings[0]
    );
    // Several: one line that lists them.
    let run = aimsim(&[
        "place",
        "--gpus",
        "2",
        "deepseek-ai/DeepSeek-R1-0528",
        "deepseek-ai/DeepSeek-R1-0528:int4",
        "mistralai/Mistral-Large",
    ])
    .expect_code(0);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].starts_with("warning: 3 profiles this run used cannot hold their model's weights: deepseek-ai/DeepSeek-R1-0528 (fp16, int4), mistralai/Mistral-Large (fp16)"),
        "{}",
        warnings[0]
    );
}
