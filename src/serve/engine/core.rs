//! What every batching engine keeps, whatever its scheduling rules: the
//! requests waiting and running, their computed tokens and cache blocks,
//! preemption by recomputation, and what an iteration does once planned
//! (tokens sampled, requests finished, blocks freed).

use crate::perf::Batch;

use super::waiting::{Queued, Waiting};
use super::{blocks_for, EngineConfig, InFlight, Outcome, SchedulingPolicy, Seq, SeqState};

/// A request inside an engine.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request {
    pub(super) id: u32,
    pub(super) prompt: u32,
    pub(super) output: u32,
    pub(super) priority: i32,
    /// Arrival number: ties of priority go to the earlier.
    pub(super) arrival: u64,
    /// Output tokens sampled so far.
    pub(super) generated: u32,
    /// Tokens whose keys and values are in the cache (or being computed
    /// in the planned iteration).
    pub(super) computed: u32,
    /// Cache blocks held.
    pub(super) blocks: u32,
    /// Tokens scheduled in the planned iteration (0: not scheduled).
    pub(super) scheduled: u32,
    /// Whether it was ever admitted.
    pub(super) started: bool,
}

impl Request {
    /// vLLM's `num_tokens`: prompt and output so far.
    #[inline]
    pub(super) fn num_tokens(&self) -> u32 {
        self.prompt + self.generated
    }

    /// Whether its prompt is processed and it is generating: the next
    /// token to compute is the last one sampled.
    #[inline]
    pub(super) fn is_decoding(&self) -> bool {
        self.generated > 0 && self.computed + 1 == self.num_tokens()
    }
}

impl Queued for Request {
    fn order(&self) -> (i32, u64) {
        (self.priority, self.arrival)
    }
}

/// The requests of one replica and its cache.
#[derive(Debug, Clone)]
pub struct EngineCore {
    pub(super) config: EngineConfig,
    window: u32,
    pub(super) blocks_total: u32,
    pub(super) blocks_free: u32,
    pub(super) waiting: Waiting<Request>,
    /// Admitted requests, in the order the scheduler visits them.
    pub(super) running: Vec<Request>,
    arrivals: u64,
    preemptions: u64,
    /// Ids preempted while planning the current iteration.
    preempted_now: Vec<u32>,
}

impl EngineCore {
    /// An idle core with `usable_blocks` cache blocks, for a model whose
    /// windowed layers attend to `window` tokens (0: none), its waiting
    /// requests kept in the order of `queue`.
    pub(super) fn new(
        config: EngineConfig,
        usable_blocks: u32,
        window: u32,
        queue: SchedulingPolicy,
    ) -> EngineCore {
        EngineCore {
            config,
            window,
            blocks_total: usable_blocks,
            blocks_free: usable_blocks,
            waiting: Waiting::new(queue),
            running: Vec::new(),
            arrivals: 0,
            preemptions: 0,
            preempted_now: Vec::new(),
        }
    }

    /// Free cache blocks.
    pub fn blocks_free(&self) -> u32 {
        self.blocks_free
    }

    /// The planned iteration's requests and their tokens, in the
    /// scheduler's order (valid between planning and completing).
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

    /// Starts planning an iteration.
    pub(super) fn begin_plan(&mut self) {
        self.preempted_now.clear();
    }

    /// Whether the iteration being planned preempted anything.
    pub(super) fn preempted_any(&self) -> bool {
        !self.preempted_now.is_empty()
    }

    /// Gives running request `i` `n` more tokens in the planned iteration
    /// if its new blocks are free; whether they were.
    #[inline]
    pub(super) fn try_schedule(&mut self, i: usize, n: u32) -> bool {
        let r = &self.running[i];
        let need = blocks_for(r.computed + n, self.config.block_size) - r.blocks;
        if need > self.blocks_free {
            return false;
        }
        self.blocks_free -= need;
        let r = &mut self.running[i];
        r.blocks += need;
        r.scheduled = n;
        true
    }

    /// Moves the head of the waiting queue to the end of the running list
    /// with its first `n` tokens scheduled, recording a first admission in
    /// `admitted`.
    pub(super) fn admit_head(&mut self, n: u32, admitted: &mut Vec<u32>) {
        let mut r = self.waiting.pop().expect("a waiting request");
        r.blocks = blocks_for(n, self.config.block_size);
        self.blocks_free -= r.blocks;
        r.scheduled = n;
        if !r.started {
            r.started = true;
            admitted.push(r.id);
        }
        self.running.push(r);
    }

    /// Takes running request `i` out, frees its blocks and queues it
    /// again (at the head of a first-come queue), to be recomputed from its
    /// first token. Returns the tokens it had been scheduled.
    pub(super) fn preempt(&mut self, i: usize) -> u32 {
        let mut victim = self.running.remove(i);
        let scheduled = victim.scheduled;
        self.blocks_free += victim.blocks;
        victim.blocks = 0;
        victim.computed = 0;
        victim.scheduled = 0;
        self.preempted_now.push(victim.id);
        self.preemptions += 1;
        self.waiting.prepend(victim);
        scheduled
    }

    /// The planned iteration's batch, or `None` when nothing is scheduled.
    pub(super) fn batch(&self) -> Option<Batch> {
        let mut batch = Batch::default();
        for r in self.running.iter().filter(|r| r.scheduled > 0) {
            let n = r.scheduled;
            let total = r.num_tokens();
            if n == 1 && r.is_decoding() {
                batch.add_decode(total, self.window);
            } else {
                batch.add_prefill(n, r.computed, self.window, r.computed + n == total);
            }
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// Queues a newly arrived request.
    pub(super) fn enqueue(&mut self, seq: Seq) {
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

    /// Applies the planned iteration: every scheduled request computes its
    /// tokens; one whose computed tokens reach its sequence samples a
    /// token; one with all its output tokens finishes and frees its
    /// blocks. Pushes first and last tokens into `outcomes`; returns the
    /// tokens sampled.
    pub(super) fn complete(&mut self, outcomes: &mut Vec<Outcome>) -> u64 {
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

    /// Requests queued or running.
    pub fn outstanding(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    /// Preemptions so far.
    pub fn preemptions(&self) -> u64 {
        self.preemptions
    }

    /// Every request in the replica, with its state.
    pub(super) fn in_flight(&self) -> Vec<InFlight> {
        let waiting = self.waiting.iter().map(|r| InFlight {
            id: r.id,
            generated: r.generated,
            state: SeqState::Waiting,
        });
        let running = self.running.iter().map(|r| InFlight {
            id: r.id,
            generated: r.generated,
            state: if r.is_decoding() {
                SeqState::Decoding
            } else {
                SeqState::Prefilling
            },
        });
        waiting.chain(running).collect()
    }

    /// Between iterations: the free blocks are the total less what every
    /// running request holds, each holds the blocks of its computed tokens,
    /// and nothing is scheduled.
    #[cfg(test)]
    pub(super) fn audit(&self) {
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
