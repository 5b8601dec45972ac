"""Examples/s of the data-parallel train step on 1 device vs N forced CPU devices (default 8), same global batch.

On one CPU the N "devices" share the same cores, so this measures the cost of partitioning and all-reduce, not a
speed-up; on GPUs/TPUs run `xlgraph bench encoder` instead, which uses every device. Must start before JAX
does (it sets XLA_FLAGS itself):

    python experiments/bench/data_parallel.py [--devices 8 --model minilm --batch-size 32 --seq-len 64]
"""

import argparse
import os
import sys

from xlgraph.config import at_least  # (no JAX: XLA_FLAGS is set below, before JAX starts)

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--devices", type=at_least(1), default=8)
args, rest = p.parse_known_args()
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={args.devices}"

from xlgraph import bench  # noqa: E402


def main():
    q = argparse.ArgumentParser()
    bench.add_encoder_args(q)
    rows = []
    for n in (1, args.devices):
        opts = q.parse_args(["--seq-len", "64", "--repeats", "10", *rest, "--devices", str(n)])
        rows.append((n, bench.bench_encoder(opts)["ours"]))
    print(f"{opts.model} {opts.mode} step · global batch {opts.batch_size} × {opts.seq_len} · {opts.precision} · "
          f"forced CPU devices · {os.cpu_count()} cores · median of {opts.repeats}")
    print(f"{'devices':>8} {'step ms':>9} {'examples/s':>11} {'compile s':>10}")
    for n, o in rows:
        print(f"{n:8d} {1000 * o['step_s']:9.1f} {opts.batch_size / o['step_s']:11.1f} {o['compile_s']:10.1f}")


if __name__ == "__main__":
    sys.exit(main())
