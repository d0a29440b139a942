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

use crate::perf::Batch;

use super::waiting::{Queued, Waiting};
use super::{
    blocks_for, BatchingEngine, EngineConfig, InFlight, Outcome, SchedulingPolicy, Seq, SeqState,
};

/// A request inside the engine.
#[derive(Debug, Clone, Copy)]
struct Request {
    id: u32,
    prompt: u32,
    output: u32,
    priority: i32,
    /// Arrival number: ties of priority go to the earlier.
    arrival: u64,
    /// Output tokens sampled so far.
    generated: u32,
    /// Tokens whose keys and values are in the cache (or being computed
    /// this iteration).
    computed: u32,
    /// Cache blocks held.
    blocks: u32,
    /// Tokens scheduled in the planned iteration (0: not scheduled).
    scheduled: u32,
    /// Whether it was ever admitted.
    started: bool,
}

impl Request {
    /// vLLM's `num_tokens`: prompt and output so far.
    #[inline]
    fn num_tokens(&self) -> u32 {
        self.prompt + self.generated
    }
}

impl Queued for Request {
    fn order(&self) -> (i32, u64) {
        (self.priority, self.arrival)
    }
}

/// One replica's engine, deciding as vLLM V1 does.
#[derive(Debug, Clone)]
pub struct VllmV1 {
    config: EngineConfig,
    window: u32,
    blocks_total: u32,
    blocks_free: u32,
    waiting: Waiting<Request>,
    /// Admitted requests in vLLM's `running` order.
    running: Vec<Request>,
    arrivals: u64,
    preemptions: u64,
    /// Ids preempted while planning the current iteration.
    preempted_now: Vec<u32>,
}

impl VllmV1 {
    /// An idle engine with `usable_blocks` cache blocks (the null block
    /// excluded; see [`EngineConfig::usable_blocks`]), for a model whose
    /// windowed layers attend to `window` tokens (0: none).
    pub fn new(config: EngineConfig, usable_blocks: u32, window: u32) -> VllmV1 {
        VllmV1 {
            config,
            window,
            blocks_total: usable_blocks,
            blocks_free: usable_blocks,
            waiting: Waiting::new(config.policy),
            running: Vec::new(),
            arrivals: 0,
            preemptions: 0,
            preempted_now: Vec::new(),
        }
    }

    /// Free cache blocks (vLLM's `get_num_free_blocks`).
    pub fn blocks_free(&self) -> u32 {
        self.blocks_free
    }

    /// The planned iteration's requests and their tokens, in vLLM's order
    /// (valid between [`BatchingEngine::plan`] and
    /// [`BatchingEngine::complete`]).
    pub fn scheduled(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.running
            .iter()
            .filter(|r| r.scheduled > 0)
            .map(|r| (r.id, r.scheduled))
    }

    /// Ids preempted while planning the current iteration, in order.
    pub fn preempted_in_plan(&self) -> &[u32] {
        &self.preempted_now
    }

    /// Frees a running request's blocks and queues it again, to be
    /// recomputed from its first token.
    fn preempt(&mut self, mut victim: Request) {
        self.blocks_free += victim.blocks;
        victim.blocks = 0;
        victim.computed = 0;
        victim.scheduled = 0;
        self.preempted_now.push(victim.id);
        self.preemptions += 1;
        self.waiting.prepend(victim);
    }

    /// The running request to preempt next.
    fn victim(&self) -> usize {
        match self.config.policy {
            SchedulingPolicy::Fcfs => self.running.len() - 1,
            SchedulingPolicy::Priority => (0..self.running.len())
                .max_by_key(|&i| self.running[i].order())
                .expect("a running request"),
        }
    }

    /// Adds request `r`'s scheduled tokens to `batch`.
    #[inline]
    fn add_to_batch(batch: &mut Batch, r: &Request, window: u32) {
        let n = r.scheduled;
        let total = r.num_tokens();
        if n == 1 && r.generated > 0 && r.computed + 1 == total {
            batch.add_decode(total, window);
        } else {
            batch.add_prefill(n, r.computed, window, r.computed + n == total);
        }
    }

    /// Rule 1: the running requests.
    fn schedule_running(&mut self, budget: &mut u32, threshold: u32) {
        let bs = self.config.block_size;
        let mut i = 0;
        'requests: while i < self.running.len() && *budget > 0 {
            let r = &self.running[i];
            let mut n = r.num_tokens() - r.computed;
            if threshold > 0 && n > threshold {
                n = threshold;
            }
            n = n.min(*budget);
            loop {
                let r = &self.running[i];
                let need = blocks_for(r.computed + n, bs) - r.blocks;
                if need <= self.blocks_free {
                    self.blocks_free -= need;
                    let r = &mut self.running[i];
                    r.blocks += need;
                    r.scheduled = n;
                    *budget -= n;
                    i += 1;
                    continue 'requests;
                }
                let v = self.victim();
                let victim = self.running.remove(v);
                // Only under `priority` can the victim have been scheduled
                // earlier in this pass: its tokens return to the budget.
                *budget += victim.scheduled;
                self.preempt(victim);
                if v == i {
                    match self.config.policy {
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
        }
    }

    /// Rule 2: admits waiting requests.
    fn admit_waiting(&mut self, budget: &mut u32, threshold: u32, admitted: &mut Vec<u32>) {
        let bs = self.config.block_size;
        let max_seqs = self.config.limits.max_seqs as usize;
        while *budget > 0 && self.running.len() < max_seqs {
            let Some(head) = self.waiting.peek() else {
                break;
            };
            let tokens = head.num_tokens();
            let mut n = tokens;
            if threshold > 0 && n > threshold {
                n = threshold;
            }
            if !self.config.chunked_prefill && n > *budget {
                break;
            }
            n = n.min(*budget);
            // The whole sequence must fit (`scheduler_reserve_full_isl`);
            // the chunk's blocks then fit too.
            if blocks_for(tokens, bs) > self.blocks_free {
                break;
            }
            let mut r = self.waiting.pop().expect("peeked");
            r.blocks = blocks_for(n, bs);
            self.blocks_free -= r.blocks;
            r.scheduled = n;
            if !r.started {
                r.started = true;
                admitted.push(r.id);
            }
            *budget -= n;
            self.running.push(r);
        }
    }
}

impl BatchingEngine for VllmV1 {
    fn enqueue(&mut self, seq: Seq) {
        self.waiting.push(Request {
            id: seq.id,
            prompt: seq.prompt,
            output: seq.output,
            priority: seq.priority,
            arrival: self.arrivals,
            generated: 0,
            computed: 0,
            blocks: 0,
            scheduled: 0,
            started: false,
        });
        self.arrivals += 1;
    }

    fn plan(&mut self, admitted: &mut Vec<u32>) -> Option<Batch> {
        self.preempted_now.clear();
        let mut budget = self.config.limits.max_batched_tokens;
        let threshold = if self.running.len() + self.waiting.len() > 1 {
            self.config.long_prefill_token_threshold
        } else {
            0
        };
        self.schedule_running(&mut budget, threshold);
        if self.preempted_now.is_empty() {
            self.admit_waiting(&mut budget, threshold, admitted);
        }
        let mut batch = Batch::default();
        for r in self.running.iter().filter(|r| r.scheduled > 0) {
            Self::add_to_batch(&mut batch, r, self.window);
        }
        (!batch.is_empty()).then_some(batch)
    }

    fn complete(&mut self, outcomes: &mut Vec<Outcome>) -> u64 {
        let mut tokens = 0u64;
        let mut freed = 0u32;
        self.running.retain_mut(|r| {
            if r.scheduled == 0 {
                return true;
            }
            r.computed += r.scheduled;
            r.scheduled = 0;
            if r.computed < r.num_tokens() {
                return true;
            }
            r.generated += 1;
            tokens += 1;
            if r.generated == 1 {
                outcomes.push(Outcome::FirstToken(r.id));
            }
            if r.generated < r.output {
                return true;
            }
            freed += r.blocks;
            outcomes.push(Outcome::Finished(r.id));
            false
        });
        self.blocks_free += freed;
        tokens
    }

    fn outstanding(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    fn blocks_used(&self) -> u32 {
        self.blocks_total - self.blocks_free
    }

    fn blocks_total(&self) -> u32 {
        self.blocks_total
    }

    fn preemptions(&self) -> u64 {
        self.preemptions
    }

    fn in_flight(&self) -> Vec<InFlight> {
        let waiting = self.waiting.iter().map(|r| InFlight {
            id: r.id,
            generated: r.generated,
            state: SeqState::Waiting,
        });
        let running = self.running.iter().map(|r| InFlight {
            id: r.id,
            generated: r.generated,
            state: if r.generated > 0 && r.computed + 1 == r.num_tokens() {
                SeqState::Decoding
            } else {
                SeqState::Prefilling
            },
        });
        waiting.chain(running).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::{EngineLimits, KvCache};
    use proptest::prelude::*;

    impl VllmV1 {
        /// Between iterations: the free blocks are the total less what
        /// every running request holds, and each holds the blocks of its
        /// computed tokens.
        fn audit(&self) {
            let bs = self.config.block_size;
            let held: u32 = self.running.iter().map(|r| r.blocks).sum();
            assert_eq!(held + self.blocks_free, self.blocks_total);
            for r in &self.running {
                assert_eq!(r.blocks, blocks_for(r.computed, bs));
                assert_eq!(r.scheduled, 0);
            }
            assert!(self
                .waiting
                .iter()
                .all(|r| r.blocks == 0 && r.computed == 0));
            assert!(self.running.len() <= self.config.limits.max_seqs as usize);
        }
    }

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
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random engines and requests, enqueued between random numbers of
        /// iterations: the cache is never over-committed, blocks are
        /// charged and freed exactly, every request finishes once with all
        /// its tokens, preempted ones too, and an engine with work always
        /// plans an iteration.
        #[test]
        fn every_request_finishes_once_and_the_cache_balances(
            max_seqs in 1u32..16,
            extra_tokens in 0u32..600,
            chunked in any::<bool>(),
            priority in any::<bool>(),
            threshold in prop::sample::select(vec![0u32, 7, 64]),
            block_size in prop::sample::select(vec![1u32, 4, 16]),
            blocks in 4u32..200,
            requests in prop::collection::vec((1u32..400, 1u32..300, 0usize..4, -2i32..3), 1..40),
        ) {
            let policy = if priority { SchedulingPolicy::Priority } else { SchedulingPolicy::Fcfs };
            let mut config = config(max_seqs, max_seqs + extra_tokens, chunked, block_size, policy);
            config.long_prefill_token_threshold = if chunked { threshold } else { 0 };
            prop_assume!(config.check().is_ok());
            let mut engine = VllmV1::new(config, blocks, 0);
            let longest = config.longest_request(blocks);
            let mut wanted = std::collections::BTreeMap::new();
            let mut finished = std::collections::BTreeSet::new();
            let mut first = std::collections::BTreeSet::new();
            let (mut emitted, mut outcomes, mut admitted) = (0u64, Vec::new(), Vec::new());
            let mut step = |engine: &mut VllmV1, emitted: &mut u64| -> bool {
                outcomes.clear();
                if engine.plan(&mut admitted).is_none() {
                    assert_eq!(engine.outstanding(), 0, "work left with nothing planned");
                    return false;
                }
                let budget = engine.config.limits.max_batched_tokens;
                assert!(engine.scheduled().map(|(_, n)| n).sum::<u32>() <= budget);
                *emitted += engine.complete(&mut outcomes);
                engine.audit();
                for outcome in &outcomes {
                    match *outcome {
                        Outcome::FirstToken(id) => assert!(first.insert(id), "two first tokens for {id}"),
                        Outcome::Finished(id) => assert!(finished.insert(id), "{id} finished twice"),
                    }
                }
                true
            };
            for (id, &(prompt, output, pause, priority)) in requests.iter().enumerate() {
                if u64::from(prompt + output) > longest {
                    continue;
                }
                engine.enqueue(Seq { id: id as u32, prompt, output, priority });
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
            prop_assert_eq!(engine.blocks_used(), 0);
            prop_assert_eq!(finished.len(), wanted.len());
            prop_assert_eq!(first.len(), wanted.len());
            prop_assert_eq!(emitted, wanted.values().map(|&o| u64::from(o)).sum::<u64>());
        }
    }

    /// Runs `engine` until idle; the finishing order and the preemptions.
    fn drain(engine: &mut VllmV1) -> (Vec<u32>, u64) {
        let (mut outcomes, mut admitted, mut order) = (Vec::new(), Vec::new(), Vec::new());
        while engine.plan(&mut admitted).is_some() {
            outcomes.clear();
            engine.complete(&mut outcomes);
            engine.audit();
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
