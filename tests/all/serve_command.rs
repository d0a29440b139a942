//! `aimsim serve` as a user runs it: the shipped scenario from a fresh
//! folder, identical bytes for the same seed, traces with a rate scale and
//! a model no replica serves, and refusals that name the file, the key or
//! the line.

use std::path::Path;

use serde_json::Value;

use crate::support::{aimsim, aimsim_in, csv_records, files};

const QUICKSTART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/serving-quickstart.toml"
);
const AZURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/serving-azure-conv.toml"
);

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn metric(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no `{name}` in\n{stdout}"))
        .trim()
        .to_string()
}

#[test]
fn the_quickstart_runs_from_a_fresh_folder_and_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = aimsim_in(Some(dir.path()), &["serve", QUICKSTART]).expect_code(0);
    let out = dir.path().join("reports/serving-quickstart/serving");
    let names: Vec<String> = files(&out).into_iter().map(|(n, _)| n).collect();
    for expected in [
        "summary.csv",
        "deployments.csv",
        "replicas.csv",
        "gpus.csv",
        "timeseries.csv",
        "latency_cdf.csv",
        "summary.md",
        "latency.svg",
        "over_time.svg",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    assert_eq!(metric(&run.stdout, "replicas_placed"), "10");
    let finished: u64 = metric(&run.stdout, "finished").parse().unwrap();
    assert!(finished > 1000, "{}", run.stdout);
    assert!(run.stderr.contains("report written to"), "{}", run.stderr);
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("meta-llama/Llama-3.3-70B-Instruct:int8 | 2/2"),
        "{md}"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, out: &str| {
        let out = dir.path().join(out);
        aimsim(&[
            "serve",
            QUICKSTART,
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
        files(&out)
    };
    let (a, b, c) = (run("3", "a"), run("3", "b"), run("4", "c"));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn json_numbers_are_numbers_and_percentiles_are_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let run = aimsim(&[
        "serve",
        QUICKSTART,
        "--format",
        "json",
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ])
    .expect_code(0);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let ttft = &doc["overall"]["ttft"];
    let (p50, p99) = (ttft["p50"].as_f64().unwrap(), ttft["p99"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99, "{ttft}");
    let attainment = doc["overall"]["attainment"]["all"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&attainment));
    assert_eq!(doc["deployments"].as_array().unwrap().len(), 2);
}

/// Every row of the table is in the JSON's `metrics`, with the same value
/// (a count or measure as a number, a text as a string).
#[test]
fn json_carries_every_figure_the_table_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let run = |format: &str| {
        aimsim(&[
            "serve",
            QUICKSTART,
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0)
        .stdout
    };
    let table = run("table");
    let doc: Value = serde_json::from_str(&run("json")).unwrap();
    let metrics = doc["metrics"].as_object().expect("a metrics object");
    let mut rows = 0;
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (name, value) = line.split_once(char::is_whitespace).unwrap();
        let (name, value) = (name.trim(), value.trim());
        let json = metrics
            .get(name)
            .unwrap_or_else(|| panic!("`{name}` is in the table, not in the JSON"));
        let same = match json {
            Value::String(text) => text == value,
            Value::Bool(flag) => flag.to_string() == value,
            number => {
                let a: f64 = value.parse().unwrap_or_else(|_| panic!("{name}: {value}"));
                (a - number.as_f64().unwrap()).abs() <= 1e-6 * a.abs().max(1.0)
            }
        };
        assert!(same, "{name}: table {value}, JSON {json}");
        rows += 1;
    }
    assert_eq!(rows, metrics.len(), "the JSON has rows the table lacks");
    assert!(metrics.contains_key("preemptions"));
}

#[test]
fn a_trace_replays_at_twice_its_rate_with_rate_scale() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("azure_format_small.csv");
    let end = |scale: &str| {
        let out = dir.path().join(scale);
        let run = aimsim(&[
            "serve",
            AZURE,
            "--trace",
            &trace,
            "--rate-scale",
            scale,
            "--set",
            "run.warmup=\"0s\"",
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
        let arrived: u64 = metric(&run.stdout, "arrived").parse().unwrap();
        let rate: f64 = metric(&run.stdout, "requests_per_s").parse().unwrap();
        (arrived, rate)
    };
    let (n1, r1) = end("1");
    let (n2, r2) = end("2");
    assert_eq!(n1, 1156, "every row of the fixture arrives");
    assert_eq!(n1, n2);
    assert!((r2 / r1 - 2.0).abs() < 0.15, "rate {r1} -> {r2}");
}

/// `aimsim serve AZURE` on the small trace fixture with `args`, from its
/// first arrival; its stdout.
fn serve_fixture(out: &Path, args: &[&str]) -> String {
    let trace = fixture("azure_format_small.csv");
    let mut all = vec![
        "serve",
        AZURE,
        "--trace",
        &trace,
        "--set",
        "run.warmup=\"0s\"",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    aimsim(&all).expect_code(0).stdout
}

#[test]
fn a_trace_replays_at_a_stated_rate_and_rate_scale_multiplies_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str, args: &[&str]| serve_fixture(&dir.path().join(name), args);
    // Over a horizon: rate x horizon requests arrive in it.
    for (rate, horizon, expected) in [("4", "60s", 240), ("1.5", "2m", 180)] {
        let run = at(
            rate,
            &[
                "--set",
                &format!("traffic.rate={rate}"),
                "--set",
                &format!("run.horizon=\"{horizon}\""),
                "--set",
                "run.drain=true",
            ],
        );
        let arrived: u64 = metric(&run, "arrived").parse().unwrap();
        assert_eq!(arrived, expected, "{rate} req/s over {horizon}");
        assert!(metric(&run, "traffic").contains(&format!("rescaled to {rate} requests/s")));
    }
    // Twice a stated rate is that rate doubled, to the byte.
    let doubled = at("doubled", &["--set", "traffic.rate=3", "--rate-scale", "2"]);
    let six = at("six", &["--set", "traffic.rate=6"]);
    assert_eq!(doubled, six);
    let three = at("three", &["--set", "traffic.rate=3"]);
    assert_ne!(three, six, "the rate changes the run");
}

#[test]
fn a_trace_cut_at_the_horizon_drains_only_what_arrived_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = |drain: &str| {
        serve_fixture(
            &dir.path().join(drain),
            &[
                "--set",
                "run.horizon=\"2m\"",
                "--set",
                &format!("run.drain={drain}"),
            ],
        )
    };
    let (cut, drained) = (run("false"), run("true"));
    let arrived: u64 = metric(&cut, "arrived").parse().unwrap();
    assert!(
        arrived > 100 && arrived < 1156,
        "{arrived} of the fixture's 1156 rows in 2 min"
    );
    assert_eq!(metric(&drained, "arrived"), arrived.to_string());
    assert_eq!(metric(&drained, "finished"), arrived.to_string());
}

#[test]
fn a_stated_rate_the_trace_cannot_give_is_refused_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("azure_format_small.csv");
    let out = dir.path().join("r");
    let refused = |sets: &[&str], code: i32, expected: &str| {
        let mut args = vec![
            "serve",
            AZURE,
            "--trace",
            &trace,
            "--out",
            out.to_str().unwrap(),
        ];
        for set in sets {
            args.extend(["--set", set]);
        }
        let run = aimsim(&args);
        assert_eq!(run.code, code, "{sets:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{sets:?}: {}", run.stderr);
        assert!(!out.exists(), "{sets:?} wrote a report");
    };
    refused(
        &["traffic.rate=1000", "run.horizon=\"10m\""],
        1,
        "traffic.rate: the trace holds 1156 requests",
    );
    refused(
        &["traffic.rate=2", "traffic.rate_scale=2"],
        1,
        "key `traffic.rate`: give traffic.rate",
    );
    refused(
        &["traffic.rate=-1"],
        1,
        "key `traffic.rate`: the rate must be above 0",
    );
    let synthetic = aimsim(&["serve", QUICKSTART, "--set", "traffic.rate=3"]);
    assert_eq!(synthetic.code, 1, "{}", synthetic.stderr);
    assert!(
        synthetic
            .stderr
            .contains("key `traffic.rate`: does not apply to source = \"synthetic\""),
        "{}",
        synthetic.stderr
    );
}

#[test]
fn a_trace_with_no_request_is_refused_not_judged_met() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "TIMESTAMP,ContextTokens,GeneratedTokens\n").unwrap();
    let out = dir.path().join("r");
    let run = serve_azure(&empty, &out);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("empty.csv: no request arrived in the measured window"),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "a report was written");
}

#[test]
fn an_out_folder_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for out in [mine.clone(), file.clone(), file.join("inside")] {
        let run = aimsim(&["serve", QUICKSTART, "--out", out.to_str().unwrap()]);
        assert_ne!(run.code, 0, "{}", out.display());
        assert!(
            !run.stderr.contains("simulated"),
            "{}: the run went ahead: {}",
            out.display(),
            run.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    assert!(!dir.path().join(".a-file.lock").exists());
}

/// Serves the Azure scenario on `trace` into `out`.
fn serve_azure(trace: &Path, out: &Path) -> crate::support::Run {
    aimsim(&[
        "serve",
        AZURE,
        "--trace",
        trace.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Serves the quickstart with `sets` overrides; asserts it is refused
/// with exit 1 and writes no report; its stderr.
fn quickstart_refused(sets: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut args = vec!["serve", QUICKSTART, "--out", out.to_str().unwrap()];
    for set in sets {
        args.extend(["--set", set]);
    }
    let run = aimsim(&args);
    assert_eq!(run.code, 1, "{sets:?}: {}", run.stderr);
    assert!(!out.exists(), "{sets:?} wrote a report");
    run.stderr
}

#[test]
fn a_length_file_that_cannot_be_read_is_named_with_its_key() {
    let stderr = quickstart_refused(&[
        "traffic.streams.0.output={distribution=\"empirical\", path=\"missing-lengths.csv\", column=\"GeneratedTokens\"}",
    ]);
    assert!(
        stderr.contains("missing-lengths.csv: traffic.streams[0].output: cannot open"),
        "{stderr}"
    );
}

#[test]
fn requests_for_a_model_no_replica_serves_are_reported_with_their_count() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let text = std::fs::read_to_string(QUICKSTART)
        .unwrap()
        .split("[traffic]")
        .next()
        .unwrap()
        .to_string()
        + "[traffic]\nsource = \"trace\"\n";
    std::fs::write(&scenario, text).unwrap();
    let run = aimsim(&[
        "serve",
        scenario.to_str().unwrap(),
        "--trace",
        &fixture("inference_requests.csv"),
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(
        run.stderr
            .contains("30 request(s) for Qwen/Qwen3-32B-Instruct found no replica"),
        "{}",
        run.stderr
    );
    assert_eq!(metric(&run.stdout, "unserved_no_replica"), "30");
    let md = std::fs::read_to_string(dir.path().join("r/summary.md")).unwrap();
    // The trace's Hugging Face id is reported as the catalog's.
    assert!(
        md.contains("- Qwen/Qwen3-32B-Instruct: 30 request(s)"),
        "{md}"
    );
}

#[test]
fn synthetic_traffic_asking_for_more_than_a_billion_requests_is_refused() {
    let stderr = quickstart_refused(&["run.horizon=100d", "traffic.streams.0.rate=100000"]);
    assert!(
        stderr.contains("run.horizon") && stderr.contains("at most 1000000000"),
        "{stderr}"
    );
}

fn scenario_with(dir: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(QUICKSTART).unwrap();
    assert!(text.contains(from), "the quickstart has no `{from}`");
    let path = dir.join("bad.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bad_scenarios_name_the_key_and_what_was_expected() {
    let cases = [
        (
            "percentile = 0.95",
            "percentile = 1.5",
            "slo.percentile",
            "strictly between 0 and 1",
        ),
        (
            "replicas = 2",
            "replicas = 0",
            "deployments[0].replicas",
            "between 1 and",
        ),
        (
            "rate = 6.0",
            "rate = 1e12",
            "traffic.streams[0].rate",
            "at most",
        ),
        (
            "model = \"meta-llama/Llama-3.3-70B-Instruct\"\nprecision",
            "model = \"meta-llama/Llama-3.3-70B-Instrukt\"\nprecision",
            "deployments[0]",
            "did you mean",
        ),
        (
            "policy = \"least-outstanding\"",
            "policy = \"random\"",
            "routing.policy",
            "power-of-two",
        ),
        (
            "max_seqs = 256",
            "max_seqs = 9000",
            "engine.max_seqs",
            "max_batched_tokens",
        ),
        ("cv = 2.0", "cv = 0.0", "traffic.streams[1].cv", "from 0.01"),
        // 1 / cv^2 overflowed into a panic once.
        (
            "cv = 2.0",
            "cv = 1e-155",
            "traffic.streams[1].cv",
            "uniform",
        ),
        (
            "chunked_prefill = true",
            "chunked_prefill = true\nscheduler = \"vllm-v2\"",
            "engine.scheduler",
            "vllm-v1, vllm-v0",
        ),
        (
            "chunked_prefill = true",
            "chunked_prefill = true\nscheduler = \"vllm-v0\"",
            "engine.scheduler",
            "chunked_prefill = false",
        ),
        (
            "chunked_prefill = true",
            "chunked_prefill = true\nscheduling_policy = \"lifo\"",
            "engine.scheduling_policy",
            "\"fcfs\" or \"priority\"",
        ),
        (
            "chunked_prefill = true",
            "chunked_prefill = true\nkv_blocks = 1",
            "engine.kv_blocks",
            "null block",
        ),
        (
            "chunked_prefill = true",
            "chunked_prefill = false\nlong_prefill_token_threshold = 512",
            "engine.long_prefill_token_threshold",
            "chunked_prefill = true",
        ),
        ("horizon = \"10m\"\n", "", "run.horizon", "needs a horizon"),
        // Keys inside [[traffic.streams]] were named `traffic` once.
        (
            "rate = 6.0",
            "rat = 6.0",
            "traffic.streams[0].rat",
            "unknown field",
        ),
        (
            "model = \"meta-llama/Llama-3.1-8B-Instruct\"\nrate",
            "model = \"meta-llama/Llama-3.1-8B-Instrukt\"\nrate",
            "traffic.streams[0].model",
            "did you mean `meta-llama/Llama-3.1-8B-Instruct`",
        ),
        (
            "source = \"synthetic\"",
            "source = \"synthetic\"\npath = \"x.csv\"",
            "traffic.path",
            "does not apply to source = \"synthetic\"",
        ),
        // Nanoseconds once saturated at 584 years.
        (
            "horizon = \"10m\"",
            "horizon = \"367d\"",
            "run.horizon",
            "at most 366d",
        ),
        (
            "seed = 7",
            "seed = 7\nmax_in_system = 0",
            "run.max_in_system",
            "between 1 and 16777216",
        ),
    ];
    for (from, to, key, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = scenario_with(dir.path(), from, to);
        let out = dir.path().join("r");
        let run = aimsim(&["serve", &path, "--out", out.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{to}: {}", run.stderr);
        assert!(
            run.stderr.contains(key) && run.stderr.contains(message),
            "{to}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
        assert!(!out.exists(), "{to}: a report was written");
    }
}

#[test]
fn a_bad_row_at_the_end_of_a_long_trace_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("long.csv");
    let mut text = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    for i in 0..100_000u64 {
        text.push_str(&format!(
            "2023-11-16 18:{:02}:{:02}.{:07},100,5\n",
            i / 60_000,
            (i / 1000) % 60,
            (i % 1000) * 10_000
        ));
    }
    text.push_str("2023-11-16 18:02:00.0000000,100,-5\n");
    std::fs::write(&trace, text).unwrap();
    let out = dir.path().join("r");
    let run = serve_azure(&trace, &out);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 100002") && run.stderr.contains("GeneratedTokens"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn a_trace_going_back_in_time_or_missing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("back.csv");
    std::fs::write(
        &trace,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:01,10,5\n2023-11-16 18:00:00,10,5\n",
    )
    .unwrap();
    let run = serve_azure(&trace, &dir.path().join("r"));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("time order"),
        "{}",
        run.stderr
    );
    let missing = aimsim(&[
        "serve",
        AZURE,
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("--trace"), "{}", missing.stderr);
    for factor in ["0", "1e-9", "2e4"] {
        let scale = aimsim(&[
            "serve",
            QUICKSTART,
            "--rate-scale",
            factor,
            "--out",
            dir.path().join("r").to_str().unwrap(),
        ]);
        assert_eq!(scale.code, 2, "{factor}: {}", scale.stderr);
        assert!(
            scale
                .stderr
                .contains("the rate scale must be from 0.0001 to 10000"),
            "{factor}: {}",
            scale.stderr
        );
    }
}

#[test]
fn a_huge_field_is_refused_without_being_echoed_and_a_quoted_one_cannot_pass_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |name: &str, body: String| {
        let trace = dir.path().join(name);
        std::fs::write(
            &trace,
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:01,10,5\n".to_string()
                + &body,
        )
        .unwrap();
        serve_azure(&trace, &dir.path().join("r"))
    };
    // A 900 kB timestamp on one line: named, shown by its start and length.
    let run = serve("wide.csv", format!("{},10,5\n", "9".repeat(900_000)));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("(900000 bytes)"),
        "{}",
        &run.stderr[..run.stderr.len().min(500)]
    );
    assert!(
        run.stderr.len() < 1000,
        "{} bytes of error",
        run.stderr.len()
    );
    // Two megabytes in one quoted field over short lines: refused as one
    // record past the limit.
    let run = serve(
        "quoted.csv",
        format!("\"{}\",10,5\n", "123456789\n".repeat(200_000)),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("the record from line 3") && run.stderr.contains("longer than 1 MiB"),
        "{}",
        &run.stderr[..run.stderr.len().min(500)]
    );
    assert!(!dir.path().join("r").exists());
}

#[test]
fn the_time_series_leaves_empty_intervals_blank_and_rates_the_last_one_over_its_covered_part() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    aimsim(&[
        "serve",
        QUICKSTART,
        "--set",
        "traffic.streams.0.rate=0.01",
        "--set",
        "traffic.streams.1.rate=0.01",
        "--set",
        "run.interval=40s",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let rows = csv_records(&std::fs::read_to_string(out.join("timeseries.csv")).unwrap());
    // 0.02 requests/s over 40 s intervals: some see no first token, and
    // their TTFT is blank, not a latency of 0.
    assert!(rows.iter().any(|r| r["ttft_p99_s"].is_empty()), "{rows:?}");
    assert!(
        rows.iter().all(|r| r["ttft_p99_s"] != "0.000000"),
        "{rows:?}"
    );
    // Nine measured minutes in 40 s intervals: the last covers 20 s, and
    // its rate is over those 20 s: the rates times the time each interval
    // covers add up to the measured arrivals.
    assert_eq!(rows.last().unwrap()["start_s"], "580.000000");
    let summary = csv_records(&std::fs::read_to_string(out.join("summary.csv")).unwrap());
    let metric = |name: &str| -> f64 {
        summary.iter().find(|r| r["metric"] == name).unwrap()["value"]
            .parse()
            .unwrap()
    };
    assert_eq!(metric("end_s"), 600.0);
    let arrivals: f64 = rows
        .iter()
        .map(|r| {
            let start: f64 = r["start_s"].parse().unwrap();
            let covered = (600.0 - start).min(40.0);
            r["arrivals_per_s"].parse::<f64>().unwrap() * covered
        })
        .sum();
    assert_eq!(arrivals.round(), metric("arrived"), "{rows:?}");
}

#[test]
fn a_hugging_face_id_and_the_catalogs_id_are_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("alias.toml");
    std::fs::write(
        &scenario,
        r#"
name = "alias"
[run]
seed = 1
horizon = "2m"
[[fleet.gpus]]
kind = "MI300X"
count = 1
layout = "CPX/NPS4"
[[deployments]]
model = "Qwen/Qwen3-8B-Instruct"
precision = "int8"
replicas = 2
[traffic]
source = "synthetic"
[[traffic.streams]]
model = "Qwen/Qwen3-8B"
rate = 1.0
prompt = { distribution = "fixed", tokens = 200 }
output = { distribution = "fixed", tokens = 20 }
"#,
    )
    .unwrap();
    let out = dir.path().join("r");
    let run = aimsim(&[
        "serve",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    assert_eq!(
        metric(&run.stdout, "unserved_no_replica"),
        "0",
        "{}",
        run.stdout
    );
    assert!(metric(&run.stdout, "finished").parse::<u64>().unwrap() > 50);
    // The catalog's id names the deployment in the reports.
    let deployments = std::fs::read_to_string(out.join("deployments.csv")).unwrap();
    assert!(
        deployments.contains("Qwen/Qwen3-8B-Instruct:int8"),
        "{deployments}"
    );
    let perf = aimsim(&["perf", "Qwen/Qwen3-8B:int8", "--batch", "1"]).expect_code(0);
    assert!(
        perf.stdout.starts_with("Qwen/Qwen3-8B-Instruct int8"),
        "{}",
        perf.stdout
    );
}
