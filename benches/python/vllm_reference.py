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

Run ``bash benches/python/vllm_fixtures.sh`` from the repository root to
rebuild the file in a fresh virtual environment; or, with vLLM 0.33.0
installed, ``python3 benches/python/vllm_reference.py --out PATH``
(``--check PATH`` regenerates in memory and compares).
"""

import argparse
import gzip
import io
import json
import logging
import math
import os
import random
import sys
import tempfile

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Everything is local: never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

VLLM_VERSION = "0.33.0"
SAMPLED_TOKEN = 3  # not the config's eos (2), no stop ids are set
RANDOM_STREAMS = 370
RANDOM_STEP_CAP = 2500  # a random draw running longer is replaced
HARD_STEP_CAP = 6000  # no stream may run longer
MAX_DRAWS = 50  # sub-seeds tried per random stream

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


def cdiv(a, b):
    return -(-a // b)


# --------------------------------------------------------------------------
# Driving vLLM
# --------------------------------------------------------------------------


class Driver:
    """Builds vLLM schedulers from stream configs and runs streams."""

    def __init__(self, model_dir):
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

        if vllm.__version__ != VLLM_VERSION:
            raise SystemExit(
                f"vLLM {vllm.__version__} is installed; the fixtures are of "
                f"vLLM {VLLM_VERSION}"
            )
        self.version = vllm.__version__
        self.torch = torch
        self.model_dir = model_dir
        self.CacheConfig = CacheConfig
        self.DeviceConfig = DeviceConfig
        self.ModelConfig = ModelConfig
        self.SchedulerConfig = SchedulerConfig
        self.VllmConfig = VllmConfig
        self.SamplingParams = SamplingParams
        self.Scheduler = Scheduler
        self.FullAttentionSpec = FullAttentionSpec
        self.KVCacheConfig = KVCacheConfig
        self.KVCacheGroupSpec = KVCacheGroupSpec
        self.ModelRunnerOutput = ModelRunnerOutput
        self.Request = Request
        self.RequestStatus = RequestStatus
        self.StructuredOutputManager = StructuredOutputManager

    def build(self, cfg):
        """A Scheduler for `cfg`, and the config values it really holds."""
        model_config = self.ModelConfig(
            model=self.model_dir,
            tokenizer=self.model_dir,
            skip_tokenizer_init=True,
            max_model_len=cfg["max_model_len"],
            dtype="float16",
            seed=0,
        )
        scheduler_config = self.SchedulerConfig(
            max_num_seqs=cfg["max_num_seqs"],
            max_num_batched_tokens=cfg["max_num_batched_tokens"],
            max_model_len=cfg["max_model_len"],
            enable_chunked_prefill=cfg["chunked_prefill"],
            long_prefill_token_threshold=cfg["long_prefill_token_threshold"],
            policy=cfg["policy"],
            async_scheduling=False,
            is_encoder_decoder=False,
        )
        cache_config = self.CacheConfig(
            block_size=cfg["block_size"],
            enable_prefix_caching=False,
        )
        vllm_config = self.VllmConfig(
            device_config=self.DeviceConfig(device="cpu"),
            model_config=model_config,
            scheduler_config=scheduler_config,
            cache_config=cache_config,
        )
        kv_cache_config = self.KVCacheConfig(
            num_blocks=cfg["num_gpu_blocks"],
            kv_cache_tensors=[],
            kv_cache_groups=[
                self.KVCacheGroupSpec(
                    ["layer"],
                    self.FullAttentionSpec(
                        block_size=cfg["block_size"],
                        num_kv_heads=1,
                        head_size=1,
                        dtype=self.torch.float32,
                    ),
                )
            ],
        )
        cache_config.num_gpu_blocks = cfg["num_gpu_blocks"]
        scheduler = self.Scheduler(
            vllm_config=vllm_config,
            kv_cache_config=kv_cache_config,
            structured_output_manager=self.StructuredOutputManager(vllm_config),
            block_size=cfg["block_size"],
            log_stats=False,
        )
        sc = vllm_config.scheduler_config
        used = {
            "num_gpu_blocks": vllm_config.cache_config.num_gpu_blocks,
            "block_size": vllm_config.cache_config.block_size,
            "max_num_seqs": sc.max_num_seqs,
            "max_num_batched_tokens": sc.max_num_batched_tokens,
            "chunked_prefill": bool(sc.enable_chunked_prefill),
            "long_prefill_token_threshold": sc.long_prefill_token_threshold,
            "policy": sc.policy,
            "max_model_len": vllm_config.model_config.max_model_len,
        }
        # The harness assumes the plain synchronous path with these defaults.
        assert type(scheduler) is self.Scheduler
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
        params = self.SamplingParams(max_tokens=output, ignore_eos=True)
        request = self.Request(
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
        running_status = self.RequestStatus.RUNNING
        preempted_status = self.RequestStatus.PREEMPTED
        block_pool = scheduler.kv_cache_manager.block_pool

        by_step = {}
        for rid, arrival, prompt, output, priority in requests:
            by_step.setdefault(arrival, []).append((rid, prompt, output, priority))
        last_arrival = max(by_step)
        live = {}  # id -> Request, added and not finished
        num_finished = 0
        steps = []
        k = 0
        while True:
            if k >= step_cap:
                return None
            for rid, prompt, output, priority in by_step.get(k, ()):
                request = self.make_request(rid, prompt, output, priority)
                live[rid] = request
                scheduler.add_request(request)

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
            runner_output = self.ModelRunnerOutput(
                req_ids=req_ids,
                req_id_to_index={req_id: i for i, req_id in enumerate(req_ids)},
                sampled_token_ids=sampled,
            )
            scheduler.update_from_output(out, runner_output)

            finished = sorted(rid for rid, r in live.items() if r.is_finished())
            for rid in finished:
                request = live.pop(rid)
                assert request.num_output_tokens == request.max_tokens
            num_finished += len(finished)

            # Sanity: what the Rust replay will rely on.
            assert sum(n for _, n in scheduled) <= cfg["max_num_batched_tokens"]
            assert len(scheduler.running) <= cfg["max_num_seqs"]
            assert not set(preempted) & {rid for rid, _ in scheduled}

            steps.append(
                {
                    "s": scheduled,
                    "p": preempted,
                    "f": finished,
                    "free": block_pool.get_num_free_blocks(),
                }
            )
            k += 1
            if k > last_arrival and num_finished == len(requests):
                assert not live and not scheduler.running
                assert block_pool.get_num_free_blocks() == cfg["num_gpu_blocks"] - 1
                return used, steps


def check_stream(cfg, requests):
    """The stream rules of the brief: each request finishable alone, etc."""
    bs = cfg["block_size"]
    usable = (cfg["num_gpu_blocks"] - 1) * bs
    assert cfg["max_num_batched_tokens"] >= cfg["max_num_seqs"]
    if not cfg["chunked_prefill"]:
        assert cfg["max_num_batched_tokens"] >= cfg["max_model_len"]
        assert cfg["long_prefill_token_threshold"] == 0
    assert 0 <= cfg["long_prefill_token_threshold"] <= cfg["max_model_len"]
    assert cfg["policy"] in ("fcfs", "priority")
    last = -1
    for i, (rid, arrival, prompt, output, priority) in enumerate(requests):
        assert rid == i
        assert arrival >= last
        last = arrival
        assert prompt >= 1 and output >= 1
        assert prompt + output <= min(cfg["max_model_len"], usable), (rid, cfg)
        if cfg["policy"] == "fcfs":
            assert priority == 0


# --------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------


def config(
    num_gpu_blocks,
    block_size,
    max_num_seqs,
    max_num_batched_tokens,
    chunked_prefill,
    long_prefill_token_threshold,
    policy,
    max_model_len,
):
    return {
        "num_gpu_blocks": num_gpu_blocks,
        "block_size": block_size,
        "max_num_seqs": max_num_seqs,
        "max_num_batched_tokens": max_num_batched_tokens,
        "chunked_prefill": chunked_prefill,
        "long_prefill_token_threshold": long_prefill_token_threshold,
        "policy": policy,
        "max_model_len": max_model_len,
    }


def reqs(specs):
    """[(arrival, prompt, output, priority), ...] -> numbered requests."""
    specs = sorted(specs, key=lambda s: s[0])  # stable: keeps given order
    return [[i, a, p, o, pr] for i, (a, p, o, pr) in enumerate(specs)]


def blocks_for(requests, bs):
    return sum(cdiv(p + o, bs) for _, _, p, o, _ in requests)


def named_streams():
    """Hand-made edge cases: (name, config, requests)."""
    out = []

    def add(name, cfg, requests):
        out.append((name, cfg, requests))

    add(
        "three-long-requests",
        config(2167, 16, 256, 8192, True, 0, "fcfs", 32768),
        reqs([(0, 15000, 2000, 0)] * 3),
    )
    sixteen = reqs(
        [(0, 1000 + 100 * i, 960 + 5 * i, 0) for i in range(16)]
    )
    add(
        "sixteen-fit-together",
        config(blocks_for(sixteen, 16) + 1 + 200, 16, 256, 8192, True, 0, "fcfs", 4096),
        sixteen,
    )
    add(
        "single-one-token-output",
        config(10, 16, 4, 64, True, 0, "fcfs", 128),
        reqs([(0, 20, 1, 0)]),
    )
    add(
        "one-token-outputs-burst",
        config(12, 8, 4, 32, True, 0, "fcfs", 64),
        reqs([(0, 1 + 5 * i, 1, 0) for i in range(8)]),
    )
    add(
        "prompt-equals-budget-chunked",
        config(40, 16, 8, 256, True, 0, "fcfs", 512),
        reqs([(0, 256, 20, 0), (0, 256, 5, 0), (3, 256, 10, 0)]),
    )
    add(
        "prompt-equals-budget-unchunked",
        config(60, 16, 8, 320, False, 0, "fcfs", 320),
        reqs([(0, 320 - 30, 30, 0), (0, 300, 20, 0), (2, 100, 40, 0), (2, 300, 10, 0)]),
    )
    add(
        "prompt-budget-decodes-running-unchunked",
        config(80, 16, 8, 256, False, 0, "fcfs", 256),
        reqs([(0, 10, 50, 0), (0, 12, 50, 0), (1, 250, 6, 0), (1, 255, 1, 0)]),
    )
    add(
        "prompt-one-block",
        config(8, 16, 4, 64, True, 0, "fcfs", 128),
        reqs([(0, 16, 16, 0), (0, 16, 17, 0), (1, 16, 1, 0)]),
    )
    add(
        "prompt-one-block-plus-one",
        config(8, 16, 4, 64, True, 0, "fcfs", 128),
        reqs([(0, 17, 15, 0), (0, 17, 16, 0), (1, 17, 1, 0)]),
    )
    add(
        "prompt-one-block-bs8-unchunked",
        config(6, 8, 2, 16, False, 0, "fcfs", 16),
        reqs([(0, 8, 8, 0), (0, 9, 7, 0), (0, 8, 1, 0), (1, 1, 15, 0)]),
    )
    # Prompts fill the usable cache exactly when all are admitted; the first
    # decode token then needs a new block and preempts.
    add(
        "cache-exactly-full-after-admission",
        config(1 + 4 * 4, 16, 8, 512, True, 0, "fcfs", 256),
        reqs([(0, 64, 30, 0)] * 4),
    )
    add(
        "cache-exactly-full-after-admission-priority",
        config(1 + 4 * 4, 16, 8, 512, True, 0, "priority", 256),
        reqs([(0, 64, 30, 3), (0, 64, 30, 1), (0, 64, 30, 2), (0, 64, 30, 0)]),
    )
    add(
        "cache-exactly-full-at-peak",
        config(1 + 3 * 5, 16, 8, 512, True, 0, "fcfs", 256),
        reqs([(0, 50, 30, 0), (0, 40, 40, 0), (0, 70, 10, 0)]),
    )
    add(
        "max-num-seqs-1",
        config(30, 16, 1, 64, True, 0, "fcfs", 256),
        reqs([(0, 100, 5, 0), (0, 10, 3, 0), (2, 70, 4, 0), (30, 5, 2, 0)]),
    )
    add(
        "max-num-seqs-1-priority",
        config(30, 16, 1, 64, True, 0, "priority", 256),
        reqs([(0, 100, 5, 2), (0, 10, 3, 1), (2, 70, 4, 0), (3, 5, 2, 3)]),
    )
    # Low-priority requests hold the cache; a high-priority one arrives and
    # is admitted; decode growth then preempts the lowest priority running
    # request (latest arrival among equal priorities), not the newest.
    add(
        "priority-high-arrives-low-preempted",
        config(1 + 30, 16, 8, 256, True, 0, "priority", 512),
        reqs(
            [(0, 100, 200, 3), (0, 100, 200, 3), (0, 100, 200, 2), (3, 100, 60, 0)]
        ),
    )
    # The same with FCFS: the newest running request is the victim.
    add(
        "fcfs-late-arrival-preempted",
        config(1 + 30, 16, 8, 256, True, 0, "fcfs", 512),
        reqs([(0, 100, 200, 0), (0, 100, 200, 0), (0, 100, 200, 0), (3, 100, 60, 0)]),
    )
    # A high-priority request that cannot be admitted waits at the head of
    # the queue while lower-priority ones keep running.
    add(
        "priority-high-waits-for-cache",
        config(1 + 24, 16, 8, 256, True, 0, "priority", 512),
        reqs([(0, 150, 40, 2), (0, 150, 40, 3), (2, 200, 20, 0), (2, 10, 10, 1)]),
    )
    # The request needing a block is itself the lowest priority: it preempts
    # itself and the running loop goes on with the others.
    add(
        "priority-self-preemption",
        config(1 + 12, 8, 8, 64, True, 0, "priority", 128),
        reqs([(0, 30, 40, 0), (0, 30, 40, 1), (0, 20, 40, 3), (1, 16, 30, 2)]),
    )
    add(
        "preemption-cascade-fcfs",
        config(1 + 20, 8, 16, 128, True, 0, "fcfs", 256),
        reqs([(0, 8 + 2 * i, 120, 0) for i in range(12)]),
    )
    add(
        "preemption-cascade-priority",
        config(1 + 20, 8, 16, 128, True, 0, "priority", 256),
        reqs([(0, 8 + 2 * i, 120, i % 4) for i in range(12)]),
    )
    add(
        "preemption-cascade-unchunked",
        config(1 + 24, 16, 16, 256, False, 0, "fcfs", 256),
        reqs([(0, 20 + 7 * i, 150, 0) for i in range(10)]),
    )
    add(
        "preemption-cascade-chunked-long-prompts",
        config(1 + 40, 16, 8, 96, True, 0, "fcfs", 640),
        reqs([(0, 300, 200, 0), (0, 250, 200, 0), (1, 200, 250, 0), (2, 280, 150, 0)]),
    )
    # Chunked prefill off: a prompt larger than what is left of the budget
    # stops the waiting scan (no skipping to smaller prompts behind it).
    add(
        "unchunked-varying-prompts-held",
        config(200, 16, 16, 512, False, 0, "fcfs", 512),
        reqs(
            [
                (0, 400, 30, 0),
                (0, 200, 30, 0),
                (0, 20, 30, 0),
                (0, 500, 10, 0),
                (0, 8, 5, 0),
                (1, 300, 20, 0),
                (1, 100, 40, 0),
                (5, 480, 20, 0),
                (5, 4, 60, 0),
            ]
        ),
    )
    add(
        "unchunked-varying-prompts-held-priority",
        config(200, 16, 16, 512, False, 0, "priority", 512),
        reqs(
            [
                (0, 400, 30, 2),
                (0, 200, 30, 1),
                (0, 20, 30, 3),
                (0, 500, 10, 0),
                (0, 8, 5, 3),
                (1, 300, 20, 1),
                (1, 100, 40, 0),
                (5, 480, 20, 2),
                (5, 4, 60, 0),
            ]
        ),
    )
    add(
        "long-prefill-threshold-several-long-prompts",
        config(400, 16, 16, 512, True, 100, "fcfs", 4096),
        reqs(
            [
                (0, 1500, 20, 0),
                (0, 900, 20, 0),
                (0, 2000, 10, 0),
                (1, 40, 30, 0),
                (2, 700, 25, 0),
                (3, 99, 5, 0),
                (3, 101, 5, 0),
            ]
        ),
    )
    add(
        "long-prefill-threshold-priority",
        config(400, 16, 16, 512, True, 64, "priority", 4096),
        reqs(
            [
                (0, 1500, 20, 3),
                (0, 900, 20, 1),
                (0, 2000, 10, 2),
                (1, 40, 30, 0),
                (2, 700, 25, 0),
            ]
        ),
    )
    # Alone, a long prompt ignores the threshold (it only applies when more
    # than one request is running or waiting).
    add(
        "long-prefill-threshold-single-request",
        config(200, 16, 4, 256, True, 32, "fcfs", 2048),
        reqs([(0, 1000, 10, 0), (40, 600, 5, 0), (41, 300, 5, 0)]),
    )
    add(
        "idle-gaps-between-arrivals",
        config(50, 16, 8, 128, True, 0, "fcfs", 512),
        reqs([(0, 30, 3, 0), (10, 40, 4, 0), (11, 5, 2, 0), (40, 300, 2, 0)]),
    )
    add(
        "arrival-after-empty-start",
        config(20, 8, 4, 32, True, 0, "priority", 64),
        reqs([(5, 10, 5, 1), (5, 10, 5, 0), (6, 40, 3, 2)]),
    )
    return out


def log_uniform_int(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def random_stream(rng):
    """One random (config, requests) draw."""
    block_size = rng.choice([8, 16, 32])
    chunked = rng.random() < 0.7
    policy = "priority" if rng.random() < 0.4 else "fcfs"
    max_num_seqs = rng.choice(
        [1, 2, 3, 4, 5, 6, 8, 8, 10, 12, 16, 16, 20, 24, 32, 32, 48, 64]
    )
    budget = log_uniform_int(rng, max(16, max_num_seqs), 2048)
    budget = max(budget, max_num_seqs, 16)

    n = rng.randint(2, 40)
    out_mode = rng.choice(["short", "medium", "long", "mixed", "mixed"])
    if chunked:
        cap_total = 3 * budget + 300
        pmax = 3 * budget
    else:
        cap_total = budget
        pmax = budget - 1

    def draw_output():
        mode = out_mode if out_mode != "mixed" else rng.choice(["short", "medium", "long"])
        if mode == "short":
            return rng.randint(1, 32)
        if mode == "medium":
            return rng.randint(1, 128)
        return rng.randint(100, 300)

    prompt_mode = rng.choice(["small", "wide", "wide", "big"])

    def draw_prompt(limit):
        if prompt_mode == "small":
            hi = min(limit, 64)
        elif prompt_mode == "big":
            lo = max(1, limit // 2)
            return rng.randint(lo, limit)
        else:
            hi = limit
        return log_uniform_int(rng, 1, max(1, hi))

    lengths = []
    for _ in range(n):
        o = min(draw_output(), cap_total - 1)
        p = draw_prompt(max(1, min(pmax, cap_total - o)))
        p = max(1, min(p, cap_total - o))
        lengths.append((p, o))
    longest = max(p + o for p, o in lengths)

    if chunked:
        max_model_len = rng.choice(
            [longest, cdiv(longest, block_size) * block_size, 2 * longest, longest + 37]
        )
        threshold = 0
        if rng.random() < 0.35 and budget > 1:
            threshold = rng.randint(max(1, budget // 16), budget - 1)
            threshold = min(threshold, max_model_len)
    else:
        max_model_len = rng.randint(longest, budget)
        threshold = 0

    min_blocks = cdiv(longest, block_size) + 1
    demand = sum(cdiv(p + o, block_size) for p, o in lengths)
    prompt_blocks = sum(cdiv(p, block_size) for p, _ in lengths)
    cache_mode = rng.choices(
        ["barely", "tight", "exact-total", "exact-prompts", "plenty"],
        weights=[25, 40, 5, 15, 15],
    )[0]
    if cache_mode == "barely":
        num_gpu_blocks = min_blocks + rng.randint(0, 2)
    elif cache_mode == "tight":
        num_gpu_blocks = int(min_blocks + rng.uniform(0.0, 0.5) * max(0, demand + 1 - min_blocks))
    elif cache_mode == "exact-total":
        num_gpu_blocks = demand + 1
    elif cache_mode == "exact-prompts":
        num_gpu_blocks = prompt_blocks + 1
    else:
        num_gpu_blocks = demand + 1 + rng.randint(0, demand)
    num_gpu_blocks = max(num_gpu_blocks, min_blocks)

    arrival_mode = rng.choice(["burst", "poisson", "poisson", "bursts"])
    if arrival_mode == "burst":
        arrivals = [0] * n
    elif arrival_mode == "poisson":
        mean_gap = rng.uniform(0.3, 30.0)
        t = 0.0
        arrivals = []
        for _ in range(n):
            arrivals.append(int(t))
            t += rng.expovariate(1.0 / mean_gap)
    else:
        k = rng.randint(2, 4)
        starts = sorted(rng.randint(0, 300) for _ in range(k))
        starts[0] = 0 if rng.random() < 0.7 else starts[0]
        arrivals = sorted(rng.choice(starts) for _ in range(n))

    specs = []
    for (p, o), a in zip(lengths, arrivals):
        pr = rng.randint(0, 3) if policy == "priority" else 0
        specs.append((a, p, o, pr))
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
    return cfg, reqs(specs)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def generate(driver, log, num_random):
    lines = []
    summary = []

    def emit(name, cfg, requests, steps):
        obj = {
            "name": name,
            "config": cfg,
            "requests": requests,
            "steps": steps,
            "vllm": driver.version,
        }
        lines.append(json.dumps(obj, separators=(",", ":"), sort_keys=True))
        summary.append((name, cfg, len(steps), sum(len(s["p"]) for s in steps)))

    for name, cfg, requests in named_streams():
        result = driver.run(cfg, requests, HARD_STEP_CAP)
        if result is None:
            raise SystemExit(f"{name} ran past {HARD_STEP_CAP} steps")
        used, steps = result
        emit(name, used, requests, steps)
        log(f"{name}: {len(steps)} steps, "
            f"{sum(len(s['p']) for s in steps)} preemptions")

    redrawn = 0
    for i in range(1, num_random + 1):
        for draw in range(MAX_DRAWS):
            rng = random.Random(1_000_003 * i + draw)
            cfg, requests = random_stream(rng)
            # Each request is scheduled in at least `output` steps and a step
            # holds at most max_num_seqs requests: skip draws sure to be long.
            total_output = sum(r[3] for r in requests)
            if cdiv(total_output, cfg["max_num_seqs"]) > RANDOM_STEP_CAP:
                result = None
            else:
                result = driver.run(cfg, requests, RANDOM_STEP_CAP)
            if result is not None:
                break
            redrawn += 1
        else:
            raise SystemExit(f"random-{i:04d}: no draw within {RANDOM_STEP_CAP} steps")
        used, steps = result
        emit(f"random-{i:04d}", used, requests, steps)
        if i % 50 == 0:
            log(f"random streams: {i}")
    log(f"random draws replaced for running past {RANDOM_STEP_CAP} steps: {redrawn}")
    return lines, summary


def print_summary(summary, log):
    def line(label, rows):
        streams = len(rows)
        steps = sum(r[2] for r in rows)
        with_p = sum(1 for r in rows if r[3] > 0)
        total_p = sum(r[3] for r in rows)
        log(f"{label:<28} streams {streams:4d}  steps {steps:7d}  "
            f"preempting {with_p:4d}  preemptions {total_p:6d}")

    line("all", summary)
    for policy in ("fcfs", "priority"):
        for chunked in (True, False):
            rows = [
                r for r in summary
                if r[1]["policy"] == policy and r[1]["chunked_prefill"] == chunked
            ]
            line(f"{policy} chunked={'on' if chunked else 'off'}", rows)
    named = [r for r in summary if not r[0].startswith("random-")]
    line("named edge cases", named)
    line("random", [r for r in summary if r[0].startswith("random-")])


def gzip_bytes(lines):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for line in lines:
            gz.write(line.encode("utf-8"))
            gz.write(b"\n")
    return buf.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", help="write the fixture file here")
    group.add_argument("--check", help="regenerate and compare with this file")
    parser.add_argument(
        "--random",
        type=int,
        default=RANDOM_STREAMS,
        help=f"number of random streams (default {RANDOM_STREAMS}; the fixture file uses the default)",
    )
    args = parser.parse_args()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="aimsim-vllm-model-") as model_dir:
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(TINY_LLAMA, f, indent=2, sort_keys=True)
        driver = Driver(model_dir)
        # vLLM warns about some legal configs (budget > seqs * max_model_len).
        logging.getLogger("vllm").setLevel(logging.ERROR)
        lines, summary = generate(driver, log, args.random)
    data = gzip_bytes(lines)
    print_summary(summary, log)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "wb") as f:
            f.write(data)
        log(f"wrote {args.out}: {len(lines)} streams, {len(data)} bytes")
    else:
        with open(args.check, "rb") as f:
            old = f.read()
        if old != data:
            log(f"{args.check} differs from a fresh run")
            sys.exit(1)
        log(f"{args.check} matches a fresh run")


if __name__ == "__main__":
    main()
