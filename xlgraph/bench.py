"""`xlgraph bench encoder`: one encoder train (or forward) step, timed; optionally side by side with
transformers + PyTorch on the same shapes.

Prints step time (median of repeats), examples/s, tokens/s, compile time (apart), peak memory (device
bytes where the backend reports them, else the process's peak RSS) and, on GPU/TPU, model FLOPs
utilisation against the peak of the device kind (table below; dense, no sparsity).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

from xlgraph.config import at_least
from xlgraph.errors import XlgraphError

# Dense peak FLOP/s per chip: bf16 tensor cores / MXU, and fp32 as XLA runs it (TF32 on NVIDIA).
PEAK_FLOPS = {
    "H200": {"bf16": 989e12, "fp32": 494e12},
    "H100": {"bf16": 989e12, "fp32": 494e12},  # SXM; PCIe is about 756 / 378
    "A100": {"bf16": 312e12, "fp32": 156e12},
    "TPU v4": {"bf16": 275e12, "fp32": 275e12},
    "TPU v5 lite": {"bf16": 197e12, "fp32": 197e12},  # v5e
    "TPU v5e": {"bf16": 197e12, "fp32": 197e12},
}

SHAPES = {  # name: (HF-style config overrides, tokenizer-compatible with the embedded MiniLM)
    "minilm": None,  # the real all-MiniLM-L6-v2 weights
    "bert-base": dict(model_type="bert", vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512),
    "xlmr-base": dict(model_type="xlm-roberta", vocab_size=250002, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072, max_position_embeddings=514,
                      type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5),
}


def add_encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="minilm",
                   help=f"{', '.join(SHAPES)} (random weights but minilm), or a model directory")
    p.add_argument("--batch-size", type=at_least(1), default=32, help="global batch")
    p.add_argument("--seq-len", type=at_least(2), default=128)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--mode", choices=("train", "forward"), default="train")
    p.add_argument("--devices", type=at_least(0), default=0, help="use the first N devices (default 0: all)")
    p.add_argument("--num-labels", type=at_least(2), default=12)
    p.add_argument("--repeats", type=at_least(1), default=20)
    p.add_argument("--warmup", type=at_least(0), default=3)
    p.add_argument("--torch", action="store_true", help="also time transformers + PyTorch, same shapes")
    p.add_argument("--freeze-embeddings", action="store_true",
                   help="keep the word-embedding table fixed (no gradient, no AdamW state), on both sides")
    p.add_argument("--freeze-layers", type=at_least(0), default=0, metavar="N",
                   help="also keep the embeddings and the bottom N layers fixed (JAX side only)")
    p.add_argument("--json", help="also write the results here")


def peak_flops(device, precision: str) -> float | None:
    kind = getattr(device, "device_kind", "")
    for name, peaks in PEAK_FLOPS.items():
        if name.lower() in kind.lower():
            return peaks[precision]
    return None


def model_flops(hf: dict, batch: int, seq: int, mode: str) -> float:
    """Matmul FLOPs of the encoder (+ head ignored): 2·params·tokens plus attention scores and mixing;
    a train step is 3× the forward (backward = 2× forward)."""
    h, layers, inter = hf["hidden_size"], hf["num_hidden_layers"], hf["intermediate_size"]
    per_token = layers * (2 * (4 * h * h + 2 * h * inter) + 4 * seq * h)
    return per_token * batch * seq * (3 if mode == "train" else 1)


def hf_config(model: str) -> tuple[dict, str | None]:
    """(HF config dict, model dir with weights or None for random weights)."""
    from xlgraph.models.hub import resolve_model_dir

    if model in SHAPES and SHAPES[model] is not None:
        return dict(SHAPES[model], hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1), None
    path = resolve_model_dir("all-MiniLM-L6-v2" if model == "minilm" else model)
    return json.loads((path / "config.json").read_text()), str(path)


def make_batch(hf: dict, batch: int, seq: int, num_labels: int):
    """Token ids with the length profile of the embedded MTOD sample, stretched to fill `seq`."""
    import numpy as np

    rng = np.random.default_rng(0)
    lengths = rng.integers(seq // 2, seq + 1, batch)
    lengths[0] = seq
    pad = hf.get("pad_token_id", 0)
    ids = rng.integers(5, hf["vocab_size"], (batch, seq)).astype(np.int32)
    mask = (np.arange(seq)[None] < lengths[:, None]).astype(np.int32)
    return {"input_ids": np.where(mask, ids, pad).astype(np.int32), "attention_mask": mask,
            "labels": rng.integers(0, num_labels, batch).astype(np.int32), "weight": np.ones(batch, np.float32)}


def time_jax(hf: dict, weights: str | None, batch: dict, args) -> dict:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from xlgraph.models.classifier import Classifier
    from xlgraph.models.embedding import frozen_mask
    from xlgraph.models.encoder import Encoder, EncoderConfig
    from xlgraph.models.hf import load_encoder
    from xlgraph.train import optim
    from xlgraph.train.parallel import DataParallel
    from xlgraph.train.steps import init_state, make_predict_step, make_train_step

    if args.devices > len(jax.devices()):
        raise XlgraphError(f"--devices {args.devices}: only {len(jax.devices())} {jax.devices()[0].platform} "
                           "device(s) here")
    dtype = jnp.bfloat16 if args.precision == "bf16" else None
    if weights:
        encoder, _ = load_encoder(weights, dtype=dtype)
    else:
        cfg = EncoderConfig.from_hf(hf, **({"dtype": dtype} if dtype else {}))
        encoder = Encoder(cfg, rngs=nnx.Rngs(0))
    if args.freeze_embeddings:
        encoder.freeze_word_embeddings()
    if args.freeze_layers > encoder.cfg.num_layers:
        raise XlgraphError(f"--freeze-layers {args.freeze_layers}: the model has {encoder.cfg.num_layers} layers")
    encoder.freeze_layers(args.freeze_layers)
    graphdef, params = nnx.split(Classifier(encoder, args.num_labels, rngs=nnx.Rngs(0)))
    dp = DataParallel.create(jax.devices()[: args.devices or None])
    dp.check_batch_size(args.batch_size, "--batch-size")
    data = dp.put_batch(batch, args.batch_size)
    if args.mode == "train":
        frozen = frozen_mask if args.freeze_embeddings or args.freeze_layers else None
        tx = optim.adamw(5e-5, 10_000, warmup_ratio=0.0, frozen=frozen)
        state = init_state(params, tx)
        sharding = dp.state_sharding(state)
        state = dp.place(state, sharding)
        fn = make_train_step(graphdef, tx, dp=dp, state_sharding=sharding)
        key = jax.random.key(0)
        args_of = lambda s: (s, data, key)  # noqa: E731
        advance = lambda s, out: out[0]  # noqa: E731
    else:
        state = dp.place(params)
        fn = make_predict_step(graphdef, dp)
        args_of = lambda s: (s, data)  # noqa: E731
        advance = lambda s, out: s  # noqa: E731
    t0 = time.perf_counter()
    compiled = fn.lower(*args_of(state)).compile()
    compile_s = time.perf_counter() - t0
    try:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        xla_flops = float(cost.get("flops", 0.0)) or None
    except Exception:  # noqa: BLE001 - not every backend reports it
        xla_flops = None
    for _ in range(args.warmup):
        state = advance(state, compiled(*args_of(state)))
    jax.block_until_ready(state)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = compiled(*args_of(state))
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
        state = advance(state, out)
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return {"step_s": statistics.median(times), "compile_s": compile_s, "xla_flops": xla_flops,
            "peak_bytes": peak, "peak_kind": "device" if peak else "host RSS",
            "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "devices": dp.size, "device_kind": device.device_kind, "platform": device.platform}


def time_torch(hf: dict, weights: str | None, batch: dict, args) -> dict:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel

    transformers.logging.set_verbosity_error()

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    if weights:
        encoder = AutoModel.from_pretrained(weights, add_pooling_layer=False)
    else:
        encoder = AutoModel.from_config(AutoConfig.for_model(**hf), add_pooling_layer=False)
    encoder.to(dev)
    head = torch.nn.Linear(hf["hidden_size"], args.num_labels).to(dev)
    drop = torch.nn.Dropout(0.1)
    if args.freeze_embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in encoder.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
    ids = torch.as_tensor(batch["input_ids"], dtype=torch.long, device=dev)
    mask = torch.as_tensor(batch["attention_mask"], dtype=torch.long, device=dev)
    labels = torch.as_tensor(batch["labels"], dtype=torch.long, device=dev)
    autocast = torch.autocast(dev, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def train():
        opt.zero_grad(set_to_none=True)
        with autocast:
            hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            loss = torch.nn.functional.cross_entropy(head(drop(hidden[:, 0])).float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    def forward():
        with torch.no_grad(), autocast:
            head(encoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]).softmax(-1)

    step = train if args.mode == "train" else forward
    encoder.train(args.mode == "train")
    for _ in range(args.warmup):
        step()
    sync()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() if dev == "cuda" else None
    return {"step_s": statistics.median(times), "peak_bytes": peak, "device": dev, "threads": torch.get_num_threads(),
            "attn_implementation": encoder.config._attn_implementation}


def bench_encoder(args) -> dict:
    import jax

    hf, weights = hf_config(args.model)
    batch = make_batch(hf, args.batch_size, args.seq_len, args.num_labels)
    ours = time_jax(hf, weights, batch, args)
    flops = model_flops(hf, args.batch_size, args.seq_len, args.mode)
    peak = peak_flops(jax.devices()[0], args.precision)
    ours["model_flops"] = flops
    ours["mfu"] = flops / ours["step_s"] / (peak * ours["devices"]) if peak else None
    result = {"model": args.model, "batch_size": args.batch_size, "seq_len": args.seq_len,
              "freeze_embeddings": args.freeze_embeddings, "freeze_layers": args.freeze_layers,
              "precision": args.precision, "mode": args.mode, "repeats": args.repeats, "cores": os.cpu_count(),
              "ours": ours}
    if args.torch:
        result["torch"] = time_torch(hf, weights, batch, args)
        result["speedup"] = result["torch"]["step_s"] / ours["step_s"]
    return result


def format_result(r: dict) -> str:
    n, seq, ours = r["batch_size"], r["seq_len"], r["ours"]
    lines = [f"{r['model']} {r['mode']} step · batch {n} × {seq} tokens · {r['precision']} · "
             f"{'frozen word embeddings · ' if r.get('freeze_embeddings') else ''}"
             f"{'bottom %d layers frozen · ' % r['freeze_layers'] if r.get('freeze_layers') else ''}"
             f"{ours['devices']} × {ours['device_kind']} · {r['cores']} cores · median of {r['repeats']}",
             f"{'':24} {'step ms':>9} {'examples/s':>11} {'tokens/s':>10} {'peak MiB':>9} {'MFU':>6}"]

    def row(name, x, mfu):
        mib = f"{x['peak_bytes'] / 2**20:9.0f}" if x.get("peak_bytes") else f"{'—':>9}"
        lines.append(f"{name:24} {1000 * x['step_s']:9.1f} {n / x['step_s']:11.1f} {n * seq / x['step_s']:10.0f} "
                     f"{mib} {f'{100 * mfu:5.1f}%' if mfu else '   n/a'}")

    row("xlgraph (JAX, jit)", ours, ours["mfu"])
    if "torch" in r:
        t = r["torch"]
        peak = ours["mfu"] and ours["mfu"] * ours["step_s"] / t["step_s"]
        row("transformers + PyTorch", t, peak)
    lines.append(f"JAX compile {ours['compile_s']:.1f}s (not in the step time); model FLOPs/step "
                 f"{ours['model_flops'] / 1e9:.1f} G" + (f", XLA counts {ours['xla_flops'] / 1e9:.1f} G"
                                                        if ours.get("xla_flops") else ""))
    if not ours.get("peak_bytes") or ours["peak_kind"] != "device":
        lines.append(f"peak memory: the backend reports none; process peak RSS {ours['rss_bytes'] / 2**20:.0f} MiB")
    if "speedup" in r:
        lines.append(f"speed-up (PyTorch step time / ours): {r['speedup']:.2f}×")
    return "\n".join(lines)


def bench_encoder_cli(args) -> None:
    r = bench_encoder(args)
    print(format_result(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
