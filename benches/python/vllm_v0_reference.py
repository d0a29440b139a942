#!/usr/bin/env python3
"""Golden fixtures of vLLM's V0 scheduler, step by step, for aimsim's engine.

What it does
------------
Drives the real V0 ``vllm.core.scheduler.Scheduler`` of vLLM 0.7.3 (the
default engine of vLLM releases before 0.8) with chunked prefill OFF, so
every ``schedule()`` takes V0's ``_schedule_default`` path, and records what
it decides at every step: which requests it schedules and with how many
tokens, which it preempts, which finish, and how many GPU KV blocks are free
afterwards. aimsim's V0 batching engine replays the same streams and must
reproduce every step.

Settings (the same for every stream): chunked prefill off, preemption by
recompute (``SchedulerConfig(preemption_mode="recompute")`` and no CPU swap
blocks), prefix caching off, no sliding window, no LoRA, no speculative
decoding (``num_lookahead_slots=0``), ``num_scheduler_steps=1``,
``delay_factor=0``, ``max_num_batched_tokens >= max_model_len`` (V0 requires
it without chunked prefill) and ``>= max_num_seqs``. The block manager is the
one vLLM 0.7.3 builds, ``SelfAttnBlockSpaceManager`` (the former "block
manager v2"; recorded as ``"block_manager": "v2"``), with its default
``watermark=0.01``: ``watermark_blocks = int(0.01 * num_gpu_blocks)``, which
equals ``num_gpu_blocks // 100`` for every block count used here (checked).
V0 has no null block: all ``num_gpu_blocks`` are usable. Policies ``fcfs``
and ``priority`` (vLLM 0.7.3's V0 Scheduler supports both).

How the model runner is mocked
------------------------------
There is no model, no model runner, no GPU and no tokenizer: the Scheduler is
built straight from a ``SchedulerConfig`` and a ``CacheConfig`` whose
``num_gpu_blocks`` / ``num_cpu_blocks`` (0) are set by hand, as vLLM's own
``tests/core/test_scheduler.py`` does. Each request is a ``SequenceGroup`` of
one ``Sequence`` (``seq_id = id``, ``request_id = str(id)``,
``arrival_time = float(id)``, prompt token ids
``[(7 * i) % 1000 + 10 for i in range(prompt)]``, no EOS id,
``SamplingParams(max_tokens=output, ignore_eos=True)``, ``priority``).

Step k (k = 0, 1, 2, ...), mirroring what ``LLMEngine.step()`` does with
synchronous output processing (``_process_model_outputs`` with
``is_async=False``, as on CPU or with ``--disable-async-output-proc``):

1. every request whose ``arrival_step == k`` is added (in id order) with
   ``scheduler.add_seq_group``;
2. ``metadata, out, _ = scheduler.schedule()``;
3. for each entry of ``out.scheduled_seq_groups`` in order:
   ``seq_group.update_num_computed_tokens(token_chunk_size)``; then, if the
   metadata's ``do_sample`` is set (always, without chunked prefill: a
   prefill covers the whole prompt, or the prompt plus the outputs being
   recomputed after a preemption), one sampled token (id 3) is appended with
   ``seq.append_token_id`` and vLLM's own ``StopChecker.maybe_stop_sequence``
   runs, which marks the sequence ``FINISHED_LENGTH_CAPPED`` when its output
   reaches ``max_tokens`` (nothing else can stop it here); a finished
   sequence is freed at once with ``scheduler.free_seq``;
4. if anything finished, ``scheduler.free_finished_seq_groups()``;
5. the step is recorded (also when nothing was scheduled).

A stream ends when every request has arrived and finished. A random stream
that runs past its step cap is dropped and drawn again from the next
sub-seed.

Preempted ids are the requests whose sequence was RUNNING before
``schedule()`` and WAITING after it; the harness cross-checks them against
the calls of ``Scheduler._preempt`` during that ``schedule()`` (wrapped on
the instance to log ids only; both the decode path's preemptions and the
priority policy's forced preemptions go through it). vLLM's own
``SchedulerOutputs.preempted`` is only a count and leaves out the priority
policy's forced preemptions, so it is not used.

Fixture format
--------------
``tests/fixtures/vllm/v0_streams.jsonl.gz``: gzip (mtime 0, empty file
name), one JSON object per line, ``json.dumps(obj, separators=(",", ":"),
sort_keys=True)``::

    {"name": "random-0001",
     "config": {"num_gpu_blocks": 40, "block_size": 16, "max_num_seqs": 8,
                "max_num_batched_tokens": 640, "chunked_prefill": false,
                "long_prefill_token_threshold": 0, "policy": "fcfs",
                "max_model_len": 640, "watermark": 0.01,
                "block_manager": "v2"},
     "requests": [[id, arrival_step, prompt, output, priority], ...],
     "steps": [{"s": [[id, tokens], ...],  # out.scheduled_seq_groups, in
                                           # order; tokens = token_chunk_size
                                           # (whole prompt, or prompt + outputs
                                           # when recomputing, or 1 for a decode)
                "p": [id, ...],            # preempted in this schedule(), ascending
                "f": [id, ...],            # finished after this step, ascending
                "free": n}, ...],          # block_manager.get_num_free_gpu_blocks()
                                           # after the step
     "vllm": "0.7.3", "engine": "v0"}

Request ids are 0..n-1 in arrival order (so ``arrival_time`` ties never
happen and priority ties break by id). The config values are the ones the
built Scheduler really holds. Every request fits alone:
``prompt + output <= min(max_model_len,
(num_gpu_blocks - watermark_blocks) * block_size)``.

Deterministic: every random stream comes from its own ``random.Random(seed)``;
V0's decisions read no wall clock with ``delay_factor=0``; no set or hash
order reaches the output.

What does not depend on the vLLM version (the step loop, the random draws
both harnesses share, the file writing and the command line) is in
``vllm_streams.py`` next to this script.

Run ``bash benches/python/vllm_fixtures.sh v0`` to rebuild the file in a
fresh virtual environment; or, with vLLM 0.7.3 installed,
``python3 benches/python/vllm_v0_reference.py --out PATH`` (``--check PATH``
regenerates in memory and compares).
"""

import contextlib
import logging
import os
import random
import sys
import types

# vllm_streams.py sits next to this script (on sys.path when it runs as one).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
import vllm_streams  # noqa: E402
from vllm_streams import blocks_for, cdiv, reqs, with_priorities  # noqa: E402

vllm_streams.offline_env()
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Test-only knob of vllm/core/scheduler.py: must stay off.
os.environ.pop("VLLM_TEST_ENABLE_ARTIFICIAL_PREEMPT", None)

VLLM_VERSION = "0.7.3"
SAMPLED_TOKEN = 3
WATERMARK = 0.01  # SelfAttnBlockSpaceManager's default, which Scheduler keeps
RANDOM_STREAMS = 260
RANDOM_STEP_CAP = 3000  # a random draw running longer is replaced
HARD_STEP_CAP = 8000  # no stream may run longer


def watermark_blocks(num_gpu_blocks):
    """SelfAttnBlockSpaceManager.watermark_blocks for the default watermark."""
    return int(WATERMARK * num_gpu_blocks)


# --------------------------------------------------------------------------
# Driving vLLM
# --------------------------------------------------------------------------


def load_vllm():
    """The vLLM names the driver uses, once vLLM is checked to be the right
    version (imported here, not at the top: ``--help`` needs no vLLM)."""
    import vllm
    from vllm.config import CacheConfig, SchedulerConfig
    from vllm.core.block_manager import SelfAttnBlockSpaceManager
    from vllm.core.scheduler import Scheduler
    from vllm.engine.output_processor.stop_checker import StopChecker
    from vllm.inputs import token_inputs
    from vllm.sampling_params import SamplingParams
    from vllm.sequence import (
        Logprob,
        Sequence,
        SequenceGroup,
        SequenceStatus,
    )

    vllm_streams.require_vllm(vllm.__version__, VLLM_VERSION)
    return types.SimpleNamespace(**locals())


class Driver:
    """Builds V0 schedulers from stream configs and runs streams."""

    def __init__(self):
        self.api = load_vllm()

    def build(self, cfg):
        """A Scheduler for `cfg`, and the config values it really holds."""
        api = self.api
        scheduler_config = api.SchedulerConfig(
            runner_type="generate",
            max_num_batched_tokens=cfg["max_num_batched_tokens"],
            max_num_seqs=cfg["max_num_seqs"],
            max_model_len=cfg["max_model_len"],
            num_lookahead_slots=0,
            delay_factor=0.0,
            enable_chunked_prefill=cfg["chunked_prefill"],
            long_prefill_token_threshold=cfg["long_prefill_token_threshold"],
            preemption_mode="recompute",
            num_scheduler_steps=1,
            send_delta_data=False,
            policy=cfg["policy"],
        )
        cache_config = api.CacheConfig(
            block_size=cfg["block_size"],
            gpu_memory_utilization=0.9,
            swap_space=0,
            cache_dtype="auto",
            enable_prefix_caching=False,
        )
        cache_config.num_gpu_blocks = cfg["num_gpu_blocks"]
        cache_config.num_cpu_blocks = 0
        scheduler = api.Scheduler(scheduler_config, cache_config, None)
        sc = scheduler.scheduler_config
        bm = scheduler.block_manager
        used = {
            "num_gpu_blocks": bm.num_total_gpu_blocks,
            "block_size": bm.block_size,
            "max_num_seqs": sc.max_num_seqs,
            "max_num_batched_tokens": sc.max_num_batched_tokens,
            "chunked_prefill": bool(sc.chunked_prefill_enabled),
            "long_prefill_token_threshold": sc.long_prefill_token_threshold,
            "policy": sc.policy,
            "max_model_len": sc.max_model_len,
            "watermark": bm.watermark,
            "block_manager": (
                "v2" if type(bm) is api.SelfAttnBlockSpaceManager else type(bm).__name__
            ),
        }
        # The harness assumes V0's plain _schedule_default path.
        assert type(scheduler) is api.Scheduler
        assert not sc.chunked_prefill_enabled and not sc.is_multi_step
        assert sc.preemption_mode == "recompute"
        assert sc.num_lookahead_slots == 0 and sc.delay_factor == 0.0
        assert sc.max_num_partial_prefills == 1
        assert not scheduler.use_async_output_proc
        assert not scheduler.enable_artificial_preemption
        assert scheduler.lora_config is None
        assert not bm.enable_caching and bm.sliding_window is None
        assert bm.watermark_blocks == watermark_blocks(cfg["num_gpu_blocks"])
        assert bm.watermark_blocks == cfg["num_gpu_blocks"] // 100
        assert bm.get_num_free_gpu_blocks() == cfg["num_gpu_blocks"]
        assert bm.get_num_free_cpu_blocks() == 0
        stop_checker = api.StopChecker(sc.max_model_len, lambda seq: None)
        return scheduler, stop_checker, used

    def make_request(self, rid, prompt, output, priority, block_size):
        params = self.api.SamplingParams(max_tokens=output, ignore_eos=True)
        seq = self.api.Sequence(
            seq_id=rid,
            inputs=self.api.token_inputs(
                prompt_token_ids=[(7 * i) % 1000 + 10 for i in range(prompt)]
            ),
            block_size=block_size,
            eos_token_id=None,
        )
        group = self.api.SequenceGroup(
            request_id=str(rid),
            seqs=[seq],
            arrival_time=float(rid),
            sampling_params=params,
            priority=priority,
        )
        # Only max_tokens may end a request.
        assert params.min_tokens == 0 and not params.stop
        assert not params.stop_token_ids and params.n == 1
        return group

    def run(self, cfg, requests, step_cap):
        """Runs one stream. Returns (config used, steps), or None past the cap."""
        check_stream(cfg, requests)
        scheduler, stop_checker, used = self.build(cfg)
        assert used == cfg, (used, cfg)
        bs = cfg["block_size"]
        running_status = self.api.SequenceStatus.RUNNING
        waiting_status = self.api.SequenceStatus.WAITING
        capped_status = self.api.SequenceStatus.FINISHED_LENGTH_CAPPED
        bm = scheduler.block_manager

        preempt_calls = []
        real_preempt = scheduler._preempt

        def logged_preempt(seq_group, blocks_to_swap_out):
            preempt_calls.append(int(seq_group.request_id))
            return real_preempt(seq_group, blocks_to_swap_out)

        scheduler._preempt = logged_preempt

        def admit(rid, prompt, output, priority):
            group = self.make_request(rid, prompt, output, priority, bs)
            scheduler.add_seq_group(group)
            return group

        def step(k, live):
            was_running = {
                rid for rid, g in live.items() if g.first_seq.status == running_status
            }
            lens_before = {rid: g.first_seq.get_len() for rid, g in live.items()}
            del preempt_calls[:]
            metadata, out, _ = scheduler.schedule()
            preempted = sorted(preempt_calls)
            by_status = sorted(
                rid
                for rid in was_running
                if live[rid].first_seq.status == waiting_status
            )
            assert preempted == by_status, (k, preempted, by_status)
            assert len(set(preempted)) == len(preempted)
            assert not out.ignored_seq_groups, k
            assert not out.blocks_to_swap_out and not out.blocks_to_swap_in
            assert not out.blocks_to_copy

            scheduled = []
            finished_now = []
            for meta, sched in zip(metadata, out.scheduled_seq_groups):
                group = sched.seq_group
                seq = group.first_seq
                rid = int(group.request_id)
                n = sched.token_chunk_size
                assert meta.request_id == group.request_id
                assert seq.status == running_status
                if meta.is_prompt:
                    # A whole prompt (with the outputs so far, if recomputed).
                    assert n == lens_before[rid] == seq.get_len()
                    assert seq.data.get_num_computed_tokens() == 0
                else:
                    assert n == 1
                assert meta.do_sample
                scheduled.append([rid, n])

                group.update_num_computed_tokens(n)
                seq.append_token_id(
                    SAMPLED_TOKEN, {SAMPLED_TOKEN: self.api.Logprob(logprob=0.0)}
                )
                stop_checker.maybe_stop_sequence(seq, 0, group.sampling_params)
                if seq.is_finished():
                    assert seq.status == capped_status
                    assert seq.get_output_len() == group.sampling_params.max_tokens
                    scheduler.free_seq(seq)
                    finished_now.append(rid)
            if finished_now:
                scheduler.free_finished_seq_groups()

            # Sanity: what the Rust replay relies on.
            num_prefills = out.num_prefill_groups
            # A step is prefill-only or decode-only.
            assert num_prefills == 0 or num_prefills == len(scheduled), k
            assert sum(n for _, n in scheduled) <= cfg["max_num_batched_tokens"]
            assert len(scheduled) <= cfg["max_num_seqs"]
            assert len(scheduler.running) <= cfg["max_num_seqs"]
            assert not set(preempted) & {rid for rid, _ in scheduled}
            assert not scheduler.swapped
            # Every running sequence holds cdiv(tokens in its KV, block_size)
            # blocks: its length less the token sampled this step.
            held = 0
            for g in scheduler.running:
                seq = g.first_seq
                assert seq.status == running_status
                blocks = len(bm.get_block_table(seq))
                assert blocks == cdiv(seq.get_len() - 1, bs), (k, g.request_id)
                held += blocks
            for g in scheduler.waiting:
                assert g.first_seq.status == waiting_status
                assert g.first_seq.seq_id not in bm.block_tables
            assert held == cfg["num_gpu_blocks"] - bm.get_num_free_gpu_blocks()
            return {
                "s": scheduled,
                "p": preempted,
                "f": sorted(finished_now),
                "free": bm.get_num_free_gpu_blocks(),
            }

        steps = vllm_streams.replay(requests, step_cap, admit, step)
        if steps is None:
            return None
        assert not scheduler.has_unfinished_seqs()
        assert bm.get_num_free_gpu_blocks() == cfg["num_gpu_blocks"]
        return used, steps


def check_stream(cfg, requests):
    """The stream rules of the brief: each request finishable alone, etc."""
    assert not cfg["chunked_prefill"]
    assert cfg["long_prefill_token_threshold"] == 0
    assert cfg["max_num_batched_tokens"] >= cfg["max_model_len"]
    assert cfg["watermark"] == WATERMARK and cfg["block_manager"] == "v2"
    # Admission keeps the watermark's blocks free.
    usable_blocks = cfg["num_gpu_blocks"] - watermark_blocks(cfg["num_gpu_blocks"])
    vllm_streams.check_stream(cfg, requests, usable_blocks)


@contextlib.contextmanager
def open_runner():
    """Yields Driver.run."""
    driver = Driver()
    # vLLM warns on every 50th preemption; the fixtures record them anyway.
    logging.getLogger("vllm").setLevel(logging.ERROR)
    yield driver.run


# --------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------


def config(num_gpu_blocks, block_size, max_num_seqs, max_num_batched_tokens, policy,
           max_model_len):
    return {
        "num_gpu_blocks": num_gpu_blocks,
        "block_size": block_size,
        "max_num_seqs": max_num_seqs,
        "max_num_batched_tokens": max_num_batched_tokens,
        "chunked_prefill": False,
        "long_prefill_token_threshold": 0,
        "policy": policy,
        "max_model_len": max_model_len,
        "watermark": WATERMARK,
        "block_manager": "v2",
    }


def min_gpu_blocks(tokens, bs):
    """Fewest num_gpu_blocks that hold `tokens` above the watermark."""
    need = cdiv(tokens, bs)
    n = need
    while n - watermark_blocks(n) < need:
        n += 1
    return n


def named_streams():
    """Hand-made edge cases: [(name, config, requests)], in file order."""
    # The same arrivals, prompts and outputs under both policies.
    held = [(0, 400, 30), (0, 200, 30), (0, 20, 30), (0, 480, 10), (0, 8, 5),
            (1, 300, 20), (1, 100, 40), (5, 480, 20), (5, 4, 60)]
    held_priorities = [2, 1, 3, 0, 3, 1, 0, 2, 0]
    high_arrives = [(0, 100, 200), (0, 100, 200), (0, 100, 200), (3, 100, 60)]
    # MLPerf-like: big budget, 64 seats, 40 requests, plenty of blocks.
    rng = random.Random(4096)
    mlperf = []
    t = 0.0
    for _ in range(40):
        mlperf.append((int(t), rng.randint(50, 1000), rng.randint(50, 400), 0))
        t += rng.expovariate(1.0 / 3.0)
    burst = [(0, p, o, 0) for _, p, o, _ in mlperf]
    # (name, config(num_gpu_blocks, block_size, max_num_seqs,
    # max_num_batched_tokens, policy, max_model_len) values, request specs
    # [(arrival, prompt, output, priority), ...])
    table = [
        ("single-one-token-output", (10, 16, 4, 128, "fcfs", 128), [(0, 20, 1, 0)]),
        ("one-token-outputs-burst", (12, 8, 4, 64, "fcfs", 64),
         [(0, 1 + 5 * i, 1, 0) for i in range(8)]),
        # No prompt can equal the budget: prompt + output <= max_model_len <=
        # max_num_batched_tokens. These come as close as the rules allow: a
        # prompt of budget - 1 (one output token), a request of exactly
        # max_model_len = budget tokens, and two prompts filling the budget.
        ("prompt-budget-minus-one", (60, 16, 8, 320, "fcfs", 320),
         [(0, 319, 1, 0), (0, 5, 3, 0), (1, 319, 1, 0), (1, 1, 2, 0)]),
        ("prompt-plus-output-equals-budget", (60, 16, 8, 320, "fcfs", 320),
         [(0, 290, 30, 0), (0, 300, 20, 0), (2, 100, 40, 0), (2, 300, 10, 0)]),
        ("prompts-sum-to-budget", (80, 16, 8, 256, "fcfs", 256),
         [(0, 100, 20, 0), (0, 156, 20, 0), (0, 1, 5, 0), (3, 200, 9, 0), (3, 56, 9, 0)]),
        ("prompt-budget-decodes-running", (80, 16, 8, 256, "fcfs", 256),
         [(0, 10, 50, 0), (0, 12, 50, 0), (1, 250, 6, 0), (1, 255, 1, 0)]),
        # A prompt larger than what is left of the budget stops the waiting
        # scan (no skipping to smaller prompts behind it).
        ("varying-prompts-held-by-head", (200, 16, 16, 512, "fcfs", 512),
         with_priorities(held, [0] * len(held))),
        ("varying-prompts-held-by-head-priority", (200, 16, 16, 512, "priority", 512),
         with_priorities(held, held_priorities)),
        # Prompts fill the cache exactly when all are admitted (no watermark
        # below 100 blocks); the first decode then finds no free block and
        # preempts, although the prompts' last blocks have room.
        ("cache-exactly-full-after-admission", (4 * 4, 16, 8, 512, "fcfs", 256),
         [(0, 60, 30, 0)] * 4),
        ("cache-exactly-full-block-aligned", (4 * 4, 16, 8, 512, "fcfs", 256),
         [(0, 64, 30, 0)] * 4),
        ("cache-exactly-full-after-admission-priority", (4 * 4, 16, 8, 512, "priority", 256),
         with_priorities([(0, 64, 30)] * 4, [3, 1, 2, 0])),
        ("cache-exactly-full-at-peak", (3 * 5, 16, 8, 512, "fcfs", 256),
         [(0, 50, 30, 0), (0, 40, 40, 0), (0, 70, 10, 0)]),
        # 200 blocks: watermark_blocks = 2. Admission keeps 2 blocks free;
        # decode growth may use them.
        ("watermark-admission", (200, 8, 16, 512, "fcfs", 512),
         [(0, 400, 100, 0), (0, 400, 100, 0), (0, 400, 100, 0), (0, 360, 40, 0),
          (0, 16, 50, 0), (0, 8, 40, 0), (0, 8, 30, 0), (2, 200, 40, 0)]),
        ("watermark-single-request-exact", (300, 8, 4, 2400, "fcfs", 2376),
         [(0, 2300, 76, 0), (1, 1000, 76, 0), (1, 8, 8, 0)]),
        # The decode check needs one free block whatever the sequence's last
        # block holds: two prompts fill the cache, the older one's decode
        # preempts the newer one, which is then re-admitted in a prefill-only
        # step.
        ("decode-needs-one-free-block", (4, 8, 4, 64, "fcfs", 32),
         [(0, 12, 4, 0), (0, 12, 4, 0)]),
        # Alone and filling every block: the sequence preempts itself and is
        # recomputed, gaining a token each time.
        ("single-request-self-preemption", (4, 8, 2, 64, "fcfs", 32), [(0, 20, 12, 0)]),
        ("max-num-seqs-1", (30, 16, 1, 128, "fcfs", 128),
         [(0, 100, 5, 0), (0, 10, 3, 0), (2, 70, 4, 0), (30, 5, 2, 0)]),
        ("max-num-seqs-1-priority", (30, 16, 1, 128, "priority", 128),
         [(0, 100, 5, 2), (0, 10, 3, 1), (2, 70, 4, 0), (3, 5, 2, 3)]),
        ("max-num-seqs-1-tight-cache", (8, 16, 1, 128, "fcfs", 128),
         [(0, 100, 28, 0), (0, 60, 60, 0), (1, 1, 100, 0)]),
        ("max-num-seqs-2-full-seats", (100, 16, 2, 256, "fcfs", 256),
         [(0, 30, 40, 0), (0, 20, 10, 0), (1, 5, 5, 0), (1, 200, 3, 0), (2, 1, 1, 0)]),
        # Preemption cascades: many growing decodes, few blocks.
        ("preemption-cascade", (20, 8, 16, 256, "fcfs", 256),
         [(0, 8 + 2 * i, 120, 0) for i in range(12)]),
        ("preemption-cascade-priority", (20, 8, 16, 256, "priority", 256),
         [(0, 8 + 2 * i, 120, i % 4) for i in range(12)]),
        ("preemption-cascade-long-prompts", (24, 16, 16, 256, "fcfs", 256),
         [(0, 20 + 7 * i, 150, 0) for i in range(10)]),
        ("preemption-cascade-staggered", (30, 16, 8, 512, "fcfs", 400),
         [(i // 3, 40 + 13 * i, 200, 0) for i in range(9)]),
        # Priority policy: low-priority requests hold the cache; a
        # high-priority one arrives and cannot be admitted; with no prefill
        # scheduled the lowest-priority running requests (latest arrival
        # among equals) are force-preempted until it fits.
        ("priority-high-arrives-low-preempted", (30, 16, 8, 512, "priority", 512),
         with_priorities(high_arrives, [3, 3, 2, 0])),
        # The same with FCFS: nothing is force-preempted, decode growth
        # preempts the newest running request.
        ("fcfs-late-arrival-waits", (30, 16, 8, 512, "fcfs", 512),
         with_priorities(high_arrives, [0] * 4)),
        # Priority preemption for a seat: max_num_seqs running, a
        # higher-priority request arrives.
        ("priority-preempts-for-seat", (100, 16, 3, 256, "priority", 256),
         [(0, 20, 60, 2), (0, 20, 60, 1), (0, 20, 60, 3), (4, 10, 10, 0),
          (6, 10, 10, 3), (8, 10, 10, 0)]),
        # A high-priority request arriving behind a lower-priority one
        # waiting in a step that admits prompts is not moved forward: the
        # waiting queue is sorted only in steps that schedule no prefill.
        ("priority-waiting-sorted-only-without-prefill", (40, 16, 8, 256, "priority", 256),
         [(0, 200, 30, 2), (0, 200, 30, 3), (1, 100, 10, 3), (1, 100, 10, 0),
          (2, 150, 10, 1), (2, 10, 10, 0), (3, 5, 5, 3)]),
        ("priority-high-waits-for-cache", (24, 16, 8, 512, "priority", 512),
         [(0, 150, 40, 2), (0, 150, 40, 3), (2, 200, 20, 0), (2, 10, 10, 1)]),
        ("priority-equal-priorities", (20, 8, 8, 128, "priority", 128),
         [(0, 8 + 3 * i, 60, 1) for i in range(8)]),
        ("idle-gaps-between-arrivals", (50, 16, 8, 512, "fcfs", 512),
         [(0, 30, 3, 0), (10, 40, 4, 0), (11, 5, 2, 0), (40, 300, 2, 0)]),
        ("arrival-after-empty-start", (20, 8, 4, 64, "priority", 64),
         [(5, 10, 5, 1), (5, 10, 5, 0), (6, 40, 3, 2)]),
        ("mlperf-like", (blocks_for(reqs(mlperf), 16) + 64, 16, 64, 4096, "fcfs", 4096),
         mlperf),
        ("mlperf-like-burst", (blocks_for(reqs(burst), 16) + 64, 16, 64, 4096, "fcfs", 4096),
         burst),
        ("mlperf-like-burst-tight-cache",
         (blocks_for(reqs(burst), 16) // 3, 16, 64, 4096, "fcfs", 4096), burst),
    ]
    return [(name, config(*values), reqs(specs)) for name, values, specs in table]


def random_stream(rng):
    """One random (config, requests) draw."""
    block_size = rng.choice(vllm_streams.BLOCK_SIZES)
    policy = vllm_streams.draw_policy(rng)
    max_num_seqs = rng.choice(vllm_streams.MAX_NUM_SEQS)
    budget = vllm_streams.log_uniform_int(rng, 64, 2048)
    budget = max(budget, max_num_seqs)
    if rng.random() < 0.7:
        max_model_len = budget
    else:
        max_model_len = rng.randint(max(16, budget // 2), budget)
    lengths = vllm_streams.draw_lengths(
        rng, max_model_len, max_model_len, ["small", "wide", "wide", "big", "near-budget"]
    )
    longest = max(p + o for p, o in lengths)
    # V0 has no null block; admission keeps the watermark's blocks free.
    num_gpu_blocks = vllm_streams.draw_num_gpu_blocks(
        rng, lengths, block_size, min_gpu_blocks(longest, block_size), reserved=0
    )
    requests = vllm_streams.draw_requests(rng, lengths, policy)
    cfg = config(num_gpu_blocks, block_size, max_num_seqs, budget, policy, max_model_len)
    return cfg, requests


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main():
    vllm_streams.main(
        __doc__.split("\n")[0],
        open_runner,
        named=named_streams(),
        random_stream=random_stream,
        num_random=RANDOM_STREAMS,
        seed_base=2_000_003,
        random_step_cap=RANDOM_STEP_CAP,
        hard_step_cap=HARD_STEP_CAP,
        tags={"vllm": VLLM_VERSION, "engine": "v0"},
        summary_groups=[
            ("fcfs", lambda cfg: cfg["policy"] == "fcfs"),
            ("priority", lambda cfg: cfg["policy"] == "priority"),
            ("watermark > 0", lambda cfg: cfg["num_gpu_blocks"] >= 100),
        ],
    )


if __name__ == "__main__":
    main()
