#!/usr/bin/env python3
"""Golden fixtures of vLLM's V1 scheduler, step by step, for aimsim's engine.

What it does
------------
Drives the real ``vllm.v1.core.sched.scheduler.Scheduler`` of vLLM 0.33.0
(the plain synchronous class: no async scheduling, no speculative decoding,
no LoRA, no structured output, no KV connector, prefix caching off) on a set
of request streams, and records what it decides at every step: which requests
it schedules and with how many tokens, which it preempts, which finish, and
how many KV blocks are free afterwards. aimsim's batching engine replays the
same streams and must reproduce every step.

No GPU, no weights, no network: the model config is a tiny Llama-style
``config.json`` written by this script into a temporary folder
(``skip_tokenizer_init=True``, ``DeviceConfig(device="cpu")``), and the KV
cache is a ``KVCacheConfig`` of one full-attention group whose ``num_blocks``
is the stream's ``num_gpu_blocks`` (vLLM keeps one of them as its null block,
so ``num_gpu_blocks - 1`` are usable; nothing here hides that).

How the model runner is mocked
------------------------------
Step k (k = 0, 1, 2, ...):

1. every request whose ``arrival_step == k`` is added (in id order) with
   ``scheduler.add_request``;
2. ``out = scheduler.schedule()``;
3. a ``ModelRunnerOutput`` is built that gives exactly one sampled token
   (token id 3; the requests carry ``SamplingParams(max_tokens=output,
   ignore_eos=True)`` with no stop ids, and without a tokenizer their
   ``eos_token_id`` is None, so only ``max_tokens`` can end a request) to each scheduled request whose
   ``num_computed_tokens`` after ``schedule()`` has reached its
   ``num_tokens`` (its prompt, or its prompt + outputs being recomputed after
   a preemption, is fully processed, or it is decoding), and no token (an
   empty list) to a request in the middle of a chunked prefill;
4. ``scheduler.update_from_output(out, runner_output)``;
5. the step is recorded (also when nothing was scheduled).

A stream ends when every request has arrived and finished. A stream that
runs past its step cap is dropped (random streams are then drawn again from
the next sub-seed).

Preempted ids come from ``SchedulerOutput.preempted_req_ids`` (vLLM 0.33.0
hands the set of ids preempted since the previous ``schedule()`` call, which
for this harness is exactly the ones preempted inside this ``schedule()``);
the harness cross-checks it against the requests whose status went from
RUNNING to PREEMPTED during the call.

Fixture format
--------------
``tests/fixtures/vllm/streams.jsonl.gz``: gzip (mtime 0, empty file name),
one JSON object per line, ``json.dumps(obj, separators=(",", ":"),
sort_keys=True)``::

    {"name": "random-0001",
     "config": {"num_gpu_blocks": 40, "block_size": 16, "max_num_seqs": 8,
                "max_num_batched_tokens": 256, "chunked_prefill": true,
                "long_prefill_token_threshold": 0, "policy": "fcfs",
                "max_model_len": 640},
     "requests": [[id, arrival_step, prompt, output, priority], ...],
     "steps": [{"s": [[id, tokens], ...],  # scheduled, in the order of
                                           # out.num_scheduled_tokens
                "p": [id, ...],            # preempted in this schedule(), ascending
                "f": [id, ...],            # finished by this update_from_output, ascending
                "free": n}, ...],          # block_pool.get_num_free_blocks() afterwards
     "vllm": "0.33.0"}

Request ids are 0..n-1 in arrival order; ``request_id=str(id)``,
``arrival_time=float(id)`` (so priority ties break by id), prompt token ids
``[(7 * i) % 1000 + 10 for i in range(prompt)]``. The config values are the
ones the built ``SchedulerConfig`` really holds. vLLM 0.33.0 defaults that
are not in the config but shape the decisions: ``scheduler_reserve_full_isl``
True (a waiting request is admitted only if blocks for all its tokens are
free), ``watermark`` 0.0, ``max_num_scheduled_tokens`` = budget,
``prefill_schedule_interval`` 1, ``long_prefill_token_threshold_adaptive``
False, ``max_num_active_seqs`` = ``max_num_seqs``.

Deterministic: every random stream comes from its own ``random.Random(seed)``;
no wall clock, no set or hash order reaches the output.

What does not depend on the vLLM version (the step loop, the random draws
both harnesses share, the file writing and the command line) is in
``vllm_streams.py`` next to this script.

Run ``bash benches/python/vllm_fixtures.sh v1`` to rebuild the file in a
fresh virtual environment; or, with vLLM 0.33.0 installed,
``python3 benches/python/vllm_reference.py --out PATH`` (``--check PATH``
regenerates in memory and compares).
"""

import contextlib
import json
import logging
import os
import sys
import tempfile
import types

# vllm_streams.py sits next to this script (on sys.path when it runs as one).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
import vllm_streams  # noqa: E402
from vllm_streams import blocks_for, cdiv, reqs, with_priorities  # noqa: E402

vllm_streams.offline_env()

VLLM_VERSION = "0.33.0"
SAMPLED_TOKEN = 3  # not the config's eos (2), no stop ids are set
RANDOM_STREAMS = 370
RANDOM_STEP_CAP = 2500  # a random draw running longer is replaced
HARD_STEP_CAP = 6000  # no stream may run longer

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "num_hidden_layers": 1,
    "vocab_size": 2048,
    "max_position_embeddings": 65536,
    "rms_norm_eps": 1e-5,
    "torch_dtype": "float16",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "tie_word_embeddings": False,
}


# --------------------------------------------------------------------------
# Driving vLLM
# --------------------------------------------------------------------------


def load_vllm():
    """The torch and vLLM names the driver uses, once vLLM is checked to be
    the right version (imported here, not at the top: ``--help`` needs no
    vLLM)."""
    import torch
    import vllm
    from vllm.config import (
        CacheConfig,
        DeviceConfig,
        ModelConfig,
        SchedulerConfig,
        VllmConfig,
    )
    from vllm.sampling_params import SamplingParams
    from vllm.v1.core.sched.scheduler import Scheduler
    from vllm.v1.kv_cache_interface import (
        FullAttentionSpec,
        KVCacheConfig,
        KVCacheGroupSpec,
    )
    from vllm.v1.outputs import ModelRunnerOutput
    from vllm.v1.request import Request, RequestStatus
    from vllm.v1.structured_output import StructuredOutputManager

    vllm_streams.require_vllm(vllm.__version__, VLLM_VERSION)
    return types.SimpleNamespace(**locals())


class Driver:
    """Builds vLLM schedulers from stream configs and runs streams."""

    def __init__(self, model_dir):
        self.api = load_vllm()
        self.model_dir = model_dir

    def build(self, cfg):
        """A Scheduler for `cfg`, and the config values it really holds."""
        api = self.api
        model_config = api.ModelConfig(
            model=self.model_dir,
            tokenizer=self.model_dir,
            skip_tokenizer_init=True,
            max_model_len=cfg["max_model_len"],
            dtype="float16",
            seed=0,
        )
        scheduler_config = api.SchedulerConfig(
            max_num_seqs=cfg["max_num_seqs"],
            max_num_batched_tokens=cfg["max_num_batched_tokens"],
            max_model_len=cfg["max_model_len"],
            enable_chunked_prefill=cfg["chunked_prefill"],
            long_prefill_token_threshold=cfg["long_prefill_token_threshold"],
            policy=cfg["policy"],
            async_scheduling=False,
            is_encoder_decoder=False,
        )
        cache_config = api.CacheConfig(
            block_size=cfg["block_size"],
            enable_prefix_caching=False,
        )
        vllm_config = api.VllmConfig(
            device_config=api.DeviceConfig(device="cpu"),
            model_config=model_config,
            scheduler_config=scheduler_config,
            cache_config=cache_config,
        )
        kv_cache_config = api.KVCacheConfig(
            num_blocks=cfg["num_gpu_blocks"],
            kv_cache_tensors=[],
            kv_cache_groups=[
                api.KVCacheGroupSpec(
                    ["layer"],
                    api.FullAttentionSpec(
                        block_size=cfg["block_size"],
                        num_kv_heads=1,
                        head_size=1,
                        dtype=api.torch.float32,
                    ),
                )
            ],
        )
        cache_config.num_gpu_blocks = cfg["num_gpu_blocks"]
        scheduler = api.Scheduler(
            vllm_config=vllm_config,
            kv_cache_config=kv_cache_config,
            structured_output_manager=api.StructuredOutputManager(vllm_config),
            block_size=cfg["block_size"],
            log_stats=False,
        )
        sc = vllm_config.scheduler_config
        used = config(
            vllm_config.cache_config.num_gpu_blocks,
            vllm_config.cache_config.block_size,
            sc.max_num_seqs,
            sc.max_num_batched_tokens,
            bool(sc.enable_chunked_prefill),
            sc.long_prefill_token_threshold,
            sc.policy,
            vllm_config.model_config.max_model_len,
        )
        # The harness assumes the plain synchronous path with these defaults.
        assert type(scheduler) is api.Scheduler
        assert not sc.async_scheduling
        assert not vllm_config.cache_config.enable_prefix_caching
        assert scheduler.connector is None and scheduler.ec_connector is None
        assert vllm_config.speculative_config is None
        assert vllm_config.lora_config is None
        assert scheduler.num_lookahead_tokens == 0
        assert scheduler.max_num_scheduled_tokens == sc.max_num_batched_tokens
        assert scheduler.max_num_active_reqs == sc.max_num_seqs
        assert scheduler.kv_cache_manager.watermark_blocks == 0
        assert scheduler.scheduler_reserve_full_isl is True
        assert scheduler.local_prefill_interval == 1
        assert not scheduler.adaptive_long_prefill_threshold
        assert (
            scheduler.kv_cache_manager.block_pool.get_num_free_blocks()
            == cfg["num_gpu_blocks"] - 1
        )
        return scheduler, used

    def make_request(self, rid, prompt, output, priority):
        params = self.api.SamplingParams(max_tokens=output, ignore_eos=True)
        request = self.api.Request(
            request_id=str(rid),
            prompt_token_ids=[(7 * i) % 1000 + 10 for i in range(prompt)],
            sampling_params=params,
            pooling_params=None,
            arrival_time=float(rid),
            priority=priority,
        )
        # Only max_tokens may end a request: no EOS id, no stop ids.
        assert params.eos_token_id is None
        assert SAMPLED_TOKEN not in params.all_stop_token_ids
        assert params.min_tokens == 0 and params.repetition_detection is None
        return request

    def run(self, cfg, requests, step_cap):
        """Runs one stream. Returns (config used, steps), or None past the cap."""
        check_stream(cfg, requests)
        scheduler, used = self.build(cfg)
        assert used == cfg, (used, cfg)
        running_status = self.api.RequestStatus.RUNNING
        preempted_status = self.api.RequestStatus.PREEMPTED
        block_pool = scheduler.kv_cache_manager.block_pool

        def admit(rid, prompt, output, priority):
            request = self.make_request(rid, prompt, output, priority)
            scheduler.add_request(request)
            return request

        def step(k, live):
            was_running = {
                rid for rid, r in live.items() if r.status == running_status
            }
            out = scheduler.schedule()
            preempted = sorted(int(x) for x in out.preempted_req_ids)
            by_status = sorted(
                rid
                for rid in was_running
                if live[rid].status == preempted_status
            )
            assert preempted == by_status, (k, preempted, by_status)

            scheduled = [
                [int(req_id), n] for req_id, n in out.num_scheduled_tokens.items()
            ]
            req_ids = list(out.num_scheduled_tokens.keys())
            sampled = []
            for req_id in req_ids:
                request = scheduler.requests[req_id]
                assert request.num_computed_tokens <= request.num_tokens
                if request.num_computed_tokens >= request.num_tokens:
                    sampled.append([SAMPLED_TOKEN])
                else:
                    sampled.append([])
            runner_output = self.api.ModelRunnerOutput(
                req_ids=req_ids,
                req_id_to_index={req_id: i for i, req_id in enumerate(req_ids)},
                sampled_token_ids=sampled,
            )
            scheduler.update_from_output(out, runner_output)

            finished = sorted(rid for rid, r in live.items() if r.is_finished())
            for rid in finished:
                assert live[rid].num_output_tokens == live[rid].max_tokens

            # Sanity: what the Rust replay will rely on.
            assert sum(n for _, n in scheduled) <= cfg["max_num_batched_tokens"]
            assert len(scheduler.running) <= cfg["max_num_seqs"]
            assert not set(preempted) & {rid for rid, _ in scheduled}
            return {
                "s": scheduled,
                "p": preempted,
                "f": finished,
                "free": block_pool.get_num_free_blocks(),
            }

        steps = vllm_streams.replay(requests, step_cap, admit, step)
        if steps is None:
            return None
        assert not scheduler.running
        assert block_pool.get_num_free_blocks() == cfg["num_gpu_blocks"] - 1
        return used, steps


def check_stream(cfg, requests):
    """The stream rules of the brief: each request finishable alone, etc."""
    if not cfg["chunked_prefill"]:
        assert cfg["max_num_batched_tokens"] >= cfg["max_model_len"]
        assert cfg["long_prefill_token_threshold"] == 0
    assert 0 <= cfg["long_prefill_token_threshold"] <= cfg["max_model_len"]
    # One block is vLLM's null block.
    vllm_streams.check_stream(cfg, requests, cfg["num_gpu_blocks"] - 1)


@contextlib.contextmanager
def open_runner():
    """Yields Driver.run, on a tiny model config in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="aimsim-vllm-model-") as model_dir:
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(TINY_LLAMA, f, indent=2, sort_keys=True)
        driver = Driver(model_dir)
        # vLLM warns about some legal configs (budget > seqs * max_model_len).
        logging.getLogger("vllm").setLevel(logging.ERROR)
        yield driver.run


# --------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------

CONFIG_KEYS = (
    "num_gpu_blocks",
    "block_size",
    "max_num_seqs",
    "max_num_batched_tokens",
    "chunked_prefill",
    "long_prefill_token_threshold",
    "policy",
    "max_model_len",
)


def config(*values):
    """A stream config from values in CONFIG_KEYS order."""
    assert len(values) == len(CONFIG_KEYS)
    return dict(zip(CONFIG_KEYS, values))


def named_streams():
    """Hand-made edge cases: [(name, config, requests)], in file order."""
    sixteen = [(0, 1000 + 100 * i, 960 + 5 * i, 0) for i in range(16)]
    # The same arrivals, prompts and outputs under both policies.
    held = [(0, 400, 30), (0, 200, 30), (0, 20, 30), (0, 500, 10), (0, 8, 5),
            (1, 300, 20), (1, 100, 40), (5, 480, 20), (5, 4, 60)]
    held_priorities = [2, 1, 3, 0, 3, 1, 0, 2, 0]
    long_prompts = [(0, 1500, 20), (0, 900, 20), (0, 2000, 10), (1, 40, 30), (2, 700, 25)]
    high_arrives = [(0, 100, 200), (0, 100, 200), (0, 100, 200), (3, 100, 60)]
    # (name, config values in CONFIG_KEYS order, request specs
    # [(arrival, prompt, output, priority), ...])
    table = [
        ("three-long-requests", (2167, 16, 256, 8192, True, 0, "fcfs", 32768),
         [(0, 15000, 2000, 0)] * 3),
        ("sixteen-fit-together",
         (blocks_for(reqs(sixteen), 16) + 1 + 200, 16, 256, 8192, True, 0, "fcfs", 4096),
         sixteen),
        ("single-one-token-output", (10, 16, 4, 64, True, 0, "fcfs", 128), [(0, 20, 1, 0)]),
        ("one-token-outputs-burst", (12, 8, 4, 32, True, 0, "fcfs", 64),
         [(0, 1 + 5 * i, 1, 0) for i in range(8)]),
        ("prompt-equals-budget-chunked", (40, 16, 8, 256, True, 0, "fcfs", 512),
         [(0, 256, 20, 0), (0, 256, 5, 0), (3, 256, 10, 0)]),
        ("prompt-equals-budget-unchunked", (60, 16, 8, 320, False, 0, "fcfs", 320),
         [(0, 320 - 30, 30, 0), (0, 300, 20, 0), (2, 100, 40, 0), (2, 300, 10, 0)]),
        ("prompt-budget-decodes-running-unchunked", (80, 16, 8, 256, False, 0, "fcfs", 256),
         [(0, 10, 50, 0), (0, 12, 50, 0), (1, 250, 6, 0), (1, 255, 1, 0)]),
        ("prompt-one-block", (8, 16, 4, 64, True, 0, "fcfs", 128),
         [(0, 16, 16, 0), (0, 16, 17, 0), (1, 16, 1, 0)]),
        ("prompt-one-block-plus-one", (8, 16, 4, 64, True, 0, "fcfs", 128),
         [(0, 17, 15, 0), (0, 17, 16, 0), (1, 17, 1, 0)]),
        ("prompt-one-block-bs8-unchunked", (6, 8, 2, 16, False, 0, "fcfs", 16),
         [(0, 8, 8, 0), (0, 9, 7, 0), (0, 8, 1, 0), (1, 1, 15, 0)]),
        # Prompts fill the usable cache exactly when all are admitted; the
        # first decode token then needs a new block and preempts.
        ("cache-exactly-full-after-admission", (1 + 4 * 4, 16, 8, 512, True, 0, "fcfs", 256),
         [(0, 64, 30, 0)] * 4),
        ("cache-exactly-full-after-admission-priority",
         (1 + 4 * 4, 16, 8, 512, True, 0, "priority", 256),
         with_priorities([(0, 64, 30)] * 4, [3, 1, 2, 0])),
        ("cache-exactly-full-at-peak", (1 + 3 * 5, 16, 8, 512, True, 0, "fcfs", 256),
         [(0, 50, 30, 0), (0, 40, 40, 0), (0, 70, 10, 0)]),
        ("max-num-seqs-1", (30, 16, 1, 64, True, 0, "fcfs", 256),
         [(0, 100, 5, 0), (0, 10, 3, 0), (2, 70, 4, 0), (30, 5, 2, 0)]),
        ("max-num-seqs-1-priority", (30, 16, 1, 64, True, 0, "priority", 256),
         [(0, 100, 5, 2), (0, 10, 3, 1), (2, 70, 4, 0), (3, 5, 2, 3)]),
        # Low-priority requests hold the cache; a high-priority one arrives
        # and is admitted; decode growth then preempts the lowest priority
        # running request (latest arrival among equal priorities), not the
        # newest.
        ("priority-high-arrives-low-preempted", (1 + 30, 16, 8, 256, True, 0, "priority", 512),
         with_priorities(high_arrives, [3, 3, 2, 0])),
        # The same with FCFS: the newest running request is the victim.
        ("fcfs-late-arrival-preempted", (1 + 30, 16, 8, 256, True, 0, "fcfs", 512),
         with_priorities(high_arrives, [0] * 4)),
        # A high-priority request that cannot be admitted waits at the head
        # of the queue while lower-priority ones keep running.
        ("priority-high-waits-for-cache", (1 + 24, 16, 8, 256, True, 0, "priority", 512),
         [(0, 150, 40, 2), (0, 150, 40, 3), (2, 200, 20, 0), (2, 10, 10, 1)]),
        # The request needing a block is itself the lowest priority: it
        # preempts itself and the running loop goes on with the others.
        ("priority-self-preemption", (1 + 12, 8, 8, 64, True, 0, "priority", 128),
         [(0, 30, 40, 0), (0, 30, 40, 1), (0, 20, 40, 3), (1, 16, 30, 2)]),
        ("preemption-cascade-fcfs", (1 + 20, 8, 16, 128, True, 0, "fcfs", 256),
         [(0, 8 + 2 * i, 120, 0) for i in range(12)]),
        ("preemption-cascade-priority", (1 + 20, 8, 16, 128, True, 0, "priority", 256),
         [(0, 8 + 2 * i, 120, i % 4) for i in range(12)]),
        ("preemption-cascade-unchunked", (1 + 24, 16, 16, 256, False, 0, "fcfs", 256),
         [(0, 20 + 7 * i, 150, 0) for i in range(10)]),
        ("preemption-cascade-chunked-long-prompts", (1 + 40, 16, 8, 96, True, 0, "fcfs", 640),
         [(0, 300, 200, 0), (0, 250, 200, 0), (1, 200, 250, 0), (2, 280, 150, 0)]),
        # Chunked prefill off: a prompt larger than what is left of the
        # budget stops the waiting scan (no skipping to smaller prompts
        # behind it).
        ("unchunked-varying-prompts-held", (200, 16, 16, 512, False, 0, "fcfs", 512),
         with_priorities(held, [0] * len(held))),
        ("unchunked-varying-prompts-held-priority",
         (200, 16, 16, 512, False, 0, "priority", 512),
         with_priorities(held, held_priorities)),
        ("long-prefill-threshold-several-long-prompts",
         (400, 16, 16, 512, True, 100, "fcfs", 4096),
         with_priorities(long_prompts + [(3, 99, 5), (3, 101, 5)], [0] * 7)),
        ("long-prefill-threshold-priority", (400, 16, 16, 512, True, 64, "priority", 4096),
         with_priorities(long_prompts, [3, 1, 2, 0, 0])),
        # Alone, a long prompt ignores the threshold (it only applies when
        # more than one request is running or waiting).
        ("long-prefill-threshold-single-request", (200, 16, 4, 256, True, 32, "fcfs", 2048),
         [(0, 1000, 10, 0), (40, 600, 5, 0), (41, 300, 5, 0)]),
        ("idle-gaps-between-arrivals", (50, 16, 8, 128, True, 0, "fcfs", 512),
         [(0, 30, 3, 0), (10, 40, 4, 0), (11, 5, 2, 0), (40, 300, 2, 0)]),
        ("arrival-after-empty-start", (20, 8, 4, 32, True, 0, "priority", 64),
         [(5, 10, 5, 1), (5, 10, 5, 0), (6, 40, 3, 2)]),
    ]
    return [(name, config(*values), reqs(specs)) for name, values, specs in table]


def random_stream(rng):
    """One random (config, requests) draw."""
    block_size = rng.choice(vllm_streams.BLOCK_SIZES)
    chunked = rng.random() < 0.7
    policy = vllm_streams.draw_policy(rng)
    max_num_seqs = rng.choice(vllm_streams.MAX_NUM_SEQS)
    budget = vllm_streams.log_uniform_int(rng, max(16, max_num_seqs), 2048)
    budget = max(budget, max_num_seqs, 16)
    if chunked:
        cap_total, pmax = 3 * budget + 300, 3 * budget
    else:
        cap_total, pmax = budget, budget - 1
    lengths = vllm_streams.draw_lengths(rng, cap_total, pmax, ["small", "wide", "wide", "big"])
    longest = max(p + o for p, o in lengths)

    threshold = 0
    if chunked:
        max_model_len = rng.choice(
            [longest, cdiv(longest, block_size) * block_size, 2 * longest, longest + 37]
        )
        if rng.random() < 0.35 and budget > 1:
            threshold = rng.randint(max(1, budget // 16), budget - 1)
            threshold = min(threshold, max_model_len)
    else:
        max_model_len = rng.randint(longest, budget)

    # One block more than the longest request needs: vLLM's null block.
    min_blocks = cdiv(longest, block_size) + 1
    num_gpu_blocks = vllm_streams.draw_num_gpu_blocks(
        rng, lengths, block_size, min_blocks, reserved=1
    )
    requests = vllm_streams.draw_requests(rng, lengths, policy)
    cfg = config(
        num_gpu_blocks,
        block_size,
        max_num_seqs,
        budget,
        chunked,
        threshold,
        policy,
        max_model_len,
    )
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
        seed_base=1_000_003,
        random_step_cap=RANDOM_STEP_CAP,
        hard_step_cap=HARD_STEP_CAP,
        tags={"vllm": VLLM_VERSION},
        summary_groups=[
            summary_group(policy, chunked)
            for policy in ("fcfs", "priority")
            for chunked in (True, False)
        ],
    )


def summary_group(policy, chunked):
    """A summary line: the streams of one policy, chunked prefill on or off."""
    label = f"{policy} chunked={'on' if chunked else 'off'}"
    return label, lambda cfg: cfg["policy"] == policy and cfg["chunked_prefill"] == chunked


if __name__ == "__main__":
    main()
