//! aimsim's engines against vLLM's own schedulers, step by step.
//!
//! `tests/fixtures/vllm/streams.jsonl.gz` holds request streams and, for
//! each step, what vLLM 0.33.0's V1 `Scheduler` decided: the requests
//! scheduled with their token counts (in vLLM's order), the requests
//! preempted, the requests finished and the free cache blocks.
//! `tests/fixtures/vllm/v0_streams.jsonl.gz` holds the same for vLLM
//! 0.7.3's V0 scheduler. `bash benches/python/vllm_fixtures.sh [v1|v0]`
//! writes them, running vLLM on a CPU with its model runner mocked. Each stream is replayed
//! here through the matching engine ([`VllmV1`], [`VllmV0`]) stepped
//! without time; every step must match. No divergence is allowed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::read::GzDecoder;
use serde::Deserialize;

use aimsim::perf::EngineLimits;
use aimsim::serve::engine::{
    BatchingEngine, EngineConfig, Outcome, SchedulerKind, SchedulingPolicy, Seq, VllmV0, VllmV1,
};

/// The fixture files, the scheduler each records, and the fewest streams
/// each must hold.
const FIXTURES: [(&str, SchedulerKind, usize); 2] = [
    ("streams.jsonl.gz", SchedulerKind::VllmV1, 300),
    ("v0_streams.jsonl.gz", SchedulerKind::VllmV0, 200),
];

#[derive(Debug, Deserialize)]
struct Stream {
    name: String,
    config: Config,
    /// `[id, arrival_step, prompt, output, priority]`.
    requests: Vec<(u32, u32, u32, u32, i32)>,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Config {
    num_gpu_blocks: u32,
    block_size: u32,
    max_num_seqs: u32,
    max_num_batched_tokens: u32,
    chunked_prefill: bool,
    long_prefill_token_threshold: u32,
    policy: String,
    max_model_len: u32,
    /// V0's admission watermark, a share of the blocks.
    watermark: Option<f64>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Step {
    /// Scheduled `[id, tokens]`, in vLLM's order.
    s: Vec<(u32, u32)>,
    /// Preempted ids, ascending.
    p: Vec<u32>,
    /// Finished ids, ascending.
    f: Vec<u32>,
    /// Free blocks after the step.
    free: u32,
}

fn streams(file: &str) -> Vec<Stream> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vllm")
        .join(file);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(GzDecoder::new(file))
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1));
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn engine_config(c: &Config, scheduler: SchedulerKind) -> EngineConfig {
    EngineConfig {
        limits: EngineLimits {
            max_seqs: c.max_num_seqs,
            max_batched_tokens: c.max_num_batched_tokens,
            ..EngineLimits::default()
        },
        chunked_prefill: c.chunked_prefill,
        block_size: c.block_size,
        policy: SchedulingPolicy::from_name(&c.policy).expect("fcfs or priority"),
        long_prefill_token_threshold: c.long_prefill_token_threshold,
        kv_blocks: Some(c.num_gpu_blocks),
        scheduler,
        ..EngineConfig::default()
    }
}

/// Replays `stream` through the engine of `scheduler`; the first step
/// that differs, described.
fn replay(stream: &Stream, scheduler: SchedulerKind) -> Result<(), String> {
    let config = engine_config(&stream.config, scheduler);
    config.check().map_err(|e| e.to_string())?;
    if let Some(watermark) = stream.config.watermark {
        assert_eq!(
            watermark, 0.01,
            "{}: aimsim's V0 keeps vLLM's 1%",
            stream.name
        );
    }
    let blocks = config.usable_blocks(0);
    let mut engine: Box<dyn BatchingEngine> = match scheduler {
        SchedulerKind::VllmV1 => Box::new(VllmV1::new(config, blocks, 0)),
        SchedulerKind::VllmV0 => Box::new(VllmV0::new(config, blocks, 0)),
    };
    let longest = config
        .longest_request(engine.blocks_total())
        .min(u64::from(stream.config.max_model_len));
    let mut arrivals: BTreeMap<u32, Vec<Seq>> = BTreeMap::new();
    for &(id, step, prompt, output, priority) in &stream.requests {
        assert!(
            u64::from(prompt + output) <= longest,
            "{}: request {id} longer than the engine accepts",
            stream.name
        );
        arrivals.entry(step).or_default().push(Seq {
            id,
            prompt,
            output,
            priority,
        });
    }
    let (mut admitted, mut outcomes) = (Vec::new(), Vec::new());
    for (k, expected) in stream.steps.iter().enumerate() {
        for seq in arrivals.remove(&(k as u32)).unwrap_or_default() {
            engine.enqueue(seq);
        }
        engine.plan(&mut admitted);
        let s: Vec<(u32, u32)> = engine.core().scheduled().collect();
        let mut p = engine.core().preempted_in_plan().to_vec();
        p.sort_unstable();
        outcomes.clear();
        engine.complete(&mut outcomes);
        let mut f: Vec<u32> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Finished(id) => Some(*id),
                Outcome::FirstToken(_) => None,
            })
            .collect();
        f.sort_unstable();
        let got = Step {
            s,
            p,
            f,
            free: engine.core().blocks_free(),
        };
        if got != *expected {
            return Err(format!(
                "step {k}:\n  vLLM:   {expected:?}\n  aimsim: {got:?}"
            ));
        }
    }
    if engine.outstanding() > 0 || !arrivals.is_empty() {
        return Err(format!(
            "vLLM finished every request in {} steps; aimsim has {} left",
            stream.steps.len(),
            engine.outstanding()
        ));
    }
    Ok(())
}

/// Replays every stream of fixture `index` of [`FIXTURES`].
fn every_step_matches(index: usize) {
    let (file, scheduler, least) = FIXTURES[index];
    let streams = streams(file);
    assert!(
        streams.len() >= least,
        "{} streams in {file}, at least {least} expected",
        streams.len()
    );
    let mut failures = Vec::new();
    let (mut steps, mut preemptions) = (0usize, 0usize);
    for stream in &streams {
        steps += stream.steps.len();
        preemptions += stream.steps.iter().map(|s| s.p.len()).sum::<usize>();
        if let Err(why) = replay(stream, scheduler) {
            failures.push(format!("{}: {why}", stream.name));
        }
    }
    eprintln!(
        "{} against {file}: {} streams, {steps} steps, {preemptions} preemptions; {} differ, 0 divergences allowed",
        scheduler.name(),
        streams.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} streams differ from vLLM:\n{}",
        failures.len(),
        streams.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_step_matches_vllm_v1() {
    every_step_matches(0);
}

#[test]
fn every_step_matches_vllm_v0() {
    every_step_matches(1);
}

/// The case that showed the old engine thrashing (250 preemptions): three
/// requests of 15,000 prompt and 2,000 output tokens on 2,167 blocks. vLLM
/// runs two, holds the third until the first finishes, and never preempts.
#[test]
fn three_long_requests_run_without_preemption() {
    let streams = streams(FIXTURES[0].0);
    let stream = streams
        .iter()
        .find(|s| s.name == "three-long-requests")
        .expect("the named case is in the fixtures");
    replay(stream, SchedulerKind::VllmV1).unwrap();
    let preempted: usize = stream.steps.iter().map(|s| s.p.len()).sum();
    assert_eq!(preempted, 0);
    let first_step_of = |id: u32| {
        stream
            .steps
            .iter()
            .position(|s| s.s.iter().any(|&(r, _)| r == id))
    };
    let finish_of = |id: u32| stream.steps.iter().position(|s| s.f.contains(&id));
    assert!(
        first_step_of(2) > finish_of(0),
        "the third request waits until the first finishes"
    );
    assert_eq!(first_step_of(1), Some(1), "the second joins at once");
    eprintln!(
        "three long requests: {} steps in vLLM and in aimsim",
        stream.steps.len()
    );
}
