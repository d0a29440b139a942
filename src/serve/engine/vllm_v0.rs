//! vLLM V0's default scheduler (`vllm/core/scheduler.py`,
//! `_schedule_default`, release 0.7.3, the last whose default engine was
//! V0), with chunked prefill off and preemption by recomputation: the
//! engine of vLLM releases up to early 2025, and of the MLPerf Inference
//! v4.1 submissions.
//!
//! An iteration either prefills or decodes, never both:
//!
//! 1. **Prefills first.** Waiting requests are admitted whole, in queue
//!    order, while their tokens fit the budget (`max_num_batched_tokens`),
//!    fewer than `max_num_seqs` run, and their blocks leave the watermark
//!    free (`can_allocate`: free - needed >= 1% of the blocks). The first
//!    that cannot be admitted stops admission.
//! 2. **Otherwise decodes.** Under the `priority` policy, first
//!    (`_schedule_priority_preemption`): the running requests are sorted by
//!    `(priority, arrival)`; while the last has a larger pair than the head
//!    of the waiting queue and the head cannot be admitted, the last is
//!    preempted to the head of the queue; then the queue is sorted by
//!    `(priority, arrival)` (new arrivals join its end until the next
//!    sort). Then every running request, in order,
//!    decodes one token (decodes are not held to the token budget). Before
//!    each, one free block must exist (`can_append_slots` counts one block
//!    touched by any append); while none does, the last running request
//!    not yet visited is preempted (the request itself when it is the
//!    last) and goes back to the head of the waiting queue.
//!
//! After the iteration, tokens are sampled and requests finish as under
//! V1 ([`super::EngineCore`]). There is no null block.

use crate::perf::Batch;

use super::core::EngineCore;
use super::waiting::Queued;
use super::{blocks_for, BatchingEngine, EngineConfig, SchedulingPolicy};

/// Blocks V0 keeps free at admission: 1% of the cache (`watermark=0.01`
/// in `BlockSpaceManager`).
pub(super) fn watermark_blocks(blocks: u32) -> u32 {
    blocks / 100
}

/// One replica's engine, deciding as vLLM V0's default scheduler did.
#[derive(Debug, Clone)]
pub struct VllmV0 {
    core: EngineCore,
    watermark: u32,
}

impl VllmV0 {
    /// An idle engine with `blocks` cache blocks, for a model whose
    /// windowed layers attend to `window` tokens (0: none).
    pub fn new(config: EngineConfig, blocks: u32, window: u32) -> VllmV0 {
        VllmV0 {
            // V0 keeps a deque under both policies and sorts it.
            core: EngineCore::new(config, blocks, window, SchedulingPolicy::Fcfs),
            watermark: watermark_blocks(blocks),
        }
    }

    /// Whether a waiting request of `n` tokens can be admitted next to
    /// `seqs` running requests and `tokens` already admitted
    /// (`can_allocate` and the budget).
    fn admissible(&self, n: u32, tokens: u32, seqs: usize) -> bool {
        let limits = &self.core.config.limits;
        self.core.blocks_free >= blocks_for(n, self.core.config.block_size) + self.watermark
            && tokens + n <= limits.max_batched_tokens
            && seqs < limits.max_seqs as usize
    }

    /// Rule 1; whether any request was admitted.
    fn admit_prefills(&mut self, admitted: &mut Vec<u32>) -> bool {
        let (mut tokens, mut seqs) = (0u32, self.core.running.len());
        while let Some(head) = self.core.waiting.peek() {
            let n = head.num_tokens();
            if !self.admissible(n, tokens, seqs) {
                break;
            }
            self.core.admit_head(n, admitted);
            tokens += n;
            seqs += 1;
        }
        tokens > 0
    }

    /// Rule 2's priority preemption.
    fn preempt_for_priority(&mut self) {
        self.core.running.sort_by_key(Queued::order);
        let Some(head) = self.core.waiting.pop() else {
            self.core.waiting.sort();
            return;
        };
        let n = head.num_tokens();
        while let Some(last) = self.core.running.last() {
            if last.order() <= head.order() || self.admissible(n, 0, self.core.running.len()) {
                break;
            }
            self.core.preempt(self.core.running.len() - 1);
        }
        self.core.waiting.prepend(head);
        self.core.waiting.sort();
    }

    /// Rule 2.
    fn decode_running(&mut self) {
        let mut i = 0;
        while i < self.core.running.len() {
            while self.core.blocks_free == 0 {
                let last = self.core.running.len() - 1;
                self.core.preempt(last);
                if last == i {
                    return;
                }
            }
            let scheduled = self.core.try_schedule(i, 1);
            debug_assert!(scheduled, "a free block holds one more token");
            i += 1;
        }
    }
}

impl BatchingEngine for VllmV0 {
    fn core(&self) -> &EngineCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut EngineCore {
        &mut self.core
    }

    fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch> {
        self.core.begin_plan();
        if !self.admit_prefills(admitted) {
            if self.core.config.policy == SchedulingPolicy::Priority {
                self.preempt_for_priority();
            }
            self.decode_running();
        }
        let batch = self.core.batch();
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::{EngineLimits, KvCache};
    use crate::serve::engine::{Outcome, SchedulerKind, Seq};

    fn config(max_seqs: u32, max_batched_tokens: u32, block_size: u32) -> EngineConfig {
        EngineConfig {
            limits: EngineLimits {
                max_seqs,
                max_batched_tokens,
                ..EngineLimits::default()
            },
            chunked_prefill: false,
            block_size,
            kv_cache: KvCache::Bits16,
            policy: SchedulingPolicy::Fcfs,
            long_prefill_token_threshold: 0,
            kv_blocks: None,
            scheduler: SchedulerKind::VllmV0,
            ..EngineConfig::default()
        }
    }

    #[test]
    fn an_iteration_prefills_or_decodes_never_both() {
        let mut engine = VllmV0::new(config(8, 64, 4), 100, 0);
        engine.enqueue(Seq {
            id: 1,
            prompt: 8,
            output: 4,
            priority: 0,
        });
        let (mut admitted, mut outcomes) = (Vec::new(), Vec::new());
        let batch = engine.plan(&mut admitted).unwrap();
        assert_eq!((batch.prefill_seqs, batch.decode_seqs), (1, 0));
        engine.complete(&mut outcomes);
        engine.enqueue(Seq {
            id: 2,
            prompt: 8,
            output: 4,
            priority: 0,
        });
        // Request 2's prefill runs alone: request 1 waits to decode.
        let batch = engine.plan(&mut admitted).unwrap();
        assert_eq!((batch.prefill_seqs, batch.decode_seqs), (1, 0));
        engine.complete(&mut outcomes);
        let batch = engine.plan(&mut admitted).unwrap();
        assert_eq!((batch.prefill_seqs, batch.decode_seqs), (0, 2));
        engine.complete(&mut outcomes);
        engine.core.audit();
    }

    #[test]
    fn a_decode_without_a_free_block_preempts_the_last_running() {
        // 4 blocks of 4 tokens, no watermark below 100 blocks: two
        // requests of 4-token prompts hold a block each, then grow.
        let mut engine = VllmV0::new(config(8, 64, 4), 4, 0);
        for id in [1, 2] {
            engine.enqueue(Seq {
                id,
                prompt: 4,
                output: 8,
                priority: 0,
            });
        }
        let (mut admitted, mut outcomes, mut finished) = (Vec::new(), Vec::new(), Vec::new());
        while engine.plan(&mut admitted).is_some() {
            outcomes.clear();
            engine.complete(&mut outcomes);
            engine.core.audit();
            finished.extend(outcomes.iter().filter_map(|o| match o {
                Outcome::Finished(id) => Some(*id),
                Outcome::FirstToken(_) => None,
            }));
        }
        assert!(engine.preemptions() >= 1);
        assert_eq!(finished, [1, 2]);
    }
}
