//! What a replica delivers for a fixed request shape, from its step-time
//! model: the batch latency vLLM's `benchmark_latency.py` measures, and the
//! steady-state throughput of an offline run (`benchmark_throughput.py`,
//! MLPerf Offline).

use serde::Serialize;

use super::replica::{Batch, ReplicaModel};

/// One batch of identical requests run together, as `benchmark_latency.py`
/// does: every prompt prefilled (in chunks of the engine's token budget),
/// then one decode step per further output token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BatchLatency {
    /// Requests in the batch.
    pub batch: u32,
    /// Seconds until every request has its first token (the prefill).
    pub ttft_s: f64,
    /// Mean seconds per output token after the first.
    pub tpot_s: f64,
    /// Seconds until the last token.
    pub e2e_s: f64,
    /// Output tokens per second of the replica.
    pub tokens_per_s: f64,
}

/// Runs a batch of `batch` requests of `input` prompt and `output` output
/// tokens on `model`, `busy` replicas sharing its device.
pub fn batch_latency(
    model: &ReplicaModel,
    batch: u32,
    input: u32,
    output: u32,
    busy: u32,
) -> BatchLatency {
    let window = model.window();
    let budget = model.limits().max_batched_tokens.max(1);
    // Prefill: prompts packed into iterations of at most `budget` tokens,
    // a prompt split across iterations where it does not fit.
    let mut ttft = 0.0;
    let mut step = Batch::default();
    let mut room = budget;
    for _ in 0..batch {
        let mut done = 0;
        while done < input {
            let take = (input - done).min(room);
            step.add_prefill(take, done, window, done + take == input);
            done += take;
            room -= take;
            if room == 0 {
                ttft += model.step_time(&step, busy);
                step = Batch::default();
                room = budget;
            }
        }
    }
    if !step.is_empty() {
        ttft += model.step_time(&step, busy);
    }
    // Decode: every request one token per step, contexts growing together.
    let mut decode = 0.0;
    for k in 1..output {
        decode += model.step_time(&Batch::decodes(batch, input + k, window), busy);
    }
    let e2e = ttft + decode;
    BatchLatency {
        batch,
        ttft_s: ttft,
        tpot_s: if output > 1 {
            decode / f64::from(output - 1)
        } else {
            0.0
        },
        e2e_s: e2e,
        tokens_per_s: f64::from(batch) * f64::from(output) / e2e,
    }
}

/// Output tokens per second of an offline run in steady state: `concurrency`
/// requests of `input` + `output` tokens in flight (capped by the cache and
/// the engine), each finished one replaced by a new prompt. An iteration
/// decodes one token of every running request and prefills new prompts at
/// the rate requests finish (`concurrency x input / output` tokens), split
/// over more iterations when that exceeds the token budget. The ramp-up and
/// the drain at the end of a finite run are left out.
pub fn offline_throughput(
    model: &ReplicaModel,
    input: u32,
    output: u32,
    concurrency: u32,
    busy: u32,
) -> f64 {
    let running = concurrency.min(model.max_batch(input + output)).max(1);
    let window = model.window();
    let mean_context = input + output / 2;
    let prefill_tokens = f64::from(running) * f64::from(input) / f64::from(output.max(1));
    let budget = f64::from(model.limits().max_batched_tokens);
    let work = f64::from(running) + prefill_tokens;
    let iterations = (work / budget).ceil().max(1.0);
    // One of `iterations` equal iterations: its share of the decodes and of
    // the prompts (whole prompts, as many as the share holds).
    let decodes = (f64::from(running) / iterations).round().max(1.0) as u32;
    let mut step = Batch::decodes(decodes, mean_context, window);
    let prompts = prefill_tokens / iterations / f64::from(input.max(1));
    let whole = prompts.floor() as u32;
    for _ in 0..whole {
        step.add_prefill(input, 0, window, true);
    }
    let rest = ((prompts - f64::from(whole)) * f64::from(input)).round() as u32;
    if rest > 0 {
        step.add_prefill(rest, 0, window, false);
    }
    let seconds = model.step_time(&step, busy) * iterations;
    f64::from(running) / seconds
}
