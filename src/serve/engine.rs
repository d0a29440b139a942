//! One replica's serving engine, in the style of vLLM's scheduler.
//!
//! Continuous batching: every iteration decodes one token of every running
//! sequence and, within a budget of tokens per iteration, continues the
//! prompts being prefilled and admits waiting requests first come first
//! served (chunked prefill; with it off, an iteration either prefills whole
//! prompts or decodes). The key/value cache is paged in blocks; a request
//! waits when its next chunk finds no free block, and when a decoding
//! sequence needs a block none is free for, the most recently admitted
//! sequence is preempted and recomputed later (its blocks freed; its prompt
//! and the tokens it had generated prefilled again). Iteration times come
//! from the performance model.

use std::collections::VecDeque;

use crate::perf::{Batch, EngineLimits, KvCache};

/// Largest key/value-cache block, in tokens.
pub const MAX_BLOCK_SIZE: u32 = 1024;

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
}

impl Default for EngineConfig {
    /// vLLM V1's defaults: 256 sequences, 8192 tokens, chunked prefill,
    /// 16-token blocks of a 16-bit cache; the engine takes all of its
    /// replica's memory (AIM hands vLLM the profile's quota as its share).
    fn default() -> Self {
        EngineConfig {
            limits: EngineLimits {
                memory_utilization: 1.0,
                ..EngineLimits::default()
            },
            chunked_prefill: true,
            block_size: 16,
            kv_cache: KvCache::Bits16,
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
    /// max_batched_tokens`), blocks hold 1 to [`MAX_BLOCK_SIZE`] tokens.
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
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            return Err(EngineConfigError {
                key: "block_size",
                message: format!(
                    "must be between 1 and {MAX_BLOCK_SIZE} tokens, got {}",
                    self.block_size
                ),
            });
        }
        Ok(())
    }

    /// The longest request (prompt + output tokens) a replica whose cache
    /// holds `capacity_tokens` can finish: its cache must hold the request
    /// alone, and without chunked prefill its whole prompt (after a
    /// preemption, prompt and output but the last token) must fit one
    /// iteration.
    pub fn longest_request(&self, capacity_tokens: u64) -> u64 {
        let bs = u64::from(self.block_size);
        let cache = capacity_tokens / bs * bs;
        if self.chunked_prefill {
            cache
        } else {
            cache.min(u64::from(self.limits.max_batched_tokens) + 1)
        }
    }
}

/// A request inside a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    /// The driver's id of the request.
    pub id: u32,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens wanted.
    pub output: u32,
    /// Output tokens emitted so far.
    pub generated: u32,
    /// Tokens of the current prefill already processed.
    processed: u32,
    /// Admission order, to choose whom to preempt.
    admitted: u64,
}

impl Seq {
    /// A new request.
    pub fn new(id: u32, prompt: u32, output: u32) -> Seq {
        Seq {
            id,
            prompt,
            output,
            generated: 0,
            processed: 0,
            admitted: 0,
        }
    }

    /// Tokens its prefill must process: the prompt, and after a preemption
    /// the tokens generated before it too.
    fn prefill_len(&self) -> u32 {
        self.prompt + self.generated
    }
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
    /// Its prompt is being processed.
    Prefilling,
    /// Generating output.
    Decoding,
}

/// One replica's engine state.
#[derive(Debug, Clone)]
pub struct ReplicaEngine {
    config: EngineConfig,
    window: u32,
    blocks_total: u32,
    blocks_free: u32,
    waiting: VecDeque<Seq>,
    /// Admitted, prompt not fully processed, with the chunk planned for
    /// the current iteration (0 when none).
    prefilling: Vec<(Seq, u32)>,
    /// Decoding sequences and their contexts (cache tokens + 1) for the
    /// next step.
    decoding: Vec<Seq>,
    contexts: Vec<u32>,
    /// Decodes in the current iteration (the first this many of
    /// `decoding`); 0 in a prefill-only iteration.
    planned_decodes: usize,
    admissions: u64,
    preemptions: u64,
}

/// Blocks `tokens` cache tokens occupy.
fn blocks_for(tokens: u32, block_size: u32) -> u32 {
    tokens.div_ceil(block_size)
}

impl ReplicaEngine {
    /// An idle engine whose cache holds `capacity_tokens` tokens.
    pub fn new(config: EngineConfig, capacity_tokens: u64, window: u32) -> ReplicaEngine {
        let blocks =
            (capacity_tokens / u64::from(config.block_size)).min(u64::from(u32::MAX)) as u32;
        ReplicaEngine {
            config,
            window,
            blocks_total: blocks,
            blocks_free: blocks,
            waiting: VecDeque::new(),
            prefilling: Vec::new(),
            decoding: Vec::new(),
            contexts: Vec::new(),
            planned_decodes: 0,
            admissions: 0,
            preemptions: 0,
        }
    }

    /// Tokens the cache holds.
    pub fn capacity_tokens(&self) -> u64 {
        u64::from(self.blocks_total) * u64::from(self.config.block_size)
    }

    /// Queues a request.
    pub fn enqueue(&mut self, seq: Seq) {
        self.waiting.push_back(seq);
    }

    /// Whether anything is queued or running.
    pub fn has_work(&self) -> bool {
        !(self.waiting.is_empty() && self.prefilling.is_empty() && self.decoding.is_empty())
    }

    /// Requests queued, prefilling or decoding.
    pub fn outstanding(&self) -> usize {
        self.waiting.len() + self.prefilling.len() + self.decoding.len()
    }

    /// Requests waiting for admission.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests admitted (prefilling or decoding).
    pub fn running(&self) -> usize {
        self.prefilling.len() + self.decoding.len()
    }

    /// Cache blocks in use.
    pub fn blocks_used(&self) -> u32 {
        self.blocks_total - self.blocks_free
    }

    /// Cache blocks in all.
    pub fn blocks_total(&self) -> u32 {
        self.blocks_total
    }

    /// Preemptions so far.
    pub fn preemptions(&self) -> u64 {
        self.preemptions
    }

    /// Every request in the replica, with its state, for a horizon report.
    pub fn unfinished(&self) -> impl Iterator<Item = (&Seq, SeqState)> {
        self.waiting
            .iter()
            .map(|s| (s, SeqState::Waiting))
            .chain(
                self.prefilling
                    .iter()
                    .map(|(s, _)| (s, SeqState::Prefilling)),
            )
            .chain(self.decoding.iter().map(|s| (s, SeqState::Decoding)))
    }

    /// Chooses the next iteration's work and returns its batch, or `None`
    /// when there is nothing to run, pushing the ids of requests admitted
    /// for the first time into `admitted`. Preempts as the cache requires:
    /// for a decode's new block, and when prompts being prefilled hold
    /// every block and none can go on.
    pub fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch> {
        loop {
            if let Some(batch) = self.try_plan(admitted) {
                return Some(batch);
            }
            if self.running() <= 1 {
                // Nothing runs, or a lone sequence holds the whole cache,
                // which cannot stall (requests longer than the cache are
                // refused on arrival).
                return None;
            }
            self.preempt_latest();
        }
    }

    fn try_plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch> {
        let bs = self.config.block_size;
        let mut batch = Batch::default();
        let mut budget = self.config.limits.max_batched_tokens;
        let prefill_only = !self.config.chunked_prefill && self.can_admit_whole();
        self.planned_decodes = 0;
        if !prefill_only && !self.decoding.is_empty() {
            // Every decoding sequence whose cache fills its last block needs
            // a new one; preempt the latest admitted until they fit.
            loop {
                let needed = self.contexts.iter().filter(|&&c| (c - 1) % bs == 0).count() as u32;
                if needed <= self.blocks_free {
                    self.blocks_free -= needed;
                    break;
                }
                // Requests longer than the whole cache are refused on
                // arrival, so one running sequence always has room.
                assert!(
                    self.running() > 1,
                    "a lone sequence outgrew the cache it was admitted to"
                );
                self.preempt_latest();
            }
            // `max_seqs <= max_batched_tokens` (checked with the
            // configuration): every decode fits the budget.
            self.planned_decodes = self.decoding.len();
            for &context in &self.contexts[..self.planned_decodes] {
                batch.add_decode(context, self.window);
            }
            budget -= self.planned_decodes as u32;
        }
        if self.config.chunked_prefill || prefill_only {
            // Prompts already started continue first.
            for i in 0..self.prefilling.len() {
                let (seq, _) = self.prefilling[i];
                let chunk = self.fit_chunk(&seq, budget);
                if chunk > 0 {
                    self.take_blocks(&seq, chunk);
                    batch.add_prefill(
                        chunk,
                        seq.processed,
                        self.window,
                        seq.processed + chunk == seq.prefill_len(),
                    );
                    budget -= chunk;
                }
                self.prefilling[i].1 = chunk;
            }
            // Then waiting requests, first come first served; the first
            // that cannot start blocks those behind it.
            while let Some(&seq) = self.waiting.front() {
                if self.running() >= self.config.limits.max_seqs as usize || budget == 0 {
                    break;
                }
                let chunk = self.fit_chunk(&seq, budget);
                if chunk == 0 || (!self.config.chunked_prefill && chunk < seq.prefill_len()) {
                    break;
                }
                let mut seq = self.waiting.pop_front().expect("peeked");
                if seq.admitted == 0 {
                    admitted.push(seq.id);
                }
                self.admissions += 1;
                seq.admitted = self.admissions;
                self.take_blocks(&seq, chunk);
                batch.add_prefill(
                    chunk,
                    seq.processed,
                    self.window,
                    seq.processed + chunk == seq.prefill_len(),
                );
                budget -= chunk;
                self.prefilling.push((seq, chunk));
            }
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// Whether, with chunked prefill off, the first waiting request can be
    /// prefilled whole now.
    fn can_admit_whole(&self) -> bool {
        self.waiting.front().is_some_and(|seq| {
            self.running() < self.config.limits.max_seqs as usize
                && seq.prefill_len() <= self.config.limits.max_batched_tokens
                && blocks_for(seq.prefill_len(), self.config.block_size) <= self.blocks_free
        })
    }

    /// The largest chunk of `seq`'s prefill that fits `budget` tokens and
    /// the free blocks.
    fn fit_chunk(&self, seq: &Seq, budget: u32) -> u32 {
        let bs = self.config.block_size;
        let remaining = seq.prefill_len() - seq.processed;
        let held = blocks_for(seq.processed, bs);
        let room = (held + self.blocks_free) * bs - seq.processed;
        remaining.min(budget).min(room)
    }

    fn take_blocks(&mut self, seq: &Seq, chunk: u32) {
        let bs = self.config.block_size;
        let more = blocks_for(seq.processed + chunk, bs) - blocks_for(seq.processed, bs);
        self.blocks_free -= more;
    }

    /// Frees the blocks of the most recently admitted running sequence
    /// (decoding or prefilling) and puts it back at the head of the queue,
    /// to be recomputed from its first token.
    fn preempt_latest(&mut self) {
        let bs = self.config.block_size;
        let latest_decoding = (0..self.decoding.len()).max_by_key(|&i| self.decoding[i].admitted);
        let latest_prefilling =
            (0..self.prefilling.len()).max_by_key(|&i| self.prefilling[i].0.admitted);
        let decoding_admitted = latest_decoding.map(|i| self.decoding[i].admitted);
        let prefilling_admitted = latest_prefilling.map(|i| self.prefilling[i].0.admitted);
        let mut seq = if prefilling_admitted > decoding_admitted {
            let (seq, _) = self
                .prefilling
                .swap_remove(latest_prefilling.expect("compared"));
            self.blocks_free += blocks_for(seq.processed, bs);
            seq
        } else {
            let i = latest_decoding.expect("a running sequence to preempt");
            let context = self.contexts.swap_remove(i);
            self.blocks_free += blocks_for(context - 1, bs);
            self.decoding.swap_remove(i)
        };
        seq.processed = 0;
        self.waiting.push_front(seq);
        self.preemptions += 1;
    }

    /// Applies the planned iteration: contexts grow, prompts advance, and
    /// the requests that emit their first or last token are reported into
    /// `outcomes`, with every output token emitted counted in the return.
    pub fn complete(&mut self, outcomes: &mut Vec<Outcome>) -> u64 {
        let bs = self.config.block_size;
        let mut tokens = 0u64;
        // Decodes: one token each; finished ones leave (the rest keep
        // their order).
        let mut kept = 0;
        for r in 0..self.decoding.len() {
            let mut seq = self.decoding[r];
            let mut context = self.contexts[r];
            if r < self.planned_decodes {
                context += 1;
                seq.generated += 1;
                tokens += 1;
                if seq.generated >= seq.output {
                    self.blocks_free += blocks_for(context - 1, bs);
                    outcomes.push(Outcome::Finished(seq.id));
                    continue;
                }
            }
            self.decoding[kept] = seq;
            self.contexts[kept] = context;
            kept += 1;
        }
        self.decoding.truncate(kept);
        self.contexts.truncate(kept);
        // Prefill chunks: finished prompts emit a token.
        let mut j = 0;
        while j < self.prefilling.len() {
            let (mut seq, chunk) = self.prefilling[j];
            if chunk == 0 {
                j += 1;
                continue;
            }
            seq.processed += chunk;
            if seq.processed < seq.prefill_len() {
                self.prefilling[j] = (seq, 0);
                j += 1;
                continue;
            }
            self.prefilling.swap_remove(j);
            let cached = seq.prefill_len();
            seq.generated += 1;
            tokens += 1;
            if seq.generated == 1 {
                outcomes.push(Outcome::FirstToken(seq.id));
            }
            if seq.generated >= seq.output {
                self.blocks_free += blocks_for(cached, bs);
                outcomes.push(Outcome::Finished(seq.id));
            } else {
                self.decoding.push(seq);
                self.contexts.push(cached + 1);
            }
        }
        self.planned_decodes = 0;
        tokens
    }
}
