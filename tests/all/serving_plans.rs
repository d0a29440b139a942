//! `aimsim plan` on serving scenarios: the committed study is reproduced,
//! an answer meets the SLO when simulated again and one GPU less was tried
//! and missed, an impossible SLO is an answer and not a search, and bad
//! plans are refused with the key.

use std::path::Path;

use aimsim::capacity::{plan, Cell, PlanContext, RatedTraffic, Stage, Verdict};
use aimsim::hardware::{GpuKind, LayoutSpec, NodeShape};
use aimsim::perf::FITTED;
use aimsim::profile::{ArchitectureTable, Catalog, Precision};
use aimsim::schedule::Policy;
use aimsim::serve::traffic::{
    ArrivalPattern, LengthDistribution, Recorded, Stream, SyntheticTraffic, Target, MAX_RECORDED,
};
use aimsim::serve::{EngineConfig, Routing, ServingPolicy, Slo};
use aimsim::time::Nanos;

use crate::support::{aimsim, csv_records, files};

/// Runs `aimsim plan scenarios/NAME.toml` on `threads` threads and checks
/// it writes exactly the committed `reports/NAME/plan/`.
fn reproduces_committed_plan(name: &str, threads: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan");
    let scenario = format!("scenarios/{name}.toml");
    aimsim(&[
        "plan",
        &scenario,
        "--threads",
        threads,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports")
        .join(name)
        .join("plan");
    let (fresh, kept) = (files(&out), files(&committed));
    assert_eq!(
        fresh.iter().map(|f| &f.0).collect::<Vec<_>>(),
        kept.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((file, a), (_, b)) in fresh.iter().zip(&kept) {
        assert!(a == b, "reports/{name}/plan/{file} differs from what `aimsim plan {scenario}` writes now; regenerate it if the change is intended");
    }
}

#[test]
fn the_committed_serving_plan_is_reproduced_exactly_on_one_thread() {
    // The committed report was written on two threads: one gives the same bytes.
    reproduces_committed_plan("serving-fp16-vs-int4", "1");
}

#[test]
fn the_committed_mixed_plans_are_reproduced_exactly() {
    reproduces_committed_plan("serving-mixed", "2");
    reproduces_committed_plan("serving-catalog", "2");
}

/// Chat-like lengths (the shipped study's shape, shortened).
fn lengths() -> (LengthDistribution, LengthDistribution) {
    (
        LengthDistribution::LogNormal {
            median: 800.0,
            sigma: 0.8,
            max: 4096,
        },
        LengthDistribution::LogNormal {
            median: 150.0,
            sigma: 0.7,
            max: 1024,
        },
    )
}

pub(crate) fn traffic(models: &[(&str, f64)], seconds: u64) -> Recorded {
    let (prompt, output) = lengths();
    let streams = models
        .iter()
        .map(|(model, rate)| Stream {
            target: Target {
                model: model.to_string(),
                precision: None,
            },
            rate: *rate,
            arrivals: ArrivalPattern::Poisson,
            prompt: prompt.clone(),
            output: output.clone(),
            priority: 0,
        })
        .collect();
    let mut source = SyntheticTraffic::new(streams, 5, None, Some(Nanos(seconds * 1_000_000_000)));
    Recorded::record(&mut source, MAX_RECORDED).unwrap()
}

pub(crate) fn context<'a>(
    catalog: &'a Catalog,
    architectures: &'a ArchitectureTable,
    slo: Slo,
) -> PlanContext<'a> {
    PlanContext {
        catalog,
        architectures,
        measured: None,
        efficiency: FITTED,
        engine: EngineConfig::default(),
        routing: Routing::LeastOutstanding,
        slo,
        seed: 3,
        warmup: Nanos(10_000_000_000),
        max_in_system: aimsim::serve::DEFAULT_MAX_IN_SYSTEM,
        max_gpus: 64,
        node: NodeShape::REFERENCE,
    }
}

fn cell(layout: &str, precision: Precision) -> Cell {
    Cell {
        kind: GpuKind::Mi300x,
        layout: layout.parse::<LayoutSpec>().unwrap(),
        precision,
        policy: ServingPolicy::Memory(Policy::BestFit),
        traffic: 0,
    }
}

pub(crate) const SMALL: &str = "meta-llama/Llama-3.1-8B-Instruct";
pub(crate) const LARGE: &str = "Qwen/Qwen3-32B-Instruct";

/// A chat SLO at p95: TTFT 1 s, TPOT 50 ms.
pub(crate) fn chat_slo() -> Slo {
    Slo {
        ttft: Some(1.0),
        tpot: Some(0.05),
        e2e: None,
        percentile: 0.95,
    }
}

#[test]
fn an_answer_meets_the_slo_again_and_one_gpu_less_was_tried_and_missed() {
    let catalog = Catalog::builtin();
    let architectures = ArchitectureTable::builtin();
    let context = context(&catalog, &architectures, chat_slo());
    let recorded = traffic(&[(SMALL, 12.0), (LARGE, 3.0)], 120);
    let rated = [RatedTraffic {
        rate_scale: 1.0,
        recorded: recorded.clone(),
    }];
    let cells = [
        cell("SPX", Precision::Fp16),
        cell("DPX/NPS2", Precision::Int4),
    ];
    let plans = plan(&context, &cells, &rated, |_| {}).unwrap();
    let models = [SMALL.to_string(), LARGE.to_string()];
    for p in &plans {
        assert_eq!(p.verdict, Verdict::Met, "{:?}", p.cell);
        let answer = p.answer.as_ref().unwrap();
        assert!(answer.met());
        // Simulated again, the same configuration gives the same figures.
        let order: Vec<usize> = (0..models.len()).collect();
        let again = aimsim::capacity::evaluate::evaluate(
            &context,
            &p.cell,
            &models,
            &order,
            &answer.replicas,
            &answer.memory,
            answer.gpus,
            p.cell.policy,
            &recorded,
        )
        .unwrap();
        assert!(again.met(), "{again:?}");
        // One GPU less was the last thing tried, and it missed.
        if answer.gpus > 1 {
            let last = p.steps.last().unwrap();
            assert_eq!(last.stage, Stage::Trim);
            assert_eq!(last.evaluation.gpus, answer.gpus - 1);
            assert!(!last.evaluation.met());
        }
        // Each model got at least its isolated minimum, and that minimum
        // is tight: it met alone and one replica fewer did not.
        for m in 0..models.len() {
            let n = p.isolated[m];
            assert!(answer.replicas[m] >= n);
            let alone = |k: u32| {
                p.steps
                    .iter()
                    .find(|s| s.stage == Stage::Isolated(m) && s.evaluation.replicas[m] == k)
            };
            assert!(alone(n).unwrap().evaluation.met());
            if n > 1 {
                assert!(!alone(n - 1).unwrap().evaluation.met());
            }
        }
    }
}

#[test]
fn a_target_below_the_physics_of_one_prompt_is_unreachable_without_a_search() {
    let catalog = Catalog::builtin();
    let architectures = ArchitectureTable::builtin();
    let slo = Slo {
        ttft: Some(0.005),
        tpot: None,
        e2e: None,
        percentile: 0.99,
    };
    let context = context(&catalog, &architectures, slo);
    let rated = [RatedTraffic {
        rate_scale: 1.0,
        recorded: traffic(&[(SMALL, 2.0)], 60),
    }];
    let plans = plan(&context, &[cell("SPX", Precision::Fp16)], &rated, |_| {}).unwrap();
    let p = &plans[0];
    match &p.verdict {
        Verdict::Unreachable(reason) => assert!(reason.contains("TTFT alone"), "{reason}"),
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(p.steps.is_empty(), "nothing is simulated");
    assert!(p.floors[0].attainable < 0.99);
}

#[test]
fn a_model_that_cannot_fit_a_layout_says_so_and_the_others_still_plan() {
    let catalog = Catalog::builtin();
    let architectures = ArchitectureTable::builtin();
    let context = context(&catalog, &architectures, Slo::default());
    let rated = [RatedTraffic {
        rate_scale: 1.0,
        recorded: traffic(&[(LARGE, 1.0)], 60),
    }];
    let plans = plan(
        &context,
        &[
            cell("CPX/NPS4", Precision::Fp16),
            cell("SPX", Precision::Fp16),
        ],
        &rated,
        |_| {},
    )
    .unwrap();
    match &plans[0].verdict {
        Verdict::DoesNotFit(reason) => assert!(reason.contains("24 GiB"), "{reason}"),
        other => panic!("expected does-not-fit, got {other:?}"),
    }
    assert_eq!(plans[1].verdict, Verdict::Met);
}

const PLAN_ONLY: &str = r#"
name = "tiny-plan"
[run]
seed = 1
horizon = "1m"
warmup = "10s"
[fleet]
policy = "best-fit"
[traffic]
source = "synthetic"
[[traffic.streams]]
model = "meta-llama/Llama-3.1-8B-Instruct"
rate = 2.0
prompt = { distribution = "quantiles", points = [[0.0, 100], [0.5, 800], [1.0, 3000]] }
output = { distribution = "fixed", tokens = 100 }
[slo]
ttft = "2s"
tpot = "100ms"
[plan]
layouts = ["SPX", "CPX/NPS4"]
precisions = ["int4"]
"#;

#[test]
fn a_plan_only_scenario_plans_and_prints_as_asked_but_does_not_serve() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, PLAN_ONLY).unwrap();
    let out = dir.path().join("out");
    let run = aimsim(&[
        "plan",
        scenario.to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    // Printed: the mixed plan's row (one rate); written: every cell too.
    let mixed = csv_records(&run.stdout);
    let cells = csv_records(&std::fs::read_to_string(out.join("plan.csv")).unwrap());
    assert_eq!(mixed.len(), 1);
    assert_eq!(cells.len(), 2);
    for row in mixed.iter().chain(&cells) {
        assert_eq!(row["verdict"], "met", "{row:?}");
        assert_eq!(
            row["gpus"], "1",
            "2 req/s of an 8B model fit one GPU: {row:?}"
        );
        assert!(row["cost_per_hour"].is_empty(), "no [prices]: no cost");
    }
    for file in [
        "plan.csv",
        "mixed.csv",
        "configs.csv",
        "models.csv",
        "searches.csv",
        "summary.md",
        "pareto-x1.svg",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // One rate: no chart against the rate.
    assert!(!out.join("gpus-vs-rate.svg").exists());
    // JSON gives the packed columns as objects (`replicas` was the string
    // "model=1" once).
    let json = aimsim(&[
        "plan",
        scenario.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        dir.path().join("json").to_str().unwrap(),
    ])
    .expect_code(0);
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let row = &rows[0];
    assert_eq!(row["gpus"], 1, "{row}");
    let model = "meta-llama/Llama-3.1-8B-Instruct";
    assert!(
        row["configurations"][model]
            .as_str()
            .unwrap()
            .starts_with("int4 MI300X"),
        "{row}"
    );
    let by_mode = row["gpus_by_mode"].as_object().unwrap();
    assert_eq!(
        by_mode.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        1,
        "{row}"
    );
    let serve = aimsim(&["serve", scenario.to_str().unwrap()]).expect_code(2);
    assert!(
        serve.stderr.contains("no [[deployments]]"),
        "{}",
        serve.stderr
    );
    let seeds = aimsim(&["plan", scenario.to_str().unwrap(), "--seeds", "3"]).expect_code(2);
    assert!(seeds.stderr.contains("[slo]"), "{}", seeds.stderr);
}

#[test]
fn bad_plans_are_refused_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, PLAN_ONLY).unwrap();
    let path = scenario.to_str().unwrap();
    for (set, key) in [
        ("plan.layouts=[]", "plan.layouts"),
        ("plan.rate_scales=[0.0]", "plan.rate_scales[0]"),
        // Slower than 1/10,000 would stretch arrivals past the clock.
        ("plan.rate_scales=[1.0, 1e-9]", "plan.rate_scales[1]"),
        ("plan.max_gpus=0", "plan.max_gpus"),
        // A price past a million per GPU-hour made costs infinite.
        ("prices.MI300X=1e308", "prices.MI300X"),
        ("plan.precisions=[\"fp4\"]", "plan.precisions[0]"),
        ("plan.layouts=[\"QPX/NPS9\"]", "plan.layouts[0]"),
        ("plan.precisions=[\"int8\", \"int4\", \"int8\"]", "key `plan.precisions`: lists int8 twice"),
        ("plan.policies=[\"best-fit\", \"Best-Fit\"]", "key `plan.policies`: lists best-fit twice"),
        ("plan.rate_scales=[1.0, 1]", "key `plan.rate_scales`: lists 1 twice"),
        ("plan.policies=[\"stacked\"]", "plan.policies[0]"),
        ("plan.colour=1", "colour"),
        (
            "traffic.streams.0.prompt={ distribution = \"quantiles\", points = [[0.0, 100], [0.5, 50], [1.0, 300]] }",
            "traffic.streams[0].prompt",
        ),
        (
            "traffic.streams.0.prompt={ distribution = \"quantiles\", points = [[0.1, 100], [1.0, 300]] }",
            "traffic.streams[0].prompt",
        ),
    ] {
        let run = aimsim(&["plan", path, "--set", set]).expect_code(1);
        assert!(run.stderr.contains(key), "{set}: {}", run.stderr);
        assert!(run.stderr.contains(path), "{set}: names the file: {}", run.stderr);
    }
    let run = aimsim(&[
        "plan",
        path,
        "--set",
        "traffic.streams.0.precision=\"int8\"",
    ])
    .expect_code(2);
    assert!(run.stderr.contains("names a precision"), "{}", run.stderr);
}

/// A plan over the Azure-format trace fixture at a stated rate.
const TRACE_AT_A_RATE: &str = r#"
name = "trace-rate-plan"
[run]
seed = 1
horizon = "2m"
warmup = "10s"
[traffic]
source = "azure"
rate = 3.0
[[traffic.models]]
model = "meta-llama/Llama-3.1-8B-Instruct"
[slo]
ttft = "1s"
tpot = "50ms"
[plan]
layouts = ["CPX/NPS1"]
precisions = ["int8"]
rate_scales = [1.0, 2.0]
"#;

#[test]
fn a_plan_at_a_stated_trace_rate_plans_that_window_and_its_answer_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("trace.toml");
    std::fs::write(&scenario, TRACE_AT_A_RATE).unwrap();
    let trace = format!(
        "{}/tests/fixtures/azure_format_small.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = dir.path().join("out");
    aimsim(&[
        "plan",
        scenario.to_str().unwrap(),
        "--trace",
        &trace,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    // The measured window (10 s to 2 min) holds about the stated rate.
    let cells = csv_records(&std::fs::read_to_string(out.join("plan.csv")).unwrap());
    for (row, rate) in cells.iter().zip([3.0, 6.0]) {
        let measured: f64 = row["requests_per_s"].parse().unwrap();
        assert!(
            (measured / rate - 1.0).abs() < 0.1,
            "{measured} req/s measured for {rate}: {row:?}"
        );
    }
    // The answer states the rate it was planned at, and replays the plan.
    let answer = out.join("answer-mixed-x2.toml");
    let text = std::fs::read_to_string(&answer).unwrap();
    assert!(text.contains("rate = 6.0"), "{text}");
    assert!(!text.contains("rate_scale"), "{text}");
    let mixed = csv_records(&std::fs::read_to_string(out.join("mixed.csv")).unwrap());
    let served = dir.path().join("served");
    aimsim(&[
        "serve",
        answer.to_str().unwrap(),
        "--out",
        served.to_str().unwrap(),
    ])
    .expect_code(0);
    let summary = csv_records(&std::fs::read_to_string(served.join("summary.csv")).unwrap());
    let attainment = summary
        .iter()
        .find(|r| r["metric"] == "slo_attainment")
        .map(|r| r["value"].clone())
        .unwrap();
    assert_eq!(attainment, mixed[1]["attainment"]);
}

#[test]
fn requests_longer_than_the_context_are_named_not_searched() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, PLAN_ONLY).unwrap();
    let run = aimsim(&[
        "plan",
        scenario.to_str().unwrap(),
        "--set",
        "traffic.streams.0.prompt={ distribution = \"fixed\", tokens = 200000 }",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains(
            "ask for more tokens than its context of 131072 (the longest 200100), and every engine refuses them"
        ),
        "{}",
        run.stderr
    );
}
