//! `aimsim sweep`, `plan` and `merge`, run as a user would.

use std::fs;
use std::path::Path;

use crate::support::{aimsim, csv_records, files, static_plan};

/// A small sweep: 3 mixes x 2 sizes x 2 layouts x 2 policies, 2 seeds, 300
/// deployments each.
const SMALL_SWEEP: &str = r#"
[run]
seed = 5
[fleet]
policy = "aim"
[[fleet.gpus]]
kind = "MI300X"
count = 4
layout = "SPX"
[workload]
source = "synthetic"
requests = 300
arrivals = { process = "poisson", rate_per_hour = 30 }
lifetime = { distribution = "exponential", mean = "4h" }
models = ["meta-llama/Llama-3.1-8B-Instruct", "google/gemma-3-27B", "Qwen/Qwen3-14B-Instruct"]
precision_mix = { fp16 = 1.0 }
[sweep]
mixes = [{ fp16 = 1.0 }, { fp16 = 0.5, int4 = 0.5 }, { int4 = 1.0 }]
gpus = [2, 4]
layouts = ["SPX", "CPX/NPS4"]
policies = ["aim", "best-fit"]
seeds = 2
[prices]
MI300X = 2.0
"#;

/// Runs `aimsim ARGS`, expecting exit `code` and `message` on stderr.
fn expect_refusal(args: &[&str], code: i32, message: &str) {
    let run = aimsim(args).expect_code(code);
    assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
}

fn write_scenario(dir: &Path, text: &str) -> String {
    let path = dir.join("small.toml");
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_committed_fp16_versus_int4_plan_is_reproduced_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan");
    // From the crate root with the documented relative path: the report
    // quotes the command.
    aimsim(&[
        "plan",
        "scenarios/fp16-vs-int4.toml",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/fp16-vs-int4/plan");
    let (fresh, kept) = (files(&out), files(&committed));
    assert_eq!(
        fresh.iter().map(|f| &f.0).collect::<Vec<_>>(),
        kept.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in fresh.iter().zip(&kept) {
        assert!(a == b, "reports/fp16-vs-int4/plan/{name} differs from what `aimsim plan scenarios/fp16-vs-int4.toml` writes now; regenerate it if the change is intended");
    }
}

#[test]
fn sharded_and_merged_equals_unsharded_byte_for_byte_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), SMALL_SWEEP);
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let whole = aimsim(&["sweep", &path, "--threads", "2", "--out", &out("whole")]).expect_code(0);
    assert!(
        whole.stdout.starts_with("# Sweep: small"),
        "{}",
        whole.stdout
    );
    for threads in ["1", "8"] {
        let name = format!("threads-{threads}");
        aimsim(&["sweep", &path, "--threads", threads, "--out", &out(&name)]).expect_code(0);
        assert_eq!(
            files(Path::new(&out("whole"))),
            files(Path::new(&out(&name))),
            "{threads} threads changed the report"
        );
    }
    for k in 1..=3 {
        aimsim(&[
            "sweep",
            &path,
            "--shard",
            &format!("{k}/3"),
            "--out",
            &out(&format!("s{k}")),
        ])
        .expect_code(0);
    }
    // Shards in any order.
    aimsim(&[
        "merge",
        &out("s3"),
        &out("s1"),
        &out("s2"),
        "--out",
        &out("merged"),
    ])
    .expect_code(0);
    let (merged, unsharded) = (
        files(Path::new(&out("merged"))),
        files(Path::new(&out("whole"))),
    );
    assert_eq!(
        merged.iter().map(|f| &f.0).collect::<Vec<_>>(),
        unsharded.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in merged.iter().zip(&unsharded) {
        assert!(
            a == b,
            "{name} differs between merged shards and an unsharded run"
        );
    }
    let names: Vec<&str> = unsharded.iter().map(|f| f.0.as_str()).collect();
    for expected in [
        "results.csv",
        "summary.csv",
        "summary.md",
        "fit-vs-gpus-aim.svg",
        "fit-vs-gpus-best-fit.svg",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // 24 points x 2 seeds.
    let results = fs::read_to_string(Path::new(&out("whole")).join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + 48);

    // Merging wrongly is refused.
    expect_refusal(
        &["merge", &out("s1"), &out("s2"), "--out", &out("bad")],
        1,
        "shard 3/3 is missing",
    );
    let run = aimsim(&[
        "merge",
        &out("s1"),
        &out("s1"),
        &out("s2"),
        "--out",
        &out("bad"),
    ])
    .expect_code(1);
    assert!(
        run.stderr.contains("shard 1/3 is given twice"),
        "{}",
        run.stderr
    );
    let other = write_scenario(dir.path(), &SMALL_SWEEP.replace("seed = 5", "seed = 6"));
    aimsim(&["sweep", &other, "--shard", "3/3", "--out", &out("other3")]).expect_code(0);
    let run = aimsim(&[
        "merge",
        &out("s1"),
        &out("s2"),
        &out("other3"),
        "--out",
        &out("bad"),
    ])
    .expect_code(1);
    assert!(
        run.stderr
            .contains("a shard of a different scenario or grid"),
        "{}",
        run.stderr
    );
    let manifest = Path::new(&out("s2")).join("shard.json");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        text.replace(
            &format!("\"aimsim\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"aimsim\": \"0.0.1\"",
        ),
    )
    .unwrap();
    let run = aimsim(&[
        "merge",
        &out("s1"),
        &out("s2"),
        &out("s3"),
        "--out",
        &out("bad"),
    ])
    .expect_code(1);
    assert!(
        run.stderr.contains("written by aimsim 0.0.1"),
        "{}",
        run.stderr
    );
    fs::write(&manifest, &text).unwrap();
    // Figures no run gives are refused, not averaged into the report (an
    // infinite fit rate once made the chart's axis loop for ever).
    let (s1, s2, s3, bad) = (out("s1"), out("s2"), out("s3"), out("bad"));
    let merge_all = ["merge", &s1, &s2, &s3, "--out", &bad];
    let results = Path::new(&out("s3")).join("results.csv");
    let original = fs::read_to_string(&results).unwrap();
    let column = original
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "fit_rate")
        .unwrap();
    for (value, expected) in [
        ("inf", "column `fit_rate`: `inf` is not a share from 0 to 1"),
        ("5.0", "column `fit_rate`: `5.0` is not a share from 0 to 1"),
        ("NaN", "column `fit_rate`: `NaN` is not a share from 0 to 1"),
    ] {
        let mut lines: Vec<String> = original.lines().map(String::from).collect();
        let mut fields: Vec<&str> = lines[1].split(',').collect();
        fields[column] = value;
        lines[1] = fields.join(",");
        fs::write(&results, lines.join("\n") + "\n").unwrap();
        expect_refusal(&merge_all, 1, expected);
    }
    fs::write(&results, &original).unwrap();
    let first = Path::new(&out("s1")).join("shard.json");
    let text = fs::read_to_string(&first).unwrap();
    let target = text
        .lines()
        .find(|l| l.contains("\"target_fit\""))
        .unwrap()
        .to_string();
    fs::write(&first, text.replace(&target, "  \"target_fit\": 5.0,")).unwrap();
    expect_refusal(&merge_all, 1, "target_fit must be in (0, 1], got 5");
    assert!(!Path::new(&out("bad")).exists());
}

#[test]
fn summary_statistics_are_those_of_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), SMALL_SWEEP);
    let out = dir.path().join("s");
    aimsim(&[
        "sweep",
        &path,
        "--seeds",
        "4",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let table = |name: &str| csv_records(&fs::read_to_string(out.join(name)).unwrap());
    let (results, summary) = (table("results.csv"), table("summary.csv"));
    assert_eq!(summary.len(), 24);
    for point in &summary {
        let fits: Vec<f64> = results
            .iter()
            .filter(|r| r["cell"] == point["cell"])
            .map(|r| r["fit_rate"].parse().unwrap())
            .collect();
        assert_eq!(fits.len(), 4);
        let n = fits.len() as f64;
        let mean = fits.iter().sum::<f64>() / n;
        let sd = (fits.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // t(0.975, 3 degrees of freedom) = 3.182446.
        let half = 3.182446 * sd / n.sqrt();
        let close = |key: &str, expected: f64| {
            let got: f64 = point[key].parse().unwrap();
            assert!((got - expected).abs() < 2e-6, "{key}: {got} vs {expected}");
        };
        close("fit_rate_mean", mean);
        close("fit_rate_sd", sd);
        close("fit_rate_ci95_low", mean - half);
        close("fit_rate_ci95_high", mean + half);
        let hours: f64 = results
            .iter()
            .filter(|r| r["cell"] == point["cell"])
            .map(|r| r["gpu_hours_online"].parse::<f64>().unwrap())
            .sum::<f64>()
            / n;
        close("cost_per_run_mean", 2.0 * hours);
    }
}

#[test]
fn a_plan_finds_the_smallest_fleet_that_reaches_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), SMALL_SWEEP);
    let out = dir.path().join("p");
    aimsim(&[
        "plan",
        &path,
        "--target-fit",
        "0.95",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let plan = fs::read_to_string(out.join("plan.csv")).unwrap();
    let searches = fs::read_to_string(out.join("searches.csv")).unwrap();
    let fit_at = |cell: &str, gpus: u32| -> Option<f64> {
        searches.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0] == cell && f[7] == gpus.to_string()).then(|| f[8].parse().unwrap())
        })
    };
    let mut found = 0;
    for line in plan.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let Ok(needed) = f[9].parse::<u32>() else {
            continue;
        };
        found += 1;
        assert!(fit_at(f[0], needed).unwrap() >= 0.95, "{line}");
        if needed > 1 {
            let below = fit_at(f[0], needed - 1).expect("the search ran the size below its answer");
            assert!(
                below < 0.95,
                "cell {}: {} GPUs already reach {below}",
                f[0],
                needed - 1
            );
        }
    }
    assert!(found >= 4, "{plan}");
    // The same plan on one thread: the same bytes.
    let serial = dir.path().join("p1");
    aimsim(&[
        "plan",
        &path,
        "--target-fit",
        "0.95",
        "--threads",
        "1",
        "--out",
        serial.to_str().unwrap(),
    ])
    .expect_code(0);
    assert_eq!(files(&out), files(&serial));
}

#[test]
fn a_plan_of_a_static_set_shows_the_bin_packing_bounds_below_what_the_policy_used() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL_SWEEP
        .replace(
            "arrivals = { process = \"poisson\", rate_per_hour = 30 }",
            "arrivals = { process = \"all-at-once\" }",
        )
        .replace(
            "lifetime = { distribution = \"exponential\", mean = \"4h\" }",
            "lifetime = { distribution = \"infinite\" }",
        )
        .replace("requests = 300", "requests = 60");
    let path = write_scenario(dir.path(), &text);
    let plan = static_plan(&[&path, "--target-fit", "1"], &dir.path().join("p"));
    let mut checked = 0;
    for r in plan {
        let (l1, l2, peak): (f64, f64, f64) = (
            r["l1_bound"].parse().unwrap(),
            r["l2_bound"].parse().unwrap(),
            r["elastic_peak_mean"].parse().unwrap(),
        );
        assert!(
            l1 <= l2 + 1e-9 && l2 <= peak + 1e-9,
            "L1 {l1} <= L2 {l2} <= used {peak}"
        );
        if let Ok(needed) = r["gpus_needed"].parse::<f64>() {
            assert!(
                l2 <= needed,
                "a bound above the fleet found: {l2} > {needed}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn sweep_and_plan_print_as_asked_and_say_unreachable_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), SMALL_SWEEP);
    let out = dir.path().join("s");
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", &path, "--out", out.to_str().unwrap()];
        args.extend(extra);
        aimsim(&args).expect_code(0)
    };
    assert_eq!(sweep(&["--quiet"]).stdout, "");
    let csv = sweep(&["--format", "csv"]);
    assert_eq!(
        csv.stdout,
        fs::read_to_string(out.join("summary.csv")).unwrap()
    );
    let json = sweep(&["--format", "json"]);
    let points: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        points.as_array().unwrap().len(),
        csv.stdout.lines().count() - 1
    );
    assert!(
        points[0]["fit_rate_mean"].is_number() && points[0]["gpus"].is_u64(),
        "{}",
        points[0]
    );
    // A 27B model at FP16 never fits a 24 GiB CPX partition: both commands
    // call that setup unreachable, with the share that can fit.
    let table = sweep(&[]).stdout;
    let cpx_row = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("| MI300X | CPX/NPS4 | aim |"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no CPX row in\n{text}"))
    };
    assert!(cpx_row(&table).contains("unreachable ("), "{table}");
    let plan = aimsim(&[
        "plan",
        &path,
        "--seeds",
        "1",
        "--out",
        dir.path().join("p").to_str().unwrap(),
    ])
    .expect_code(0)
    .stdout;
    assert!(cpx_row(&plan).contains("unreachable ("), "{plan}");
    assert!(plan.contains("(the mean over 1 seed)"), "{plan}");
}

#[test]
fn bad_sweeps_and_plans_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "layouts = [\"SPX\", \"CPX/NPS4\"]",
            "layouts = []",
            "key `sweep.layouts`: the list is empty",
        ),
        (
            "mixes = [{ fp16 = 1.0 }, { fp16 = 0.5, int4 = 0.5 }, { int4 = 1.0 }]",
            "mixes = { step = 0.3 }",
            "key `sweep.mixes.step`: step 0.3 does not divide 1",
        ),
        (
            "mixes = [{ fp16 = 1.0 }, { fp16 = 0.5, int4 = 0.5 }, { int4 = 1.0 }]",
            "mixes = [{ fp16 = 0.5 }]",
            "key `sweep.mixes[0]`: shares must sum to 1",
        ),
        ("gpus = [2, 4]", "gpus = [0]", "key `sweep.gpus`"),
        (
            "seeds = 2",
            "seeds = 0",
            "key `sweep.seeds`: must be at least 1",
        ),
        (
            "policies = [\"aim\", \"best-fit\"]",
            "policies = [\"aim\", \"random\"]",
            "key `sweep.policies[1]`: unknown policy `random`",
        ),
        (
            "seeds = 2",
            "seeds = 2\ntarget_fit = 1.5",
            "key `sweep.target_fit`: must be in (0, 1]",
        ),
        (
            "mixes = [{ fp16 = 1.0 }, { fp16 = 0.5, int4 = 0.5 }, { int4 = 1.0 }]",
            "mixes = { step = 1e-9 }",
            "key `sweep.mixes.step`: step 0.000000001 must be between 0.01 and 1",
        ),
        (
            "gpus = [2, 4]",
            "gpus = [2, 4000000]",
            "key `sweep.gpus`: needs at least one fleet size, each between 1 and 1000000",
        ),
        ("seeds = 2", "seeds = 500000", "is more than 10000000 runs"),
        // The same point twice was run and reported twice.
        (
            "layouts = [\"SPX\", \"CPX/NPS4\"]",
            "layouts = [\"SPX\", \"SPX/NPS1\"]",
            "key `sweep.layouts`: lists SPX/NPS1 twice",
        ),
        (
            "policies = [\"aim\", \"best-fit\"]",
            "policies = [\"aim\", \"Aim\"]",
            "key `sweep.policies`: lists aim twice",
        ),
        (
            "mixes = [{ fp16 = 1.0 }, { fp16 = 0.5, int4 = 0.5 }, { int4 = 1.0 }]",
            "mixes = [{ fp16 = 1.0 }, { int4 = 0.5, fp16 = 0.5 }, { fp16 = 0.5, int4 = 0.5 }]",
            "key `sweep.mixes`: lists fp16 0.5, int8 0, int4 0.5 twice",
        ),
        (
            "gpus = [2, 4]",
            "gpus = [4, 4]",
            "key `sweep.gpus`: lists 4 twice",
        ),
    ];
    for (from, to, message) in cases {
        let path = write_scenario(dir.path(), &SMALL_SWEEP.replacen(from, to, 1));
        let run = aimsim(&[
            "sweep",
            &path,
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .expect_code(1);
        assert!(run.stderr.contains(message), "{to}: {}", run.stderr);
    }
    let path = write_scenario(dir.path(), SMALL_SWEEP);
    for (args, message) in [
        (
            vec!["plan", &path[..], "--target-fit", "1.5"],
            "--target-fit 1.5 must be in (0, 1]",
        ),
        (
            vec!["plan", &path[..], "--target-fit", "0"],
            "--target-fit 0 must be in (0, 1]",
        ),
        (
            vec!["sweep", &path[..], "--shard", "3/2"],
            "bad shard `3/2`: expected K/N with 1 <= K <= N",
        ),
        (
            vec!["sweep", &path[..], "--shard", "0/2"],
            "bad shard `0/2`",
        ),
        (
            vec!["plan", &path[..], "--on", "lower", "--seeds", "1"],
            "--on lower needs a confidence interval",
        ),
    ] {
        let run = aimsim(&args).expect_code(2);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    let trace_sweep = "[run]\nseed = 1\n[fleet]\npolicy = \"aim\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1\nlayout = \"SPX\"\n[workload]\nsource = \"trace\"\n[sweep]\nmixes = { step = 0.5 }\n";
    let path = write_scenario(dir.path(), trace_sweep);
    expect_refusal(
        &["sweep", &path],
        1,
        "key `sweep.mixes`: a trace or a static set takes pure mixes only",
    );
    // What a sweep point cannot represent is refused, not dropped.
    let fill = write_scenario(
        dir.path(),
        &SMALL_SWEEP.replace("seed = 5", "seed = 5\nmode = \"fill\""),
    );
    expect_refusal(
        &["plan", &fill],
        1,
        "run.mode = \"fill\" is for `aimsim simulate`",
    );
    let late = write_scenario(
        dir.path(),
        &SMALL_SWEEP.replace("seed = 5", "seed = 5\nwarmup = \"100d\""),
    );
    let run = aimsim(&[
        "sweep",
        &late,
        "--out",
        dir.path().join("late").to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(
        run.stderr
            .contains("no request arrives in the measured window"),
        "{}",
        run.stderr
    );
}
