"""Runs in a subprocess with forced CPU devices (the device count is fixed when JAX starts): a few training
steps of one model on a 1-device mesh and on all devices, with variants; writes everything to an .npz for
tests/test_parallel.py to compare."""

import sys

import jax
import numpy as np
from flax import nnx

from xlgraph.data.batching import iterate_batches
from xlgraph.data.tokenize import Tokenized
from xlgraph.models.classifier import Classifier
from xlgraph.models.encoder import Encoder, EncoderConfig
from xlgraph.train import optim
from xlgraph.train.parallel import DataParallel
from xlgraph.train.steps import init_state, make_predict_step, make_train_step

BATCH, STEPS = 16, 4


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 16, n).astype(np.int32)
    ids = rng.integers(1, 50, (n, 16)).astype(np.int32) * (np.arange(16)[None] < lengths[:, None])
    return Tokenized(ids, lengths, 0), (ids[:, 0] % 3).astype(np.int32)


def run(devices, *, dropout=0.1, grad_accum=1, shard_opt_state=False):
    cfg = EncoderConfig(vocab_size=50, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                        max_position_embeddings=32, hidden_dropout=dropout, attention_dropout=dropout)
    model = Classifier(Encoder(cfg, rngs=nnx.Rngs(0)), 3, dropout=dropout, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    dp = DataParallel.create(devices, shard_opt_state=shard_opt_state, shard_min_size=256)
    tx = optim.adamw(1e-3, 100, warmup_ratio=0.0)
    state = init_state(params, tx)
    sharding = dp.state_sharding(state)
    state = dp.place(state, sharding)
    step = make_train_step(graphdef, tx, dp=dp, state_sharding=sharding, grad_accum=grad_accum)
    tok, labels = data()
    losses, norms, key = [], [], jax.random.key(7)
    batches = iterate_batches(tok, labels, buckets=(16,), batch_size=BATCH, shuffle=True,
                              rows=dp.local_rows(BATCH))
    for _, batch in zip(range(STEPS), batches):
        state, metrics = step(state, dp.put_host_batch(batch, BATCH), key)
        losses.append(metrics["loss"])
        norms.append(metrics["grad_norm"])  # Adam is blind to a scaled gradient; the norm is not
    first = next(iterate_batches(tok, labels, buckets=(16,), batch_size=BATCH, shuffle=False))
    _, probs = make_predict_step(graphdef, dp)(state.params, dp.put_host_batch(first, BATCH))
    opt_specs = {str(x.sharding.spec) for x in jax.tree.leaves(state.opt_state) if hasattr(x, "sharding")}
    out = {"loss": np.asarray(jax.device_get(losses)), "grad_norm": np.asarray(jax.device_get(norms)), "probs": np.asarray(probs),
           "opt_sharded": np.asarray("PartitionSpec('data',)" in opt_specs or any("data" in s for s in opt_specs)),
           "devices": np.asarray(dp.size)}
    for i, leaf in enumerate(jax.tree.leaves(state.params)):
        out[f"param{i}"] = np.asarray(leaf)
    return out


def encode(devices, model_dir, out):
    from xlgraph.data.readers import load_corpus
    from xlgraph.encode import encode_corpus

    corpus, _ = load_corpus("sample:mtod")
    corpus = corpus.where(split="unlabeled").take(np.arange(0, 2000, 25))
    return {"features": np.array(encode_corpus(corpus, out, model=model_dir, max_length=32, batch_size=16,
                                               chunk_size=48, dp=DataParallel.create(devices)).array())}


def main(path, model_dir):
    variants = {
        "encode_one": encode(jax.devices()[:1], model_dir, path + ".one"),
        "encode_all": encode(jax.devices(), model_dir, path + ".all"),
        "one": run(jax.devices()[:1]),
        "all": run(jax.devices()),
        "all_zero": run(jax.devices(), shard_opt_state=True),
        "one_nodrop": run(jax.devices()[:1], dropout=0.0),
        "all_accum2_nodrop": run(jax.devices(), dropout=0.0, grad_accum=2),
    }
    np.savez(path, **{f"{name}/{k}": v for name, out in variants.items() for k, v in out.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
