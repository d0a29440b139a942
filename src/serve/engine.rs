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
    /// max_batched_tokens`), blocks hold a power of two of tokens, at most
    /// [`MAX_BLOCK_SIZE`].
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
    /// Decoding sequences, their contexts (cache tokens + 1) for the next
    /// step and their output tokens still to come, side by side (the hot
    /// loops touch only the two counts; `Seq::generated` is brought up to
    /// date when a sequence leaves).
    decoding: Vec<Seq>,
    contexts: Vec<u32>,
    remaining: Vec<u32>,
    /// Decodes in the current iteration (the first this many of
    /// `decoding`); 0 in a prefill-only iteration.
    planned_decodes: usize,
    admissions: u64,
    preemptions: u64,
}

/// Blocks `tokens` cache tokens occupy (`block_size` a power of two).
#[inline]
fn blocks_for(tokens: u32, block_size: u32) -> u32 {
    (tokens + (block_size - 1)) >> block_size.trailing_zeros()
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
            remaining: Vec::new(),
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
    pub fn unfinished(&self) -> impl Iterator<Item = (Seq, SeqState)> + '_ {
        self.waiting
            .iter()
            .map(|&s| (s, SeqState::Waiting))
            .chain(
                self.prefilling
                    .iter()
                    .map(|&(s, _)| (s, SeqState::Prefilling)),
            )
            .chain((0..self.decoding.len()).map(|r| (self.decoding_seq(r), SeqState::Decoding)))
    }

    /// Decoding sequence `r` with its `generated` count up to date.
    fn decoding_seq(&self, r: usize) -> Seq {
        let mut seq = self.decoding[r];
        seq.generated = seq.output - self.remaining[r];
        seq
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
                let mask = bs - 1;
                let needed = self
                    .contexts
                    .iter()
                    .map(|&c| u32::from((c - 1) & mask == 0))
                    .sum::<u32>();
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
                    self.add_chunk(&mut batch, &seq, chunk);
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
                self.add_chunk(&mut batch, &seq, chunk);
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

    /// Charges the cache for the next `chunk` prompt tokens of `seq` and
    /// adds them to `batch`.
    fn add_chunk(&mut self, batch: &mut Batch, seq: &Seq, chunk: u32) {
        self.take_blocks(seq, chunk);
        batch.add_prefill(
            chunk,
            seq.processed,
            self.window,
            seq.processed + chunk == seq.prefill_len(),
        );
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
            let seq = self.decoding_seq(i);
            let context = self.contexts.swap_remove(i);
            self.remaining.swap_remove(i);
            self.decoding.swap_remove(i);
            self.blocks_free += blocks_for(context - 1, bs);
            seq
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
        // Decodes: one token each (every decoding sequence, or none in a
        // prefill-only iteration); finished ones leave.
        debug_assert!(self.planned_decodes == 0 || self.planned_decodes == self.decoding.len());
        if self.planned_decodes > 0 {
            tokens += self.planned_decodes as u64;
            let mut r = 0;
            while r < self.contexts.len() {
                self.contexts[r] += 1;
                self.remaining[r] -= 1;
                if self.remaining[r] > 0 {
                    r += 1;
                    continue;
                }
                self.blocks_free += blocks_for(self.contexts[r] - 1, bs);
                outcomes.push(Outcome::Finished(self.decoding[r].id));
                self.decoding.swap_remove(r);
                self.contexts.swap_remove(r);
                self.remaining.swap_remove(r);
            }
        }
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
                self.remaining.push(seq.output - seq.generated);
            }
        }
        self.planned_decodes = 0;
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl ReplicaEngine {
        /// Between iterations: the free blocks are the total less what
        /// every running sequence's cache holds.
        fn audit(&self) {
            let bs = self.config.block_size;
            let held: u32 = self
                .prefilling
                .iter()
                .map(|(s, _)| blocks_for(s.processed, bs))
                .chain(self.contexts.iter().map(|&c| blocks_for(c - 1, bs)))
                .sum();
            assert_eq!(held + self.blocks_free, self.blocks_total);
            assert!(self.running() <= self.config.limits.max_seqs as usize);
            assert_eq!(self.decoding.len(), self.contexts.len());
            assert_eq!(self.decoding.len(), self.remaining.len());
        }
    }

    fn config(
        max_seqs: u32,
        max_batched_tokens: u32,
        chunked: bool,
        block_size: u32,
    ) -> EngineConfig {
        EngineConfig {
            limits: EngineLimits {
                max_seqs,
                max_batched_tokens,
                ..EngineLimits::default()
            },
            chunked_prefill: chunked,
            block_size,
            kv_cache: KvCache::Bits16,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random engines and requests, enqueued between random numbers of
        /// iterations: the cache is never over-committed, blocks are
        /// charged and freed exactly, every request finishes once with all
        /// its tokens, and preempted ones too.
        #[test]
        fn every_request_finishes_once_and_the_cache_balances(
            max_seqs in 1u32..16,
            extra_tokens in 0u32..600,
            chunked in any::<bool>(),
            block_size in prop::sample::select(vec![1u32, 4, 16]),
            capacity in 64u64..3000,
            requests in prop::collection::vec((1u32..400, 1u32..300, 0usize..4), 1..40),
        ) {
            let config = config(max_seqs, max_seqs + extra_tokens, chunked, block_size);
            prop_assume!(config.check().is_ok());
            let mut engine = ReplicaEngine::new(config, capacity, 0);
            let longest = config.longest_request(engine.capacity_tokens());
            let mut wanted = std::collections::BTreeMap::new();
            let mut finished = std::collections::BTreeMap::new();
            let mut first = std::collections::BTreeSet::new();
            let (mut emitted, mut outcomes, mut admitted) = (0u64, Vec::new(), Vec::new());
            let mut step = |engine: &mut ReplicaEngine, emitted: &mut u64| -> bool {
                outcomes.clear();
                if engine.plan(&mut admitted).is_none() {
                    return false;
                }
                *emitted += engine.complete(&mut outcomes);
                engine.audit();
                for outcome in &outcomes {
                    match *outcome {
                        Outcome::FirstToken(id) => assert!(first.insert(id), "two first tokens for {id}"),
                        Outcome::Finished(id) => assert!(finished.insert(id, ()).is_none(), "{id} finished twice"),
                    }
                }
                true
            };
            for (id, &(prompt, output, pause)) in requests.iter().enumerate() {
                if u64::from(prompt + output) > longest {
                    continue;
                }
                engine.enqueue(Seq::new(id as u32, prompt, output));
                wanted.insert(id as u32, output);
                for _ in 0..pause {
                    step(&mut engine, &mut emitted);
                }
            }
            let mut guard = 0;
            while step(&mut engine, &mut emitted) {
                guard += 1;
                prop_assert!(guard < 1_000_000, "the engine does not drain");
            }
            prop_assert!(!engine.has_work(), "work left with nothing planned");
            prop_assert_eq!(engine.blocks_used(), 0);
            prop_assert_eq!(finished.len(), wanted.len());
            prop_assert_eq!(emitted, wanted.values().map(|&o| u64::from(o)).sum::<u64>());
        }
    }

    #[test]
    fn a_full_cache_preempts_the_latest_admitted_and_recomputes_it() {
        // 4 blocks of 4 tokens; two requests of 4-token prompts and 8
        // outputs cannot both hold 11 tokens.
        let mut engine = ReplicaEngine::new(config(4, 64, true, 4), 16, 0);
        engine.enqueue(Seq::new(1, 4, 8));
        engine.enqueue(Seq::new(2, 4, 8));
        let (mut outcomes, mut admitted) = (Vec::new(), Vec::new());
        let mut order = Vec::new();
        while engine.plan(&mut admitted).is_some() {
            outcomes.clear();
            engine.complete(&mut outcomes);
            engine.audit();
            order.extend(outcomes.iter().filter_map(|o| match o {
                Outcome::Finished(id) => Some(*id),
                Outcome::FirstToken(_) => None,
            }));
        }
        assert!(engine.preemptions() >= 1);
        assert_eq!(
            order,
            [1, 2],
            "the earlier request keeps its cache and finishes first"
        );
    }
}
