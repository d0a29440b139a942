//! `aimsim simulate`, run as a user would: shipped scenarios, determinism,
//! traces, and bad input that must fail cleanly without leaving a report.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{aimsim, aimsim_in, files};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn metric(stdout: &str, name: &str) -> String {
    csv::Reader::from_reader(stdout.as_bytes())
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == name)
        .unwrap_or_else(|| panic!("no metric {name} in\n{stdout}"))[1]
        .to_string()
}

#[test]
fn quickstart_runs_from_a_fresh_directory_and_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = aimsim_in(
        Some(dir.path()),
        &["simulate", &scenario("quickstart.toml")],
    )
    .expect_code(0);
    assert!(run.stdout.contains("fit_rate"), "{}", run.stdout);
    let report = dir.path().join("reports/quickstart/simulation");
    let names: Vec<String> = files(&report).into_iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [
            ".aimsim-report",
            "fit_by_class.csv",
            "fit_by_model.csv",
            "metrics.csv",
            "timeseries.csv",
            "timeseries.svg"
        ]
    );
    let series = fs::read_to_string(report.join("timeseries.csv")).unwrap();
    // 13 days measured, sampled every 6 h from the warm-up's end: 53 rows.
    assert_eq!(series.lines().count(), 1 + 53);
    // The chart of that series: GPUs above, memory shares below.
    let chart = fs::read_to_string(report.join("timeseries.svg")).unwrap();
    assert!(chart.starts_with("<svg"), "{chart}");
    for title in ["quickstart: GPUs over time", "quickstart: memory over time"] {
        assert!(chart.contains(title), "{title}");
    }
    assert!(
        run.stderr
            .contains("report written to reports/quickstart/simulation"),
        "{}",
        run.stderr
    );
}

#[test]
fn same_scenario_and_seed_give_identical_bytes_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let runs: Vec<(String, PathBuf)> = [("a", "42"), ("b", "42"), ("c", "43")]
        .iter()
        .map(|(name, seed)| {
            let run = csv_report(
                &[
                    "simulate",
                    &scenario("cpx-multi-tenant.toml"),
                    "--seed",
                    seed,
                ],
                Path::new(out(name).to_str().unwrap()),
            );
            (run.stdout, out(name))
        })
        .collect();
    assert_eq!(runs[0].0, runs[1].0);
    assert_eq!(files(&runs[0].1), files(&runs[1].1));
    assert_ne!(files(&runs[0].1), files(&runs[2].1));
    // A flag is the override of its key: `--seed 42 --policy best-fit` is
    // `--set run.seed=42 --set fleet.policy="best-fit"`, and wins over a
    // `--set` of the same key.
    let cpx = scenario("cpx-multi-tenant.toml");
    let flags = csv_report(
        &["simulate", &cpx, "--seed", "42", "--policy", "best-fit"],
        &out("flags"),
    );
    let sets = csv_report(
        &[
            "simulate",
            &cpx,
            "--set",
            "run.seed=42",
            "--set",
            "fleet.policy=\"best-fit\"",
        ],
        &out("sets"),
    );
    let both = csv_report(
        &[
            "simulate",
            &cpx,
            "--set",
            "run.seed=43",
            "--seed",
            "42",
            "--policy",
            "best-fit",
        ],
        &out("both"),
    );
    assert_eq!(flags.stdout, sets.stdout);
    assert_eq!(flags.stdout, both.stdout);
    assert_eq!(files(&out("flags")), files(&out("sets")));
}

#[test]
fn fp16_versus_int4_on_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fp16 = csv_report(
        &["simulate", &scenario("fp16-vs-int4.toml")],
        Path::new(dir.path().join("fp16").to_str().unwrap()),
    );
    let int4 = csv_report(
        &[
            "simulate",
            &scenario("fp16-vs-int4.toml"),
            "--set",
            "workload.precision_mix={int4=1.0}",
        ],
        Path::new(dir.path().join("int4").to_str().unwrap()),
    );
    // The same arrivals: the same count in the measured window.
    assert_eq!(
        metric(&fp16.stdout, "arrivals"),
        metric(&int4.stdout, "arrivals")
    );
    let fit = |out: &str| metric(out, "fit_rate").parse::<f64>().unwrap();
    assert!(
        fit(&int4.stdout) > fit(&fp16.stdout),
        "int4 packs more: {} vs {}",
        fit(&int4.stdout),
        fit(&fp16.stdout)
    );
    assert!(metric(&int4.stdout, "fit_rate_int4").parse::<f64>().is_ok());
}

#[test]
fn an_aimsim_trace_replays_and_priorities_order_simultaneous_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = dir.path().join("t.toml");
    fs::write(
        &scenario_path,
        format!(
            "[run]\nseed = 1\n[fleet]\npolicy = \"aim\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1\nlayout = \"SPX\"\n[workload]\nsource = \"trace\"\npath = \"{}\"\n",
            fixture("deployments.csv")
        ),
    )
    .unwrap();
    let run = csv_report(
        &["simulate", scenario_path.to_str().unwrap()],
        Path::new(dir.path().join("r").to_str().unwrap()),
    );
    // At t = 0 the 70B fp16 (165 GiB, priority 0) and gemma-27B fp16
    // (60 GiB, priority 5) cannot both fit one SPX GPU: gemma, listed second,
    // is admitted first and the 70B is rejected. Qwen3-8B int8 (13) and
    // Llama-8B fp16 (20) then fit beside gemma.
    assert_eq!(metric(&run.stdout, "arrivals"), "4");
    assert_eq!(metric(&run.stdout, "placed"), "3");
    assert_eq!(metric(&run.stdout, "rejected_no_capacity"), "1");
    let classes = fs::read_to_string(dir.path().join("r/fit_by_class.csv")).unwrap();
    assert!(
        classes.contains("meta-llama/Llama-3.3-70B-Instruct,fp16,1,0,1,0,0,0.000000"),
        "{classes}"
    );
    assert!(
        classes.contains("google/gemma-3-27B,fp16,1,1,0,0,0,1.000000"),
        "{classes}"
    );
}

#[test]
fn the_alibaba_format_replays_with_cpu_only_pods_counted() {
    let dir = tempfile::tempdir().unwrap();
    let run = csv_report(
        &[
            "simulate",
            &scenario("openb-replay.toml"),
            "--trace",
            &fixture("openb_pods_small.csv"),
        ],
        Path::new(dir.path().join("r").to_str().unwrap()),
    );
    assert_eq!(metric(&run.stdout, "arrivals"), "5");
    assert_eq!(
        metric(&run.stdout, "skipped: CPU-only pods (num_gpu = 0)"),
        "1"
    );
    let classes = fs::read_to_string(dir.path().join("r/fit_by_class.csv")).unwrap();
    assert!(classes.contains("openb 2 x GPU,"), "{classes}");
    assert!(classes.contains("openb 500 milli-GPU,"), "{classes}");
}

#[test]
fn the_fill_experiment_records_the_allocation_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let run = csv_report(
        &[
            "simulate",
            &scenario("openb-fill.toml"),
            "--trace",
            &fixture("openb_pods_small.csv"),
            "--set",
            "fleet.gpus.0.count=20",
        ],
        Path::new(dir.path().join("f").to_str().unwrap()),
    );
    let ratio: f64 = metric(&run.stdout, "allocation_ratio").parse().unwrap();
    assert!(ratio > 0.5 && ratio <= 1.0, "{ratio}");
    let fill = fs::read_to_string(dir.path().join("f/fill.csv")).unwrap();
    // A point each time requested memory crosses a 5% step (a large request
    // may cross several at once), up to 100%.
    let requested: Vec<f64> = fill
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(requested.len() >= 10 && requested.len() <= 20, "{fill}");
    let bucket = |r: f64| (r / 0.05 + 1e-9).floor() as u64;
    assert!(
        requested.windows(2).all(|w| bucket(w[1]) > bucket(w[0])),
        "one point per step: {fill}"
    );
    assert!(*requested.last().unwrap() >= 1.0, "{fill}");
    // Nothing can be placed that was not requested.
    for line in fill.lines().skip(1) {
        let values: Vec<f64> = line
            .split(',')
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(
            values[1] <= values[0] + 1e-9,
            "allocated above requested: {line}"
        );
    }
}

/// Runs `aimsim ARGS --out OUT --format csv`, expecting success.
fn csv_report(args: &[&str], out: &Path) -> crate::support::Run {
    let mut all = args.to_vec();
    all.extend(["--out", out.to_str().unwrap(), "--format", "csv"]);
    aimsim(&all).expect_code(0)
}

/// A scenario file in a temporary folder with `body`.
fn write_scenario(dir: &Path, body: &str) -> String {
    let path = dir.join("bad.toml");
    fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

const GOOD: &str = "[run]\nseed = 1\nhorizon = \"1d\"\n[fleet]\npolicy = \"aim\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 2\nlayout = \"SPX\"\n[workload]\nsource = \"synthetic\"\narrivals = { process = \"poisson\", rate_per_hour = 5 }\nlifetime = { distribution = \"exponential\", mean = \"2h\" }\nprecision_mix = { fp16 = 1.0 }\n";

#[test]
fn bad_scenarios_name_the_file_the_key_and_what_was_expected() {
    let cases: &[(&str, &str, &str)] = &[
        ("seed = 1", "sed = 1", "line 2, column 1: key `run.sed`: unknown field `sed`, expected one of `seed`"),
        ("count = 2", "count = \"two\"", "line 8, column 9: key `fleet.gpus[0].count`: invalid type: string \"two\", expected u32"),
        ("layout = \"SPX\"", "layout = \"SPX/NPS4\"", "key `fleet.gpus[0].layout`: MI300X does not support SPX/NPS4; valid modes are"),
        ("fp16 = 1.0", "fp16 = 0.5, int4 = 0.4", "key `workload.precision_mix`: shares must sum to 1, they sum to 0.9"),
        ("fp16 = 1.0", "fp4 = 1.0", "key `workload.precision_mix.fp4`: unknown precision `fp4`"),
        ("rate_per_hour = 5", "rate_per_hour = -5", "key `workload.arrivals.rate_per_hour`: must be between 0.000001 and 1000000, got -5"),
        ("mean = \"2h\"", "mean = \"2 hours\"", "key `workload.lifetime.mean`: bad duration `2 hours`"),
        ("policy = \"aim\"", "policy = \"random\"", "key `fleet.policy`: unknown policy `random`"),
        ("process = \"poisson\", rate_per_hour = 5", "process = \"bursty\"", "unknown variant `bursty`, expected one of `poisson`, `deterministic`, `all-at-once`"),
        ("horizon = \"1d\"", "horizon = \"1d\"\nwarmup = \"2d\"", "key `run.warmup`: must end before run.horizon"),
        ("[workload]", "[workload]\nrequests = 0", "key `workload.requests`: must be between 1 and 1000000000"),
        ("count = 2", "count = 0", "key `fleet.gpus[0].count`: must be between 1 and 1000000, got 0"),
                ("seed = 1", "seed = 1\nseed = 2", "duplicate key `seed`"),
        ("rate_per_hour = 5", "rate_per_hour = 1e300", "key `workload.arrivals.rate_per_hour`: must be between"),
        ("horizon = \"1d\"", "horizon = \"1d\"\ninterval = \"1ms\"", "key `run.interval`: gives more than 1000000 samples"),
        ("horizon = \"1d\"", "horizon = \"1d\"\nmode = \"fill\"\nfill_target = 1e300", "key `run.fill_target`: must be between 0.001 and 10"),
        ("count = 2", "count = 4000000000", "key `fleet.gpus[0].count`"),
        ("[workload]", "[workload]\nmodels = []", "key `workload.models`: the list is empty"),
        ("source = \"synthetic\"", "source = \"synthetic\"\nburst = 3", "key `workload.burst`: unknown field `burst`"),
        // A TOML syntax error, whose parser message spans two lines.
        ("[fleet]", "[fleet", "line 4, column 7: invalid table header; expected `.`, `]`"),
        // Unbounded work: a request count or a horizon x rate past the cap.
        ("[workload]", "[workload]\nrequests = 9223372036854775807", "key `workload.requests`: must be between 1 and 1000000000"),
        ("horizon = \"1d\"", "horizon = \"100000000d\"", "key `run.horizon`: gives about 1.20e10 requests at this arrival rate, more than the 1000000000"),
        // Numbers echoed as written, not as 300 digits.
        ("rate_per_hour = 5", "rate_per_hour = 1e-308", "must be between 0.000001 and 1000000, got 1e-308"),
        ("distribution = \"exponential\", mean = \"2h\" }", "distribution = \"lognormal\", median = \"2h\", sigma = 1e308 }", "key `workload.lifetime.sigma`: must be between 0 and 20, got 1e308"),
        // A model the catalog lacks, with the file and the key.
        ("[workload]", "[workload]\nmodels = [\"meta-llama/Llama-3.1-8B-Instruct\", \"nope/x\"]", "key `workload.models[1]`: unknown model `nope/x`"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (from, to, message) in cases {
        assert!(GOOD.contains(from), "{from}");
        let path = write_scenario(dir.path(), &GOOD.replacen(from, to, 1));
        let out = dir.path().join("out");
        let run = aimsim(&["simulate", &path, "--out", out.to_str().unwrap()]).expect_code(1);
        assert!(
            run.stderr.starts_with(&format!("error: {path}")),
            "{to}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{to}:\n{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert!(!out.exists(), "no report after a bad scenario");
    }
    // The good one runs.
    let path = write_scenario(dir.path(), GOOD);
    aimsim(&[
        "simulate",
        &path,
        "--out",
        dir.path().join("ok").to_str().unwrap(),
    ])
    .expect_code(0);
}

#[test]
fn bad_traces_name_the_row_and_leave_no_report() {
    let header = "arrival,model,precision,duration,departure,priority\n";
    let llama = "meta-llama/Llama-3.1-8B-Instruct";
    let cases: Vec<(String, &str)> = vec![
        (format!("{header}10,{llama},fp16,,,\n5,{llama},fp16,,,\n"), "line 3: arrival 5 s is before the previous row's 10 s"),
        (format!("{header}0,{llama},fp16,-3,,\n"), "line 2: column `duration`: `-3` must be a non-negative number of seconds"),
        (format!("{header}10,{llama},fp16,,5,\n"), "line 2: departure 5 s is before arrival 10 s"),
        (format!("{header}0,{llama},fp16,5,10,\n"), "line 2: give `duration` or `departure`, not both"),
        (format!("{header}0,{llama},fp4,,,\n"), "line 2: column `precision`: unknown precision `fp4`"),
        (format!("{header}x,{llama},fp16,,,\n"), "line 2: column `arrival`: `x` is not a number of seconds"),
        (format!("{header}0,{llama},fp16,,,high\n"), "line 2: column `priority`: `high` is not an integer priority"),
        (format!("{header}0,{llama}\n"), "line 2: 2 fields, expected 6 like the header"),
        ("arrival,model\n".to_string(), "line 1: missing column `precision`"),
        (format!("arrival,model,precision,durations\n0,{llama},fp16,5\n"), "line 1: unknown column `durations`"),
        (format!("{header}0,acme/Nope,fp16,,,\n1,acme/Nope,int4,,,\n2,{llama},fp16,,,\n"), "2 rows name models the catalog lacks: unknown model `acme/Nope`; `aimsim profiles list` shows the known ones (first on line 2) (2 rows)"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = write_scenario(
        dir.path(),
        "[run]\nseed = 1\n[fleet]\npolicy = \"aim\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1\nlayout = \"SPX\"\n[workload]\nsource = \"trace\"\n",
    );
    let trace = dir.path().join("trace.csv");
    let out = dir.path().join("out");
    for (body, message) in &cases {
        fs::write(&trace, body).unwrap();
        let run = aimsim(&[
            "simulate",
            &scenario_path,
            "--trace",
            trace.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(1);
        assert!(
            run.stderr.contains(trace.to_str().unwrap()) && run.stderr.contains(message),
            "{message}:\n{}",
            run.stderr
        );
        assert!(!out.exists(), "no report after a bad trace");
    }
    // Unknown models can be skipped on request, and are counted.
    fs::write(&trace, &cases.last().unwrap().0).unwrap();
    let run = csv_report(
        &[
            "simulate",
            &scenario_path,
            "--trace",
            trace.to_str().unwrap(),
            "--set",
            "workload.skip_unknown_models=true",
        ],
        Path::new(out.to_str().unwrap()),
    );
    assert_eq!(metric(&run.stdout, "arrivals"), "1");
    assert_eq!(
        metric(
            &run.stdout,
            "skipped: unknown model `acme/Nope`; `aimsim profiles list` shows the known ones (first on line 2)"
        ),
        "2"
    );
}

#[test]
fn bad_alibaba_rows_and_a_missing_trace_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("pods.csv");
    fs::write(
        &trace,
        "name,num_gpu,gpu_milli,creation_time,deletion_time\np,1,1500,0,10\n",
    )
    .unwrap();
    let replay = || {
        aimsim(&[
            "simulate",
            &scenario("openb-replay.toml"),
            "--trace",
            trace.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .expect_code(1)
    };
    let run = replay();
    assert!(
        run.stderr
            .contains("line 2: column `gpu_milli`: 1500 is outside 1..=1000"),
        "{}",
        run.stderr
    );
    fs::write(
        &trace,
        "name,num_gpu,gpu_milli,creation_time,deletion_time\np,1,500,100,10\n",
    )
    .unwrap();
    let run = replay();
    assert!(
        run.stderr
            .contains("line 2: deletion_time 10 is before creation_time 100"),
        "{}",
        run.stderr
    );
    let run = aimsim(&["simulate", &scenario("openb-replay.toml")]).expect_code(2);
    assert!(
        run.stderr.contains("give its path with --trace"),
        "{}",
        run.stderr
    );
    let run = aimsim(&[
        "simulate",
        &scenario("openb-replay.toml"),
        "--trace",
        "/nonexistent/pods.csv",
    ])
    .expect_code(1);
    assert!(
        run.stderr.contains("/nonexistent/pods.csv: cannot open"),
        "{}",
        run.stderr
    );
}

#[test]
fn alibaba_pods_can_become_aim_profiles_or_partition_shares() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let (scenario_path, trace) = (
        scenario("openb-replay.toml"),
        fixture("openb_pods_small.csv"),
    );
    let run_with = |sets: &[&str]| {
        let mut args = vec!["simulate", &scenario_path, "--trace", &trace];
        args.extend(["--out", out.to_str().unwrap(), "--format", "csv"]);
        for set in sets {
            args.extend(["--set", set]);
        }
        aimsim(&args).expect_code(0);
        fs::read_to_string(out.join("fit_by_class.csv")).unwrap()
    };
    // Of a 192 GiB GPU, 500 milli is 96 GiB: the closest profile is
    // Qwen3-235B int4 (92; Mixtral fp16 at 90 and Qwen3-235B int8 at 104 are
    // farther); 250 milli is 48 GiB, exactly Llama-3.2-30B-Vision int8; a
    // whole GPU (192) is closest to the 165 GiB fp16 70B-class profiles, of
    // which the first in catalog order stands for all.
    let mapped = run_with(&["workload.map_to_profiles=true"]);
    assert!(
        mapped.contains("Qwen/Qwen3-235B-A22B,int4,2,2,"),
        "{mapped}"
    );
    assert!(
        mapped.contains("unsloth/Llama-3.2-30B-Vision,int8,1,1,"),
        "{mapped}"
    );
    assert!(
        mapped.contains("deepseek-ai/DeepSeek-R1-Distill-Llama-70B,fp16,1,1,"),
        "{mapped}"
    );
    assert!(
        mapped.contains("openb 2 x GPU,"),
        "multi-GPU pods stay whole GPUs: {mapped}"
    );
    // As partition shares on CPX: the 2-GPU pod takes two whole partitions of one GPU.
    let shares = run_with(&[
        "workload.unit=\"partition\"",
        "fleet.gpus.0.layout=\"CPX/NPS4\"",
    ]);
    assert!(
        shares.contains("openb 2 x GPU,,1,1,0,0,0,1.000000"),
        "{shares}"
    );
}

#[test]
fn frag_aware_allocates_at_least_as_much_as_best_fit_in_the_fill_experiment() {
    // The shipped openb-fill fleet scaled down 20 times (31 eight-partition
    // GPUs listed first, 3 four-, 26 two- and 1 one-partition GPU), filled
    // from a pod mix shaped like the Alibaba trace's (tests/fixtures).
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(scenario("openb-fill.toml")).unwrap();
    let small = text
        .replacen("count = 617", "count = 31", 1)
        .replacen("count = 54", "count = 3", 1)
        .replacen("count = 518", "count = 26", 1)
        .replacen("count = 24\n", "count = 1\n", 1);
    let path = dir.path().join("fill.toml");
    fs::write(&path, small).unwrap();
    let ratio = |policy: &str, seed: u64| -> f64 {
        let run = csv_report(
            &[
                "simulate",
                path.to_str().unwrap(),
                "--trace",
                &fixture("openb_pods_mix.csv"),
                "--policy",
                policy,
                "--seed",
                &seed.to_string(),
            ],
            Path::new(dir.path().join("out").to_str().unwrap()),
        );
        metric(&run.stdout, "allocation_ratio").parse().unwrap()
    };
    let (mut best_fit, mut frag_aware) = (0.0, 0.0);
    for seed in 1..=4 {
        let (b, f) = (ratio("best-fit", seed), ratio("frag-aware", seed));
        assert!(f >= b, "seed {seed}: frag-aware {f} < best-fit {b}");
        best_fit += b;
        frag_aware += f;
    }
    assert!(
        frag_aware > best_fit + 0.01,
        "frag-aware {frag_aware} vs best-fit {best_fit} over 4 seeds"
    );
}

#[test]
fn a_run_killed_midway_leaves_no_report_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    // Fifty years of quickstart: long enough to be killed while simulating.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args([
            "simulate",
            &scenario("quickstart.toml"),
            "--set",
            "run.horizon=\"18250d\"",
            "--set",
            "run.interval=\"30d\"",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run left a report behind");
    aimsim(&[
        "simulate",
        &scenario("quickstart.toml"),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(out.join("metrics.csv").is_file());
    let mut leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(leftovers, [".report.lock", "report"]);
}
