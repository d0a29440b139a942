//! One replica's batching engine: which requests run in the next iteration,
//! with how many tokens each, and what the key/value cache holds.
//!
//! The engine is a seam ([`BatchingEngine`]): the serving loop plans an
//! iteration, times it with the performance model, and completes it, without
//! knowing how the batch was chosen. Every engine keeps its requests and
//! cache in an [`EngineCore`] and supplies only its scheduling rule:
//!
//! - [`VllmV1`] decides as vLLM V1's scheduler does (the default since
//!   vLLM 0.8), step for step;
//! - [`VllmV0`] as vLLM V0's default scheduler did (vLLM up to 0.7, chunked
//!   prefill off): an iteration either prefills whole prompts or decodes.
//!
//! Both are checked against vLLM's own schedulers by the fixtures of
//! `tests/fixtures/vllm/`. Another scheduler (Sarathi, Orca, SGLang's) is
//! one more file with a `plan`, and one line in [`SchedulerKind`].

mod core;
#[cfg(test)]
mod tests;
mod vllm_v0;
mod vllm_v1;
mod waiting;

pub use self::core::EngineCore;
pub use vllm_v0::VllmV0;
pub use vllm_v1::VllmV1;

use super::memory::ReplicaMemory;
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

/// Which scheduler an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulerKind {
    /// vLLM V1 ([`VllmV1`]).
    #[default]
    VllmV1,
    /// vLLM V0's default scheduler ([`VllmV0`]).
    VllmV0,
}

impl SchedulerKind {
    /// Every kind, by name.
    pub const ALL: [(&'static str, SchedulerKind); 2] = [
        ("vllm-v1", SchedulerKind::VllmV1),
        ("vllm-v0", SchedulerKind::VllmV0),
    ];

    /// The kind's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kind)| *kind == self)
            .map(|(name, _)| *name)
            .expect("every kind is listed")
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<SchedulerKind> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
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
    /// Cache blocks, pinned (`num_gpu_blocks_override`; under vLLM V1 one
    /// of them is the null block); `None`: as many as the replica's memory
    /// holds.
    pub kv_blocks: Option<u32>,
    /// The scheduler.
    pub scheduler: SchedulerKind,
    /// Memory each replica is given where its deployment does not say.
    pub memory: ReplicaMemory,
}

impl Default for EngineConfig {
    /// vLLM V1's defaults: 256 sequences, 8192 tokens, chunked prefill,
    /// 16-token blocks of a 16-bit cache, first come first served, no
    /// long-prefill cap, 90% of the replica's memory taken; each replica
    /// given its whole partition.
    fn default() -> Self {
        EngineConfig {
            limits: EngineLimits::default(),
            chunked_prefill: true,
            block_size: 16,
            kv_cache: KvCache::Bits16,
            policy: SchedulingPolicy::Fcfs,
            long_prefill_token_threshold: 0,
            kv_blocks: None,
            scheduler: SchedulerKind::VllmV1,
            memory: ReplicaMemory::default(),
        }
    }
}

impl EngineConfig {
    /// The limits of a replica given `memory`: given its partition, the
    /// engine takes `limits.memory_utilization` of it, as vLLM takes
    /// `gpu_memory_utilization` of its device; given a quota (its profile's
    /// or a size), it takes all of it (the AIM runtime sets vLLM's
    /// `gpu_memory_utilization` to the quota's share of the GPU).
    pub fn limits_for(&self, memory: ReplicaMemory) -> EngineLimits {
        match memory {
            ReplicaMemory::Profile | ReplicaMemory::Fixed(_) => EngineLimits {
                memory_utilization: 1.0,
                ..self.limits
            },
            ReplicaMemory::Partition => self.limits,
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

/// Engine settings one deployment gives its own replicas over the
/// scenario's `[engine]` (vLLM's `--max-num-seqs` and
/// `--max-num-batched-tokens` per server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct EngineKnobs {
    /// Most sequences running at once; `None`: the engine's.
    pub max_seqs: Option<u32>,
    /// Most tokens one iteration processes; `None`: the engine's.
    pub max_batched_tokens: Option<u32>,
}

impl EngineKnobs {
    /// `limits` with these settings in place of its own.
    pub fn apply(self, limits: EngineLimits) -> EngineLimits {
        EngineLimits {
            max_seqs: self.max_seqs.unwrap_or(limits.max_seqs),
            max_batched_tokens: self.max_batched_tokens.unwrap_or(limits.max_batched_tokens),
            ..limits
        }
    }
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
        if self.scheduler == SchedulerKind::VllmV0 && self.chunked_prefill {
            return Err(EngineConfigError {
                key: "scheduler",
                message: "vllm-v0 models V0's default scheduler, without chunked prefill: set chunked_prefill = false".into(),
            });
        }
        Ok(())
    }

    /// A new idle engine of this configuration for a replica whose memory
    /// holds `capacity_tokens` cache tokens, for a model whose windowed
    /// layers attend to `window` tokens (0: none).
    pub fn engine(&self, capacity_tokens: u64, window: u32) -> Box<dyn BatchingEngine> {
        let blocks = self.usable_blocks(capacity_tokens);
        match self.scheduler {
            SchedulerKind::VllmV1 => Box::new(VllmV1::new(*self, blocks, window)),
            SchedulerKind::VllmV0 => Box::new(VllmV0::new(*self, blocks, window)),
        }
    }

    /// Usable cache blocks for a replica whose memory holds
    /// `capacity_tokens` tokens: the pinned count, or as many blocks as the
    /// memory holds, less vLLM V1's null block.
    pub fn usable_blocks(&self, capacity_tokens: u64) -> u32 {
        let blocks = self.kv_blocks.unwrap_or_else(|| {
            (capacity_tokens / u64::from(self.block_size)).min(u64::from(MAX_KV_BLOCKS)) as u32
        });
        match self.scheduler {
            SchedulerKind::VllmV1 => blocks.saturating_sub(1),
            SchedulerKind::VllmV0 => blocks,
        }
    }

    /// The longest request (prompt + output tokens) an engine with
    /// `usable_blocks` cache blocks can finish: its cache must hold the
    /// request alone (under V0 with the watermark free at admission), and
    /// without chunked prefill its whole prompt (after a preemption, prompt
    /// and output but the last token) must fit one iteration.
    pub fn longest_request(&self, usable_blocks: u32) -> u64 {
        let blocks = match self.scheduler {
            SchedulerKind::VllmV1 => usable_blocks,
            SchedulerKind::VllmV0 => usable_blocks - vllm_v0::watermark_blocks(usable_blocks),
        };
        let cache = u64::from(blocks) * u64::from(self.block_size);
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
/// An engine supplies `plan`; the rest is its [`EngineCore`]'s.
///
/// [`plan`]: BatchingEngine::plan
/// [`complete`]: BatchingEngine::complete
pub trait BatchingEngine {
    /// The engine's requests and cache.
    fn core(&self) -> &EngineCore;

    /// The same, to change.
    fn core_mut(&mut self) -> &mut EngineCore;

    /// Chooses the next iteration's work and returns its batch, pushing
    /// the ids of requests admitted for the first time into `admitted`.
    /// `None`: nothing was scheduled, because there is no work or (V0) the
    /// iteration only preempted; then the next plan schedules something.
    fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch>;

    /// Queues a request.
    fn enqueue(&mut self, seq: Seq) {
        self.core_mut().enqueue(seq);
    }

    /// Applies the planned iteration, pushing the requests that emit their
    /// first or last token into `outcomes`; returns the output tokens
    /// emitted.
    fn complete(&mut self, outcomes: &mut Vec<Outcome>) -> u64 {
        self.core_mut().complete(outcomes)
    }

    /// Requests queued or running.
    fn outstanding(&self) -> usize {
        self.core().outstanding()
    }

    /// Cache blocks in use.
    fn blocks_used(&self) -> u32 {
        let core = self.core();
        core.blocks_total - core.blocks_free
    }

    /// Usable cache blocks in all.
    fn blocks_total(&self) -> u32 {
        self.core().blocks_total
    }

    /// Preemptions so far.
    fn preemptions(&self) -> u64 {
        self.core().preemptions()
    }

    /// Every request in the replica, with its state.
    fn in_flight(&self) -> Vec<InFlight> {
        self.core().in_flight()
    }
}

/// Blocks `tokens` cache tokens occupy (`block_size` a power of two, and
/// `tokens` below 2^31: requests hold at most 2 x 2^24 tokens): a shift,
/// not a division, on the engine's hottest path.
#[inline]
fn blocks_for(tokens: u32, block_size: u32) -> u32 {
    (tokens + (block_size - 1)) >> block_size.trailing_zeros()
}

/// The engine's next batch, `None` when it has no work. An iteration
/// whose planning only preempted (vLLM V0's lone request that fills the
/// cache preempts itself) takes no time: the engine plans again at once.
pub fn next_batch(engine: &mut dyn BatchingEngine, admitted: &mut Vec<u32>) -> Option<Batch> {
    for _ in 0..2 {
        match engine.plan(admitted) {
            Some(batch) => return Some(batch),
            None if engine.outstanding() == 0 => return None,
            None => {}
        }
    }
    unreachable!("an engine planned two empty iterations in a row with work left")
}
