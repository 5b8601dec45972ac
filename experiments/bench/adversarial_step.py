"""Cost of one FGSM adversarial train step relative to one clean step: same model, same batch, jitted, medians.

The physical limit is about 2.0 (one extra forward and backward); the perturbation's gradient comes out of the
clean backward pass, so nothing else should cost. MiniLM (real weights), batch 32 × 64, fp32, dropout on:

    python experiments/bench/adversarial_step.py [--repeats 10 --batch-size 32 --seq-len 64]
"""

import argparse
import statistics
import time

import jax
from flax import nnx

from xlgraph.bench import hf_config, make_batch
from xlgraph.config import at_least
from xlgraph.models.classifier import Classifier
from xlgraph.models.hf import load_encoder
from xlgraph.objectives.adversarial import fgsm
from xlgraph.train import optim
from xlgraph.train.steps import init_state, make_train_step


def median_step(graphdef, params, batch, grad_fn, repeats):
    tx = optim.adamw(5e-5, 10_000, warmup_ratio=0.0)
    state, key = init_state(jax.tree.map(jax.numpy.copy, params), tx), jax.random.key(0)  # the step donates it
    step = make_train_step(graphdef, tx, grad_fn=grad_fn).lower(state, batch, key).compile()
    for _ in range(2):
        state, _ = step(state, batch, key)
    times = []
    for _ in range(repeats):
        jax.block_until_ready(state)
        t0 = time.perf_counter()
        state, m = step(state, batch, key)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=at_least(1), default=32)
    p.add_argument("--seq-len", type=at_least(1), default=64)
    p.add_argument("--repeats", type=at_least(1), default=10)
    args = p.parse_args()
    hf, weights = hf_config("minilm")
    batch = jax.device_put(make_batch(hf, args.batch_size, args.seq_len, 12))
    encoder, _ = load_encoder(weights)
    graphdef, params = nnx.split(Classifier(encoder, 12, rngs=nnx.Rngs(0)))
    rows = [("clean", None), ("fgsm, per-example norm", fgsm()), ("fgsm, whole-table norm", fgsm(norm="table")),
            ("random control", fgsm(control=True))]
    times = {name: median_step(graphdef, params, batch, fn, args.repeats) for name, fn in rows}
    print(f"MiniLM train step · batch {args.batch_size} × {args.seq_len} · fp32 · {jax.devices()[0].platform} · "
          f"median of {args.repeats}")
    for name, t in times.items():
        print(f"{name:24} {1000 * t:8.1f} ms   {t / times['clean']:.2f}× clean")


if __name__ == "__main__":
    main()
