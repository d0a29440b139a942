"""What the vLLM fixture harnesses share; no vLLM in here.

``benches/python/vllm_reference.py`` (vLLM 0.33.0, V1 scheduler) and
``benches/python/vllm_v0_reference.py`` (vLLM 0.7.3, V0 scheduler) import
this module (plain Python, standard library only) for what does not depend
on the vLLM version:

- request streams: ``reqs`` numbers ``(arrival, prompt, output, priority)``
  specs, ``check_stream`` holds the rules every stream obeys, and the
  ``draw_*`` helpers are the parts of a random draw both harnesses share;
- ``replay``, the step loop: requests arrive at their step, the harness's
  ``step`` callback drives the scheduler once and records the step;
- ``main``, the command line (``--out PATH`` / ``--check PATH`` /
  ``--random N``): it runs every stream through the harness's
  one-stream function, prints a summary and writes (or compares) the
  fixture file, gzip (mtime 0, empty file name, level 9) of one
  ``json.dumps(obj, separators=(",", ":"), sort_keys=True)`` line per
  stream, so the bytes depend on nothing but the streams' contents.

A stream is a config dict (the harness's own keys, which must include
``num_gpu_blocks``, ``block_size``, ``max_num_seqs``,
``max_num_batched_tokens``, ``policy`` and ``max_model_len``) and requests
``[id, arrival_step, prompt, output, priority]`` numbered 0..n-1 in arrival
order. A step record is ``{"s": [[id, tokens], ...], "p": [id, ...],
"f": [id, ...], "free": n}``.
"""

import argparse
import gzip
import io
import json
import math
import os
import random
import sys

MAX_DRAWS = 50  # sub-seeds tried per random stream
BLOCK_SIZES = [8, 16, 32]
MAX_NUM_SEQS = [1, 2, 3, 4, 5, 6, 8, 8, 10, 12, 16, 16, 20, 24, 32, 32, 48, 64]


def offline_env():
    """Environment defaults for both harnesses, set before vLLM is imported:
    quiet logs, and everything local (never reach for a model hub)."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def require_vllm(installed, wanted):
    if installed != wanted:
        raise SystemExit(f"vLLM {installed} is installed; the fixtures are of vLLM {wanted}")


def cdiv(a, b):
    return -(-a // b)


def log_uniform_int(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


# --------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------


def reqs(specs):
    """[(arrival, prompt, output, priority), ...] -> numbered requests."""
    specs = sorted(specs, key=lambda s: s[0])  # stable: keeps given order
    return [[i, a, p, o, pr] for i, (a, p, o, pr) in enumerate(specs)]


def with_priorities(specs, priorities):
    """[(arrival, prompt, output), ...] and priorities -> 4-tuple specs."""
    assert len(specs) == len(priorities)
    return [(a, p, o, pr) for (a, p, o), pr in zip(specs, priorities)]


def blocks_for(requests, bs):
    return sum(cdiv(p + o, bs) for _, _, p, o, _ in requests)


def check_stream(cfg, requests, usable_blocks):
    """The stream rules both harnesses share: each request finishable alone
    (``prompt + output`` within ``max_model_len`` and ``usable_blocks``),
    ids in arrival order, priority 0 under FCFS."""
    assert cfg["max_num_batched_tokens"] >= cfg["max_num_seqs"] >= 1
    assert cfg["policy"] in ("fcfs", "priority")
    assert requests
    usable = usable_blocks * cfg["block_size"]
    last = -1
    for i, (rid, arrival, prompt, output, priority) in enumerate(requests):
        assert rid == i
        assert arrival >= last
        last = arrival
        assert prompt >= 1 and output >= 1
        assert prompt + output <= min(cfg["max_model_len"], usable), (rid, cfg)
        if cfg["policy"] == "fcfs":
            assert priority == 0


# The draws below consume `rng` in a fixed order; the fixture files depend on
# it, so any change to them changes every random stream.


def draw_policy(rng):
    return "priority" if rng.random() < 0.4 else "fcfs"


def draw_lengths(rng, cap_total, pmax, prompt_modes):
    """2 to 40 (prompt, output) pairs with prompt + output <= cap_total and
    prompt <= pmax. `prompt_modes` is the list a prompt mode is drawn from
    ("small", "wide", "big", "near-budget")."""
    n = rng.randint(2, 40)
    out_mode = rng.choice(["short", "medium", "long", "mixed", "mixed"])
    prompt_mode = rng.choice(prompt_modes)

    def draw_output():
        mode = out_mode if out_mode != "mixed" else rng.choice(["short", "medium", "long"])
        if mode == "short":
            return rng.randint(1, 32)
        if mode == "medium":
            return rng.randint(1, 128)
        return rng.randint(100, 300)

    def draw_prompt(limit):
        if prompt_mode == "small":
            return log_uniform_int(rng, 1, max(1, min(limit, 64)))
        if prompt_mode == "big":
            return rng.randint(max(1, limit // 2), limit)
        if prompt_mode == "near-budget" and rng.random() < 0.4:
            return rng.randint(max(1, limit - 8), limit)
        return log_uniform_int(rng, 1, max(1, limit))

    lengths = []
    for _ in range(n):
        o = min(draw_output(), cap_total - 1)
        p = draw_prompt(max(1, min(pmax, cap_total - o)))
        p = max(1, min(p, cap_total - o))
        lengths.append((p, o))
    return lengths


def draw_num_gpu_blocks(rng, lengths, block_size, min_blocks, reserved):
    """A cache size from barely enough (`min_blocks`) to plenty; `reserved`
    blocks (vLLM V1's null block) come on top of the demand-based sizes."""
    demand = sum(cdiv(p + o, block_size) for p, o in lengths)
    prompt_blocks = sum(cdiv(p, block_size) for p, _ in lengths)
    cache_mode = rng.choices(
        ["barely", "tight", "exact-total", "exact-prompts", "plenty"],
        weights=[25, 40, 5, 15, 15],
    )[0]
    if cache_mode == "barely":
        blocks = min_blocks + rng.randint(0, 2)
    elif cache_mode == "tight":
        blocks = int(min_blocks + rng.uniform(0.0, 0.5) * max(0, demand + reserved - min_blocks))
    elif cache_mode == "exact-total":
        blocks = demand + reserved
    elif cache_mode == "exact-prompts":
        blocks = prompt_blocks + reserved
    else:
        blocks = demand + reserved + rng.randint(0, demand)
    return max(blocks, min_blocks)


def draw_requests(rng, lengths, policy):
    """Arrival steps (one burst, Poisson, or a few bursts) and priorities for
    `lengths`: the numbered requests."""
    n = len(lengths)
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
    return reqs(specs)


# --------------------------------------------------------------------------
# Running a stream
# --------------------------------------------------------------------------


def replay(requests, step_cap, admit, step):
    """The step loop. At step k = 0, 1, 2, ... every request arriving at k is
    passed (in id order) to ``admit(rid, prompt, output, priority)``, which
    hands it to the scheduler and returns the harness's request object; then
    ``step(k, live)`` (live: id -> request object, arrived and not finished)
    drives the scheduler once and returns the step record, whose ``"f"``
    ids are then dropped from live. Returns the records once every request
    has arrived and finished, or None if that takes more than `step_cap`
    steps."""
    arrivals = {}
    for rid, arrival, prompt, output, priority in requests:
        arrivals.setdefault(arrival, []).append((rid, prompt, output, priority))
    last_arrival = max(arrivals)
    live = {}
    num_finished = 0
    steps = []
    for k in range(step_cap):
        for rid, prompt, output, priority in arrivals.get(k, ()):
            live[rid] = admit(rid, prompt, output, priority)
        record = step(k, live)
        for rid in record["f"]:
            del live[rid]
        num_finished += len(record["f"])
        steps.append(record)
        if k >= last_arrival and num_finished == len(requests):
            assert not live
            return steps
    return None


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def generate(run, log, *, named, random_stream, num_random, seed_base,
             random_step_cap, hard_step_cap, tags):
    """Runs the named streams, then random streams 1..num_random (stream i
    is the first of ``random.Random(seed_base * i + d)``, d < MAX_DRAWS,
    that finishes within random_step_cap steps). Returns the JSON lines and
    the summary rows (name, config, steps, preemptions)."""
    lines = []
    summary = []

    def emit(name, cfg, requests, steps):
        obj = {"name": name, "config": cfg, "requests": requests, "steps": steps, **tags}
        lines.append(json.dumps(obj, separators=(",", ":"), sort_keys=True))
        summary.append((name, cfg, len(steps), sum(len(s["p"]) for s in steps)))

    for name, cfg, requests in named:
        result = run(cfg, requests, hard_step_cap)
        if result is None:
            raise SystemExit(f"{name} ran past {hard_step_cap} steps")
        used, steps = result
        emit(name, used, requests, steps)
        log(f"{name}: {len(steps)} steps, {summary[-1][3]} preemptions")

    redrawn = 0
    for i in range(1, num_random + 1):
        for draw in range(MAX_DRAWS):
            rng = random.Random(seed_base * i + draw)
            cfg, requests = random_stream(rng)
            # Each request is scheduled in at least `output` steps and a step
            # holds at most max_num_seqs requests: skip draws sure to be long.
            total_output = sum(r[3] for r in requests)
            if cdiv(total_output, cfg["max_num_seqs"]) > random_step_cap:
                result = None
            else:
                result = run(cfg, requests, random_step_cap)
            if result is not None:
                break
            redrawn += 1
        else:
            raise SystemExit(f"random-{i:04d}: no draw within {random_step_cap} steps")
        used, steps = result
        emit(f"random-{i:04d}", used, requests, steps)
        if i % 50 == 0:
            log(f"random streams: {i}")
    log(f"random draws replaced for running past {random_step_cap} steps: {redrawn}")
    return lines, summary


def print_summary(summary, groups, log):
    """One line per group of streams: all, each (label, predicate on the
    config) of `groups`, the named ones and the random ones."""
    rows = [("all", summary)]
    rows += [(label, [r for r in summary if keep(r[1])]) for label, keep in groups]
    rows.append(("named edge cases", [r for r in summary if not r[0].startswith("random-")]))
    rows.append(("random", [r for r in summary if r[0].startswith("random-")]))
    width = max(len(label) for label, _ in rows) + 4
    for label, group in rows:
        steps = sum(r[2] for r in group)
        with_p = sum(1 for r in group if r[3] > 0)
        total_p = sum(r[3] for r in group)
        log(f"{label:<{width}}streams {len(group):4d}  steps {steps:7d}  "
            f"with preemption {with_p:4d}  preemptions {total_p:6d}")


def gzip_bytes(lines):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for line in lines:
            gz.write(line.encode("utf-8"))
            gz.write(b"\n")
    return buf.getvalue()


def main(description, open_runner, *, named, random_stream, num_random, seed_base,
         random_step_cap, hard_step_cap, tags, summary_groups):
    """The command line of a harness. ``open_runner()`` is a context manager
    (entered once the arguments are parsed) yielding the function that runs
    one stream: ``run(cfg, requests, step_cap)`` returns (the config the
    scheduler really holds, the step records), or None past step_cap.
    `named` ([(name, config, requests)]), `random_stream` (rng -> (config,
    requests)), `seed_base`, the step caps and `tags` (fields added to every
    line) go to generate, `num_random` is the default of ``--random`` and
    `summary_groups` go to print_summary."""
    parser = argparse.ArgumentParser(description=description)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", help="write the fixture file here")
    group.add_argument("--check", help="regenerate and compare with this file")
    parser.add_argument(
        "--random",
        type=int,
        default=num_random,
        help=f"number of random streams (default {num_random}; the fixture file uses the default)",
    )
    args = parser.parse_args()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    with open_runner() as run:
        lines, summary = generate(
            run,
            log,
            named=named,
            random_stream=random_stream,
            num_random=args.random,
            seed_base=seed_base,
            random_step_cap=random_step_cap,
            hard_step_cap=hard_step_cap,
            tags=tags,
        )
    data = gzip_bytes(lines)
    print_summary(summary, summary_groups, log)
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
