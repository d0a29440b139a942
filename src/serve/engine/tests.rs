//! Properties every engine keeps, over random engines and request streams.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random engines of every scheduler and random requests, enqueued
    /// between random numbers of iterations: the cache is never
    /// over-committed, blocks are charged and freed exactly, no iteration
    /// exceeds the token budget (V1) or the sequence limit, every request
    /// finishes once with all its tokens, preempted ones too, and an
    /// engine with work always plans an iteration.
    #[test]
    fn every_request_finishes_once_and_the_cache_balances(
        v0 in any::<bool>(),
        max_seqs in 1u32..16,
        extra_tokens in 0u32..600,
        chunked in any::<bool>(),
        priority in any::<bool>(),
        threshold in prop::sample::select(vec![0u32, 7, 64]),
        block_size in prop::sample::select(vec![1u32, 4, 16]),
        blocks in 4u32..300,
        requests in prop::collection::vec((1u32..400, 1u32..300, 0usize..4, -2i32..3), 1..40),
    ) {
        let config = EngineConfig {
            limits: EngineLimits {
                max_seqs,
                max_batched_tokens: max_seqs + extra_tokens,
                ..EngineLimits::default()
            },
            chunked_prefill: chunked && !v0,
            block_size,
            policy: if priority { SchedulingPolicy::Priority } else { SchedulingPolicy::Fcfs },
            long_prefill_token_threshold: if chunked && !v0 { threshold } else { 0 },
            kv_blocks: Some(blocks),
            scheduler: if v0 { SchedulerKind::VllmV0 } else { SchedulerKind::VllmV1 },
            ..EngineConfig::default()
        };
        prop_assume!(config.check().is_ok());
        let mut engine = config.engine(0, 0);
        let longest = config.longest_request(engine.blocks_total());
        let mut wanted = BTreeMap::new();
        let (mut finished, mut first) = (BTreeSet::new(), BTreeSet::new());
        let (mut emitted, mut outcomes, mut admitted) = (0u64, Vec::new(), Vec::new());
        let mut empty_before = false;
        let mut step = |engine: &mut Box<dyn BatchingEngine>, emitted: &mut u64| -> bool {
            outcomes.clear();
            if engine.plan(&mut admitted).is_none() {
                if engine.outstanding() == 0 {
                    return false;
                }
                // Only V0 plans an iteration that only preempts, and the
                // next one then schedules.
                assert!(v0 && !empty_before, "work left with nothing planned twice");
                empty_before = true;
                engine.core().audit();
                return true;
            }
            empty_before = false;
            let core = engine.core();
            if !v0 {
                assert!(core.scheduled().map(|(_, n)| n).sum::<u32>() <= config.limits.max_batched_tokens);
            }
            assert!(core.scheduled().count() <= max_seqs as usize);
            *emitted += engine.complete(&mut outcomes);
            engine.core().audit();
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
