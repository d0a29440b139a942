//! One replica's batching engine: which requests run in the next iteration,
//! with how many tokens each, and what the key/value cache holds.
//!
//! The engine is a seam ([`BatchingEngine`]): the serving loop plans an
//! iteration, times it with the performance model, and completes it, without
//! knowing how the batch was chosen. [`VllmV1`] decides as vLLM V1's
//! scheduler does, step for step (checked against vLLM's own `Scheduler` by
//! the fixtures of `tests/fixtures/vllm/`); another scheduler (Sarathi,
//! Orca, SGLang's) would be a second implementation of the same trait.

mod vllm_v1;
mod waiting;

pub use vllm_v1::VllmV1;

use crate::perf::{Batch, EngineLimits, KvCache};

/// Largest key/value-cache block, in tokens.
pub const MAX_BLOCK_SIZE: u32 = 1024;

/// Most cache blocks an engine may be given (`engine.kv_blocks`): 2^31, far
/// beyond any device (an MI355X's 288 GB holds about 2.3 M blocks of 16
/// tokens of an 8B model).
pub const MAX_KV_BLOCKS: u32 = 1 << 31;

/// In which order waiting requests are admitted and running ones preempted
/// (vLLM's `--scheduling-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulingPolicy {
    /// First come, first served; the latest admitted is preempted first.
    #[default]
    Fcfs,
    /// Lower `priority` value first (ties by arrival); the running request
    /// with the highest value (latest arrival among equals) is preempted
    /// first.
    Priority,
}

impl SchedulingPolicy {
    /// vLLM's name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            SchedulingPolicy::Fcfs => "fcfs",
            SchedulingPolicy::Priority => "priority",
        }
    }

    /// The policy named `name` (vLLM's names).
    pub fn from_name(name: &str) -> Option<SchedulingPolicy> {
        match name {
            "fcfs" => Some(SchedulingPolicy::Fcfs),
            "priority" => Some(SchedulingPolicy::Priority),
            _ => None,
        }
    }
}

/// The engine's settings (vLLM's names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Sequences and tokens per iteration, and the memory the engine takes
    /// (shared with the performance model).
    pub limits: EngineLimits,
    /// Whether prompts are split across iterations and share them with
    /// decodes (`enable_chunked_prefill`).
    pub chunked_prefill: bool,
    /// Tokens per key/value-cache block (`block_size`).
    pub block_size: u32,
    /// Bits of the key/value cache (`kv_cache_dtype`).
    pub kv_cache: KvCache,
    /// Admission and preemption order (`scheduling_policy`).
    pub policy: SchedulingPolicy,
    /// Most prompt tokens one request is given per iteration when others
    /// are waiting or running (`long_prefill_token_threshold`; 0: no cap).
    pub long_prefill_token_threshold: u32,
    /// Cache blocks, pinned (`num_gpu_blocks_override`), one of them
    /// vLLM's null block; `None`: as many as the replica's memory holds.
    pub kv_blocks: Option<u32>,
}

impl Default for EngineConfig {
    /// vLLM V1's defaults: 256 sequences, 8192 tokens, chunked prefill,
    /// 16-token blocks of a 16-bit cache, first come first served, no
    /// long-prefill cap; the engine takes all of its replica's memory (AIM
    /// hands vLLM the profile's quota as its share).
    fn default() -> Self {
        EngineConfig {
            limits: EngineLimits {
                memory_utilization: 1.0,
                ..EngineLimits::default()
            },
            chunked_prefill: true,
            block_size: 16,
            kv_cache: KvCache::Bits16,
            policy: SchedulingPolicy::Fcfs,
            long_prefill_token_threshold: 0,
            kv_blocks: None,
        }
    }
}

/// An engine setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine.{key}: {message}")]
pub struct EngineConfigError {
    /// The setting.
    pub key: &'static str,
    /// What was expected.
    pub message: String,
}

impl EngineConfig {
    /// Checks the settings against each other: every running sequence must
    /// be able to decode in one iteration (`max_seqs <=
    /// max_batched_tokens`), blocks hold a power of two of tokens, at most
    /// [`MAX_BLOCK_SIZE`], a pinned cache has 2 to [`MAX_KV_BLOCKS`] blocks
    /// (one is vLLM's null block), and the long-prefill cap is used only
    /// with chunked prefill.
    pub fn check(&self) -> Result<(), EngineConfigError> {
        let limits = &self.limits;
        if limits.max_seqs == 0 || limits.max_seqs > limits.max_batched_tokens {
            return Err(EngineConfigError {
                key: "max_seqs",
                message: format!(
                    "must be between 1 and max_batched_tokens ({}), got {}",
                    limits.max_batched_tokens, limits.max_seqs
                ),
            });
        }
        if !(self.block_size.is_power_of_two() && self.block_size <= MAX_BLOCK_SIZE) {
            return Err(EngineConfigError {
                key: "block_size",
                message: format!(
                    "must be a power of two from 1 to {MAX_BLOCK_SIZE} tokens (vLLM's sizes are 8, 16, 32...), got {}",
                    self.block_size
                ),
            });
        }
        if let Some(blocks) = self.kv_blocks {
            if !(2..=MAX_KV_BLOCKS).contains(&blocks) {
                return Err(EngineConfigError {
                    key: "kv_blocks",
                    message: format!(
                        "must be between 2 and {MAX_KV_BLOCKS} (vLLM keeps one as its null block), got {blocks}"
                    ),
                });
            }
        }
        if self.long_prefill_token_threshold > 0 && !self.chunked_prefill {
            return Err(EngineConfigError {
                key: "long_prefill_token_threshold",
                message: "caps prompt chunks, so it needs chunked_prefill = true".into(),
            });
        }
        Ok(())
    }

    /// Usable cache blocks for a replica whose memory holds
    /// `capacity_tokens` tokens: the pinned count, or as many blocks as the
    /// memory holds, less vLLM's null block.
    pub fn usable_blocks(&self, capacity_tokens: u64) -> u32 {
        let blocks = self.kv_blocks.unwrap_or_else(|| {
            (capacity_tokens / u64::from(self.block_size)).min(u64::from(MAX_KV_BLOCKS)) as u32
        });
        blocks.saturating_sub(1)
    }

    /// The longest request (prompt + output tokens) an engine with
    /// `usable_blocks` cache blocks can finish: its cache must hold the
    /// request alone, and without chunked prefill its whole prompt (after a
    /// preemption, prompt and output but the last token) must fit one
    /// iteration.
    pub fn longest_request(&self, usable_blocks: u32) -> u64 {
        let cache = u64::from(usable_blocks) * u64::from(self.block_size);
        if self.chunked_prefill {
            cache
        } else {
            cache.min(u64::from(self.limits.max_batched_tokens) + 1)
        }
    }
}

/// A request handed to an engine. Requests are enqueued in arrival order,
/// which breaks priority ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    /// The driver's id of the request.
    pub id: u32,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens wanted (at least 1).
    pub output: u32,
    /// Scheduling priority: lower runs first under
    /// [`SchedulingPolicy::Priority`].
    pub priority: i32,
}

/// What an iteration did to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It emitted its first output token.
    FirstToken(u32),
    /// It emitted its last output token.
    Finished(u32),
}

/// Where a request is in a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqState {
    /// Queued for admission (again, after a preemption).
    Waiting,
    /// Its prompt (or, after a preemption, prompt and output so far) is
    /// being processed.
    Prefilling,
    /// Generating output.
    Decoding,
}

/// A request still in a replica, for a horizon report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The driver's id of the request.
    pub id: u32,
    /// Output tokens emitted so far.
    pub generated: u32,
    /// Where it is.
    pub state: SeqState,
}

/// A replica's batching engine, iteration by iteration: [`plan`] chooses
/// the next iteration's work, the driver times it, [`complete`] applies it.
///
/// [`plan`]: BatchingEngine::plan
/// [`complete`]: BatchingEngine::complete
pub trait BatchingEngine {
    /// Queues a request.
    fn enqueue(&mut self, seq: Seq);

    /// Chooses the next iteration's work and returns its batch, or `None`
    /// when there is nothing to run, pushing the ids of requests admitted
    /// for the first time into `admitted`.
    fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch>;

    /// Applies the planned iteration, pushing the requests that emit their
    /// first or last token into `outcomes`; returns the output tokens
    /// emitted.
    fn complete(&mut self, outcomes: &mut Vec<Outcome>) -> u64;

    /// Requests queued or running.
    fn outstanding(&self) -> usize;

    /// Cache blocks in use.
    fn blocks_used(&self) -> u32;

    /// Usable cache blocks in all.
    fn blocks_total(&self) -> u32;

    /// Preemptions so far.
    fn preemptions(&self) -> u64;

    /// Every request in the replica, with its state.
    fn in_flight(&self) -> Vec<InFlight>;
}

/// Blocks `tokens` cache tokens occupy (`block_size` a power of two).
#[inline]
fn blocks_for(tokens: u32, block_size: u32) -> u32 {
    tokens.div_ceil(block_size)
}
