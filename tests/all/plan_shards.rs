//! `aimsim plan --shard K/N` on a serving scenario and `aimsim merge`: the
//! shards merged give the whole plan's report byte for byte, and merge
//! refuses shards that are missing, doubled, of another plan, of a
//! scenario changed since, or with measurements cut short.

use std::fs;
use std::path::{Path, PathBuf};

use crate::serving_plans::SMALL;
use crate::support::aimsim;

/// Two models at two rates: four units to shard.
fn scenario(rate: f64) -> String {
    format!(
        r#"name = "shard-test"
[run]
seed = 5
horizon = "1m"
warmup = "10s"

[traffic]
source = "synthetic"

[[traffic.streams]]
model = "{SMALL}"
rate = {rate}
prompt = {{ distribution = "lognormal", median = 600, sigma = 0.8, max = 4096 }}
output = {{ distribution = "fixed", tokens = 120 }}

[[traffic.streams]]
model = "Qwen/Qwen3-8B-Instruct"
rate = 2.0
prompt = {{ distribution = "lognormal", median = 600, sigma = 0.8, max = 4096 }}
output = {{ distribution = "fixed", tokens = 120 }}

[slo]
ttft = "1s"
tpot = "60ms"

[plan]
layouts = ["SPX", "CPX/NPS1"]
precisions = ["int4"]
rate_scales = [0.5, 1.0]
"#
    )
}

/// Runs `aimsim plan FILE --shard K/N` for every K into `dir`; the
/// shard folders.
fn shards(dir: &Path, file: &Path, count: u32) -> Vec<PathBuf> {
    (1..=count)
        .map(|k| {
            let out = dir.join(format!("shard-{k}"));
            aimsim(&[
                "plan",
                file.to_str().unwrap(),
                "--shard",
                &format!("{k}/{count}"),
                "--out",
                out.to_str().unwrap(),
            ])
            .expect_code(0);
            out
        })
        .collect()
}

fn merge(dirs: &[&Path], out: &Path) -> crate::support::Run {
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    aimsim(&args)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn merged_shards_give_the_whole_plan_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.toml");
    fs::write(&file, scenario(6.0)).unwrap();
    let whole = dir.path().join("whole");
    aimsim(&[
        "plan",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        whole.to_str().unwrap(),
    ])
    .expect_code(0);
    let parts = shards(dir.path(), &file, 3);
    // Four units over three shards: every unit measured exactly once.
    let units: usize = parts
        .iter()
        .map(|p| {
            let text = fs::read_to_string(p.join("measurements.csv")).unwrap();
            let mut seen: Vec<&str> = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap())
                .collect();
            seen.dedup();
            seen.len()
        })
        .sum();
    assert_eq!(units, 4);
    let merged = dir.path().join("merged");
    let refs: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
    merge(&refs, &merged).expect_code(0);
    let (a, b) = (files(&whole), files(&merged));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between the whole plan and the merge"
        );
    }
}

#[test]
fn merge_refuses_shards_that_do_not_make_one_plan() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.toml");
    fs::write(&file, scenario(6.0)).unwrap();
    let parts = shards(dir.path(), &file, 2);
    let out = dir.path().join("merged");
    let refused = |dirs: &[&Path], expected: &str| {
        let run = merge(dirs, &out);
        assert_ne!(run.code, 0, "{dirs:?}");
        assert!(run.stderr.contains(expected), "{dirs:?}: {}", run.stderr);
        assert!(!out.exists(), "{dirs:?} left a report");
    };
    refused(&[&parts[0]], "shard 2/2 is missing");
    refused(&[&parts[0], &parts[0]], "shard 1/2 is given twice");
    // Another plan's shard.
    let other_file = dir.path().join("other.toml");
    fs::write(&other_file, scenario(7.0)).unwrap();
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    let other_parts = shards(&other, &other_file, 2);
    refused(
        &[&parts[0], &other_parts[1]],
        "a shard of a different scenario",
    );
    // Measurements cut short.
    let cut = dir.path().join("cut");
    fs::create_dir(&cut).unwrap();
    for name in ["shard.json", "measurements.csv"] {
        fs::copy(parts[1].join(name), cut.join(name)).unwrap();
    }
    let text = fs::read_to_string(cut.join("measurements.csv")).unwrap();
    let kept: Vec<&str> = text.lines().take(text.lines().count() - 1).collect();
    fs::write(cut.join("measurements.csv"), kept.join("\n") + "\n").unwrap();
    refused(&[&parts[0], &cut], "incomplete or from another plan");
    // The scenario edited after the shards ran.
    fs::write(&file, scenario(6.0).replace("seed = 5", "seed = 6")).unwrap();
    refused(&[&parts[0], &parts[1]], "changed since the shards ran");
    // A sweep's shard and a plan's do not mix.
    let sweep = dir.path().join("sweep");
    fs::create_dir(&sweep).unwrap();
    fs::write(sweep.join("shard.json"), "{\"aimsim\": \"0.1.0\"}").unwrap();
    refused(&[&parts[0], &sweep], "not a serving plan's shard");
}

#[test]
fn shard_is_refused_where_it_does_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.toml");
    fs::write(&file, scenario(6.0) + "mixed = false\n").unwrap();
    let run = aimsim(&["plan", file.to_str().unwrap(), "--shard", "1/2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("plan.mixed is false"), "{}", run.stderr);
    let deployment = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/fp16-vs-int4.toml");
    let run = aimsim(&["plan", deployment, "--shard", "1/2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("aimsim sweep --shard"),
        "{}",
        run.stderr
    );
    let run = aimsim(&["plan", file.to_str().unwrap(), "--shard", "3/2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}
