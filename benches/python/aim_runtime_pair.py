#!/usr/bin/env python3
"""Times the AIM runtime's own schedule_model + unschedule_model, the pair
aimsim's `cargo bench --bench scheduler -- pair` measures, so BENCHMARKS.md
can give both figures from one machine and one run.

The runtime is not part of aimsim and is not copied here: fetch it
(github.com/Yu-amd/AIM_Next, folder aim-gpu-sharing/runtime) and name the
folder:

    python3 benches/python/aim_runtime_pair.py --runtime PATH/aim-gpu-sharing/runtime

It needs PyYAML (the runtime reads its sizing config with it). Layouts and
model are those of `pair`: one MI300X as 4 x 40 GB, and as eight
partitions of 23.5 GB (the runtime's simulated partitioner has no compute
modes, so CPX/NPS4 is its memory layout), Llama-3.1-8B-Instruct at FP16.
Prints the median over rounds of the mean time of one schedule +
unschedule, in ns.
"""

import argparse
import logging
import statistics
import sys
import time

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# The runtime keeps 4 GB of an MI300X for the system: eight equal
# partitions are 23.5 GB each.
LAYOUTS = {"40,40,40,40": [40.0] * 4, "CPX/NPS4": [23.5] * 8}


def time_pair(scheduler, rounds, per_round):
    """Median over rounds of the mean ns of one schedule + unschedule."""
    means = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(per_round):
            ok, _, error = scheduler.schedule_model(MODEL, precision="fp16")
            if not ok:
                raise SystemExit(f"the runtime refused {MODEL}: {error}")
            scheduler.unschedule_model(MODEL)
        means.append((time.perf_counter_ns() - start) / per_round)
    return statistics.median(means)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", required=True, help="the runtime's folder")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=20000)
    args = parser.parse_args()
    sys.path.insert(0, args.runtime)
    # The runtime logs every decision at INFO; the default level drops it,
    # as in a deployment that does not debug.
    logging.basicConfig(level=logging.WARNING)
    from rocm_partitioner import ROCmPartitioner  # noqa: E402
    from model_scheduler import ModelScheduler  # noqa: E402

    print("layout,runtime_pair_ns")
    for name, sizes in LAYOUTS.items():
        partitioner = ROCmPartitioner(gpu_id=0)
        if not partitioner.initialize("MI300X", sizes):
            raise SystemExit(f"the runtime refused the layout {sizes}")
        scheduler = ModelScheduler(partitioner, auto_detect=False)
        time_pair(scheduler, 2, 1000)  # warm up
        print(f'"{name}",{time_pair(scheduler, args.rounds, args.per_round):.0f}')


if __name__ == "__main__":
    main()
