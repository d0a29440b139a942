//! Precision fallback: a deployment that fits nowhere at its precision is
//! placed at the next lower one that fits, only then, and counted apart.

use std::fs;

use crate::support::{aimsim, csv_records};

const EIGHT_B: &str = "meta-llama/Llama-3.1-8B-Instruct";
const FOURTEEN_B: &str = "Qwen/Qwen3-14B-Instruct";

fn place_csv(extra: &[&str]) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut args = vec!["place", "--partitions", "40,40", "--format", "csv"];
    args.extend(extra);
    let run = aimsim(&args);
    csv_records(&run.stdout)
}

#[test]
fn place_falls_back_only_when_the_asked_precision_does_not_fit_and_only_down() {
    let requests = [EIGHT_B, EIGHT_B, EIGHT_B, FOURTEEN_B, FOURTEEN_B];
    let without = place_csv(&requests);
    let mut args = vec!["--fallback"];
    args.extend(requests);
    let with = place_csv(&args);
    assert_eq!(with.len(), requests.len());
    let rank = |p: &str| {
        ["fp16", "int8", "int4"]
            .iter()
            .position(|q| *q == p)
            .unwrap()
    };
    let first = with
        .iter()
        .position(|r| r["status"] == "fallback")
        .expect("the 14B replica cannot fit at FP16");
    // Up to the first fallback both runs decide the same; there, the run
    // without fallback rejects.
    for (a, b) in without.iter().zip(&with).take(first) {
        assert_eq!(a, b);
    }
    assert_eq!(without[first]["status"], "rejected");
    for r in &with {
        if r["status"] == "fallback" {
            assert!(
                rank(&r["precision"]) > rank(&r["requested_precision"]),
                "{r:?}"
            );
        } else {
            assert_eq!(r["requested_precision"], "", "{r:?}");
        }
    }
    let placed = |rows: &[std::collections::BTreeMap<String, String>]| {
        rows.iter().filter(|r| r["status"] != "rejected").count()
    };
    // One more placed here; in general a fallback replica may take room a
    // later request would have had, so the count is not monotone.
    assert_eq!(placed(&with), placed(&without) + 1);
}

#[test]
fn simulate_counts_fallback_placements_apart_and_changes_nothing_when_all_fit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let mut args = vec![
            "simulate",
            "scenarios/fp16-vs-int4.toml",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        aimsim(&args).expect_code(0);
        let metrics: std::collections::BTreeMap<String, String> =
            csv_records(&fs::read_to_string(out.join("metrics.csv")).unwrap())
                .into_iter()
                .map(|r| (r["metric"].clone(), r["value"].clone()))
                .collect();
        let by_class = csv_records(&fs::read_to_string(out.join("fit_by_class.csv")).unwrap());
        (metrics, by_class)
    };
    let (plain, _) = run(&[], "plain");
    let (fallback, by_class) = run(&["--fallback"], "fallback");
    let number =
        |m: &std::collections::BTreeMap<String, String>, k: &str| -> f64 { m[k].parse().unwrap() };
    // The 32 GPUs are full at FP16: fallback places more, and says how many.
    assert!(number(&fallback, "placed_by_fallback") > 0.0);
    assert!(number(&fallback, "fit_rate") > number(&plain, "fit_rate"));
    let per_class: f64 = by_class
        .iter()
        .map(|r| r["placed_by_fallback"].parse::<f64>().unwrap())
        .sum();
    assert_eq!(per_class, number(&fallback, "placed_by_fallback"));
    assert!(!plain.contains_key("placed_by_fallback"));
    // On a fleet large enough for everything at FP16, fallback never fires
    // and every other figure is unchanged.
    let big = ["--set", "fleet.gpus.0.count=400"];
    let (plain_big, _) = run(&big, "plain_big");
    let mut args = big.to_vec();
    args.push("--fallback");
    let (fallback_big, _) = run(&args, "fallback_big");
    assert_eq!(number(&fallback_big, "placed_by_fallback"), 0.0);
    for (key, value) in &plain_big {
        assert_eq!(&fallback_big[key], value, "{key}");
    }
}
