//! vLLM V1's scheduler (`vllm/v1/core/sched/scheduler.py`, release
//! 0.33.0), decision for decision, with prefix caching, speculative
//! decoding, connectors and encoders off.
//!
//! A request has `num_tokens` (prompt + output so far) and
//! `num_computed_tokens`; each iteration gives it tokens to catch up. The
//! rules, in vLLM's order:
//!
//! 1. **Running requests**, in the order they were admitted, while tokens
//!    of the budget (`max_num_batched_tokens`) remain: each is given what
//!    it lacks, at most `long_prefill_token_threshold` when more than one
//!    request is in the engine, at most what is left of the budget. Its
//!    new cache blocks are allocated; when too few are free, a running
//!    request is preempted (the last admitted under `fcfs`, the largest
//!    `(priority, arrival)` under `priority`): its blocks freed, its
//!    computed tokens forgotten, and it goes back to the waiting queue
//!    (at the head under `fcfs`). Under `fcfs` a request that had to
//!    preempt itself ends the pass; under `priority` the pass goes on.
//! 2. **Waiting requests**, only if nothing was preempted in this
//!    iteration, while the budget lasts and fewer than `max_num_seqs`
//!    run: the head of the queue is admitted if its whole sequence (the
//!    prompt, or prompt and output so far after a preemption) fits the
//!    free blocks (`scheduler_reserve_full_isl`, on by default); its first
//!    chunk is capped as in 1. Without chunked prefill a request whose
//!    sequence exceeds the budget left stops admission. The first request
//!    that cannot be admitted stops it too.
//! 3. **After the iteration**, every request whose computed tokens reach
//!    its sequence samples one token; one that has all its output tokens
//!    finishes and frees its blocks.
//!
//! One block of the cache is vLLM's null block, never handed out. A
//! request is refused by the driver when it is longer than the model's
//! context or the cache, so vLLM's `max_model_len` cap on a step never
//! binds here.

use crate::perf::{windowed, Batch};

use super::core::{EngineCore, Request};
use super::waiting::Queued;
use super::{blocks_for, BatchingEngine, EngineConfig, SchedulingPolicy};

/// One replica's engine, deciding as vLLM V1 does.
#[derive(Debug, Clone)]
pub struct VllmV1 {
    core: EngineCore,
}

impl VllmV1 {
    /// An idle engine with `usable_blocks` cache blocks (the null block
    /// excluded; see [`EngineConfig::usable_blocks`]), for a model whose
    /// windowed layers attend to `window` tokens (0: none).
    pub fn new(config: EngineConfig, usable_blocks: u32, window: u32) -> VllmV1 {
        VllmV1 {
            core: EngineCore::new(config, usable_blocks, window, config.policy),
        }
    }

    /// The running request to preempt next.
    fn victim(&self) -> usize {
        let running = &self.core.running;
        match self.core.config.policy {
            SchedulingPolicy::Fcfs => running.len() - 1,
            SchedulingPolicy::Priority => (0..running.len())
                .max_by_key(|&i| running[i].order())
                .expect("a running request"),
        }
    }

    /// Rule 1: the running requests, their tokens added to `batch`.
    /// Returns whether a request already in `batch` was preempted (then
    /// `batch` must be rebuilt).
    fn schedule_running(&mut self, budget: &mut u32, threshold: u32, batch: &mut Batch) -> bool {
        if self.core.try_decode_all(budget, batch) {
            return false;
        }
        let i = self.schedule_while_blocks_free(budget, threshold, batch);
        if i < self.core.running.len() && *budget > 0 {
            self.schedule_with_preemption(i, budget, threshold, batch)
        } else {
            false
        }
    }

    /// Tokens request `r` is given: what it lacks, capped by the
    /// long-prefill threshold and the budget left.
    #[inline]
    fn tokens_for(r: &Request, budget: u32, threshold: u32) -> u32 {
        let mut n = r.num_tokens() - r.computed;
        if threshold > 0 && n > threshold {
            n = threshold;
        }
        n.min(budget)
    }

    /// Rule 1's common case, on the hot path: running requests in order
    /// while their blocks are free. Returns the index of the first request
    /// not scheduled.
    fn schedule_while_blocks_free(
        &mut self,
        budget: &mut u32,
        threshold: u32,
        batch: &mut Batch,
    ) -> usize {
        let core = &mut self.core;
        let (bs, window) = (core.config.block_size, core.window);
        let (mut free, mut left) = (core.blocks_free, *budget);
        // Decodes are summed here and added to the batch at once.
        let (mut decodes, mut context, mut window_context) = (0u32, 0u64, 0u64);
        let mut scheduled = 0;
        for r in core.running.iter_mut() {
            if left == 0 {
                break;
            }
            let n = Self::tokens_for(r, left, threshold);
            let need = blocks_for(r.computed + n, bs) - blocks_for(r.computed, bs);
            if need > free {
                break;
            }
            free -= need;
            r.scheduled = n;
            left -= n;
            if n == 1 && r.is_decoding() {
                let c = r.num_tokens();
                decodes += 1;
                context += u64::from(c);
                window_context += u64::from(windowed(c, window));
            } else {
                EngineCore::add_to_batch(batch, r, window);
            }
            scheduled += 1;
        }
        batch.add_decodes(decodes, context, window_context);
        core.blocks_free = free;
        *budget = left;
        scheduled
    }

    /// Rule 1 from request `i` on, preempting as blocks run out. Returns
    /// whether a request already in `batch` was preempted (then `batch`
    /// must be rebuilt).
    fn schedule_with_preemption(
        &mut self,
        mut i: usize,
        budget: &mut u32,
        threshold: u32,
        batch: &mut Batch,
    ) -> bool {
        let mut unscheduled = false;
        'requests: while i < self.core.running.len() && *budget > 0 {
            let n = Self::tokens_for(&self.core.running[i], *budget, threshold);
            while !self.core.try_schedule(i, n) {
                let v = self.victim();
                // Only under `priority` can the victim have been scheduled
                // earlier in this pass: its tokens return to the budget.
                let returned = self.core.preempt(v);
                *budget += returned;
                unscheduled |= returned > 0;
                if v == i {
                    match self.core.config.policy {
                        // It was the last; the pass ends.
                        SchedulingPolicy::Fcfs => break 'requests,
                        // `i` now points at the next request.
                        SchedulingPolicy::Priority => continue 'requests,
                    }
                }
                if v < i {
                    i -= 1;
                }
            }
            EngineCore::add_to_batch(batch, &self.core.running[i], self.core.window);
            *budget -= n;
            i += 1;
        }
        unscheduled
    }

    /// Rule 2: admits waiting requests, their first tokens added to
    /// `batch`.
    fn admit_waiting(
        &mut self,
        budget: &mut u32,
        threshold: u32,
        admitted: &mut Vec<u32>,
        batch: &mut Batch,
    ) {
        let config = self.core.config;
        let max_seqs = config.limits.max_seqs as usize;
        while *budget > 0 && self.core.running.len() < max_seqs {
            let Some(head) = self.core.waiting.peek() else {
                break;
            };
            let tokens = head.num_tokens();
            let mut n = tokens;
            if threshold > 0 && n > threshold {
                n = threshold;
            }
            if !config.chunked_prefill && n > *budget {
                break;
            }
            n = n.min(*budget);
            // The whole sequence must fit (`scheduler_reserve_full_isl`);
            // the chunk's blocks then fit too.
            if blocks_for(tokens, config.block_size) > self.core.blocks_free {
                break;
            }
            self.core.admit_head(n, admitted);
            let r = self.core.running.last().expect("just admitted");
            EngineCore::add_to_batch(batch, r, self.core.window);
            *budget -= n;
        }
    }
}

impl BatchingEngine for VllmV1 {
    fn core(&self) -> &EngineCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut EngineCore {
        &mut self.core
    }

    fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch> {
        self.core.begin_plan();
        let mut batch = Batch::default();
        let mut budget = self.core.config.limits.max_batched_tokens;
        let threshold = if self.core.outstanding() > 1 {
            self.core.config.long_prefill_token_threshold
        } else {
            0
        };
        if self.schedule_running(&mut budget, threshold, &mut batch) {
            batch = self.core.batch();
        }
        if !self.core.preempted_any() {
            self.admit_waiting(&mut budget, threshold, admitted, &mut batch);
        }
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::{EngineLimits, KvCache};
    use crate::serve::engine::{Outcome, SchedulerKind, Seq};

    fn config(
        max_seqs: u32,
        max_batched_tokens: u32,
        chunked: bool,
        block_size: u32,
        policy: SchedulingPolicy,
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
            policy,
            long_prefill_token_threshold: 0,
            kv_blocks: None,
            scheduler: SchedulerKind::VllmV1,
            ..EngineConfig::default()
        }
    }

    /// Runs `engine` until idle; the finishing order and the preemptions.
    fn drain(engine: &mut VllmV1) -> (Vec<u32>, u64) {
        let (mut outcomes, mut admitted, mut order) = (Vec::new(), Vec::new(), Vec::new());
        while engine.plan(&mut admitted).is_some() {
            outcomes.clear();
            engine.complete(&mut outcomes);
            engine.core().audit();
            order.extend(outcomes.iter().filter_map(|o| match o {
                Outcome::Finished(id) => Some(*id),
                Outcome::FirstToken(_) => None,
            }));
        }
        (order, engine.preemptions())
    }

    #[test]
    fn a_full_cache_preempts_the_latest_admitted_and_recomputes_it() {
        // 4 usable blocks of 4 tokens; two requests of 4-token prompts and
        // 8 outputs cannot both hold 11 tokens.
        let mut engine = VllmV1::new(config(4, 64, true, 4, SchedulingPolicy::Fcfs), 4, 0);
        for id in [1, 2] {
            engine.enqueue(Seq {
                id,
                prompt: 4,
                output: 8,
                priority: 0,
            });
        }
        let (order, preemptions) = drain(&mut engine);
        assert!(preemptions >= 1);
        assert_eq!(
            order,
            [1, 2],
            "the earlier request keeps its cache and finishes first"
        );
    }

    #[test]
    fn priority_preempts_the_largest_priority_value_first() {
        // Request 1 (priority 5) is admitted first; request 2 (priority 0)
        // arrives while it runs and the cache cannot hold both to the end.
        let mut engine = VllmV1::new(config(4, 64, true, 4, SchedulingPolicy::Priority), 4, 0);
        engine.enqueue(Seq {
            id: 1,
            prompt: 4,
            output: 8,
            priority: 5,
        });
        let (mut outcomes, mut admitted) = (Vec::new(), Vec::new());
        engine.plan(&mut admitted).expect("work");
        engine.complete(&mut outcomes);
        engine.enqueue(Seq {
            id: 2,
            prompt: 4,
            output: 8,
            priority: 0,
        });
        let (order, preemptions) = drain(&mut engine);
        assert!(preemptions >= 1);
        assert_eq!(order, [2, 1], "the urgent request finishes first");
    }

    #[test]
    fn a_request_waits_until_its_whole_prompt_fits() {
        // 10 usable blocks of 4 tokens, 16 tokens an iteration: the first
        // request's 24-token prompt takes 6 blocks in two chunks; the
        // second's 20 tokens (5 blocks) wait although its first chunk (8
        // tokens, 2 blocks) would fit the 4 free blocks.
        let mut engine = VllmV1::new(config(4, 16, true, 4, SchedulingPolicy::Fcfs), 10, 0);
        engine.enqueue(Seq {
            id: 1,
            prompt: 24,
            output: 2,
            priority: 0,
        });
        engine.enqueue(Seq {
            id: 2,
            prompt: 20,
            output: 2,
            priority: 0,
        });
        let (mut outcomes, mut admitted) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            engine.plan(&mut admitted).expect("work");
            engine.complete(&mut outcomes);
        }
        assert_eq!(admitted, [1], "the second request is not admitted yet");
        assert!(outcomes.contains(&Outcome::Finished(1)));
        let (order, preemptions) = drain(&mut engine);
        assert_eq!((order, preemptions), (vec![2], 0));
    }
}
