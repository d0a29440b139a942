//! What every batching engine keeps, whatever its scheduling rules: the
//! requests waiting and running, their computed tokens and cache blocks,
//! preemption by recomputation, and what an iteration does once planned
//! (tokens sampled, requests finished, blocks freed).

use crate::perf::{windowed, Batch};

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
    /// Tokens whose keys and values are in the cache (vLLM's
    /// `num_computed_tokens`, before the planned iteration).
    pub(super) computed: u32,
    /// Tokens scheduled in the planned iteration (0: not scheduled). The
    /// request holds the blocks of `computed + scheduled` tokens.
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

    /// Cache blocks it holds, of `block_size` tokens.
    #[inline]
    pub(super) fn blocks(&self, block_size: u32) -> u32 {
        blocks_for(self.computed + self.scheduled, block_size)
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
    pub(super) window: u32,
    pub(super) blocks_total: u32,
    pub(super) blocks_free: u32,
    pub(super) waiting: Waiting<Request>,
    /// Admitted requests, in the order the scheduler visits them.
    pub(super) running: Vec<Request>,
    arrivals: u64,
    preemptions: u64,
    /// Ids preempted while planning the current iteration.
    preempted_now: Vec<u32>,
    /// Running requests not decoding, between iterations.
    prefilling: usize,
    /// Whether the planned iteration only decodes every running request
    /// (then completing it takes the short path).
    decodes_only: bool,
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
            prefilling: 0,
            decodes_only: false,
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
        self.decodes_only = false;
    }

    /// Plans one decode token for every running request if every one is
    /// decoding and neither the token budget `budget` nor the free blocks
    /// can run short (each needs at most one more block), adding them to
    /// `batch`; whether it did. The engine's hottest path: a step of
    /// steady decoding costs a few instructions per request.
    pub(super) fn try_decode_all(&mut self, budget: &mut u32, batch: &mut Batch) -> bool {
        let count = self.running.len();
        if self.prefilling > 0 || count == 0 || (*budget as usize) < count {
            return false;
        }
        if (self.blocks_free as usize) < count {
            return false;
        }
        let mask = self.config.block_size - 1;
        let (mut need, mut context, mut window_context) = (0u32, 0u64, 0u64);
        for r in &mut self.running {
            // The next token starts a block when the cache's last is full.
            need += u32::from(r.computed & mask == 0);
            r.scheduled = 1;
            let c = r.computed + 1;
            context += u64::from(c);
            window_context += u64::from(windowed(c, self.window));
        }
        self.blocks_free -= need;
        *budget -= count as u32;
        batch.add_decodes(count as u32, context, window_context);
        self.decodes_only = true;
        true
    }

    /// Whether the iteration being planned preempted anything.
    pub(super) fn preempted_any(&self) -> bool {
        !self.preempted_now.is_empty()
    }

    /// Gives running request `i` `n` more tokens in the planned iteration
    /// if its new blocks are free; whether they were.
    #[inline]
    pub(super) fn try_schedule(&mut self, i: usize, n: u32) -> bool {
        let bs = self.config.block_size;
        let r = &mut self.running[i];
        let need = blocks_for(r.computed + n, bs) - blocks_for(r.computed, bs);
        if need > self.blocks_free {
            return false;
        }
        self.blocks_free -= need;
        r.scheduled = n;
        true
    }

    /// Moves the head of the waiting queue to the end of the running list
    /// with its first `n` tokens scheduled, recording a first admission in
    /// `admitted`.
    pub(super) fn admit_head(&mut self, n: u32, admitted: &mut Vec<u32>) {
        let mut r = self.waiting.pop().expect("a waiting request");
        r.scheduled = n;
        self.blocks_free -= r.blocks(self.config.block_size);
        if !r.started {
            r.started = true;
            admitted.push(r.id);
        }
        self.running.push(r);
        self.prefilling += 1;
        self.decodes_only = false;
    }

    /// Takes running request `i` out, frees its blocks and queues it
    /// again (at the head of a first-come queue), to be recomputed from its
    /// first token. Returns the tokens it had been scheduled.
    pub(super) fn preempt(&mut self, i: usize) -> u32 {
        let mut victim = self.running.remove(i);
        self.prefilling -= usize::from(!victim.is_decoding());
        let scheduled = victim.scheduled;
        self.blocks_free += victim.blocks(self.config.block_size);
        victim.computed = 0;
        victim.scheduled = 0;
        self.preempted_now.push(victim.id);
        self.preemptions += 1;
        self.waiting.prepend(victim);
        scheduled
    }

    /// Adds request `r`'s scheduled tokens to `batch`, under an attention
    /// window of `window` tokens.
    #[inline]
    pub(super) fn add_to_batch(batch: &mut Batch, r: &Request, window: u32) {
        let n = r.scheduled;
        let total = r.num_tokens();
        if n == 1 && r.is_decoding() {
            batch.add_decode(total, window);
        } else {
            batch.add_prefill(n, r.computed, window, r.computed + n == total);
        }
    }

    /// The planned iteration's batch, from every scheduled request.
    pub(super) fn batch(&self) -> Batch {
        let mut batch = Batch::default();
        for r in self.running.iter().filter(|r| r.scheduled > 0) {
            Self::add_to_batch(&mut batch, r, self.window);
        }
        batch
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
        let bs = self.config.block_size;
        if self.decodes_only {
            return self.complete_decodes(outcomes);
        }
        let mut tokens = 0u64;
        let mut finished = false;
        for r in self.running.iter_mut().filter(|r| r.scheduled > 0) {
            r.computed += r.scheduled;
            r.scheduled = 0;
            if r.computed < r.num_tokens() {
                continue;
            }
            r.generated += 1;
            tokens += 1;
            if r.generated == 1 {
                outcomes.push(Outcome::FirstToken(r.id));
            }
            if r.generated == r.output {
                self.blocks_free += blocks_for(r.computed, bs);
                outcomes.push(Outcome::Finished(r.id));
                finished = true;
            }
        }
        if finished {
            self.running.retain(|r| r.generated < r.output);
        }
        self.prefilling = self.running.iter().filter(|r| !r.is_decoding()).count();
        tokens
    }

    /// [`EngineCore::complete`] after [`EngineCore::try_decode_all`]:
    /// every running request samples a token.
    fn complete_decodes(&mut self, outcomes: &mut Vec<Outcome>) -> u64 {
        let bs = self.config.block_size;
        let mut finished = false;
        for r in &mut self.running {
            r.computed += 1;
            r.scheduled = 0;
            r.generated += 1;
            if r.generated == r.output {
                self.blocks_free += blocks_for(r.computed, bs);
                outcomes.push(Outcome::Finished(r.id));
                finished = true;
            }
        }
        let tokens = self.running.len() as u64;
        if finished {
            self.running.retain(|r| r.generated < r.output);
        }
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
        let held: u32 = self.running.iter().map(|r| r.blocks(bs)).sum();
        assert_eq!(held + self.blocks_free, self.blocks_total);
        for r in &self.running {
            assert_eq!(r.scheduled, 0);
            assert!(r.computed < r.num_tokens());
        }
        let prefilling = self.running.iter().filter(|r| !r.is_decoding()).count();
        assert_eq!(self.prefilling, prefilling);
        assert!(self
            .waiting
            .iter()
            .all(|r| r.computed == 0 && r.scheduled == 0));
        assert!(self.running.len() <= self.config.limits.max_seqs as usize);
    }
}
