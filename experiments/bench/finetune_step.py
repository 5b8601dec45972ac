"""Fine-tuning throughput, side by side: our jitted train step vs the same MiniLM in transformers + PyTorch.

Same checkpoint (all-MiniLM-L6-v2), same batch (real tokenized MTOD utterances padded to one length),
fp32, dropout on, AdamW with clipping, a linear head on the first token. Medians over repeats; JAX
compile time is reported apart. Threads: both use every core of the machine.

    python experiments/bench/finetune_step.py --batch-size 32 --seq-len 64 --repeats 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import numpy as np


def batch_of(batch_size: int, seq_len: int, num_labels: int):
    from xlgraph.data.readers import load_corpus
    from xlgraph.data.tokenize import load_tokenizer, tokenize

    corpus, _ = load_corpus("sample:mtod")
    train = corpus.where(lang="en", split="train")
    tok = tokenize(load_tokenizer("all-MiniLM-L6-v2"), train.text[:batch_size], seq_len)
    mask = (np.arange(seq_len)[None] < tok.lengths[:, None]).astype(np.int32)
    return {"input_ids": tok.ids, "attention_mask": mask, "labels": train.label[:batch_size] % num_labels,
            "weight": np.ones(batch_size, np.float32)}


def time_jax(batch, num_labels: int, repeats: int, warmup: int) -> dict:
    from flax import nnx

    from xlgraph.models.classifier import Classifier
    from xlgraph.models.hf import load_encoder
    from xlgraph.train import optim
    from xlgraph.train.steps import init_state, make_train_step

    encoder, _ = load_encoder("all-MiniLM-L6-v2")
    graphdef, params = nnx.split(Classifier(encoder, num_labels, rngs=nnx.Rngs(0)))
    tx = optim.adamw(5e-5, 10_000, warmup_ratio=0.0)
    state = init_state(params, tx)
    step = make_train_step(graphdef, tx)
    batch = jax.device_put(batch)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    compiled = step.lower(state, batch, key).compile()
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        state, metrics = compiled(state, batch, key)
    jax.block_until_ready(state)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, metrics = compiled(state, batch, key)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t0)
    return {"compile_s": compile_s, "step_s": statistics.median(times), "loss": float(metrics["loss"])}


def time_torch(batch, num_labels: int, repeats: int, warmup: int) -> dict:
    import torch
    from transformers import BertModel

    from xlgraph.models.hub import resolve_model_dir

    torch.manual_seed(0)
    encoder = BertModel.from_pretrained(str(resolve_model_dir("all-MiniLM-L6-v2")), add_pooling_layer=False)
    head = torch.nn.Linear(encoder.config.hidden_size, num_labels)
    drop = torch.nn.Dropout(0.1)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
    encoder.train()
    ids = torch.as_tensor(batch["input_ids"], dtype=torch.long)
    mask = torch.as_tensor(batch["attention_mask"], dtype=torch.long)
    labels = torch.as_tensor(batch["labels"], dtype=torch.long)

    def step():
        opt.zero_grad(set_to_none=True)
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        loss = torch.nn.functional.cross_entropy(head(drop(hidden[:, 0])), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times), "loss": loss.item(), "threads": torch.get_num_threads(),
            "attn_implementation": encoder.config._attn_implementation}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    num_labels = 12
    batch = batch_of(args.batch_size, args.seq_len, num_labels)
    ours = time_jax(batch, num_labels, args.repeats, args.warmup)
    peer = time_torch(batch, num_labels, args.repeats, args.warmup)
    n = args.batch_size
    rows = [("xlgraph (JAX, jit)", ours), ("transformers + PyTorch", peer)]
    print(f"MiniLM-L6 fine-tuning step · batch {n} × {args.seq_len} tokens · fp32 · {jax.devices()[0].platform} · "
          f"{os.cpu_count()} cores · median of {args.repeats}")
    print(f"{'':24} {'step ms':>9} {'examples/s':>11}")
    for name, r in rows:
        print(f"{name:24} {1000 * r['step_s']:9.1f} {n / r['step_s']:11.1f}")
    ratio = peer["step_s"] / ours["step_s"]
    print(f"speed-up (PyTorch step time / ours): {ratio:.2f}×   JAX compile: {ours['compile_s']:.1f}s (not in the step time)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"batch_size": n, "seq_len": args.seq_len, "repeats": args.repeats, "ours": ours, "torch": peer,
                       "speedup": ratio, "machine": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "device": str(jax.devices()[0])}, f, indent=2)


if __name__ == "__main__":
    main()
