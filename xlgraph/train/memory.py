"""Memory estimates checked before any work, so that an impossible size is one line at once, not an XLA
out-of-memory traceback after fine-tuning.

Each estimate is a lower bound of what the step really holds (the activation factor counts fewer values per token
and layer than a transformer layer saves for its backward pass), so a refused run could not have fitted; a run
that fits is never refused. The pure functions take sizes; `check_training`, `check_clhg` and `check_deep_cnn`
read them from a run's config, model and corpus. The message is the one of the graph check
(`graph.hetero.check_fits`, which stays in the graph layer: graph sits below train).
"""

from __future__ import annotations

import logging

import jax
import numpy as np

from xlgraph.data.corpus import SPLITS
from xlgraph.errors import XlgraphError
from xlgraph.graph import hetero
from xlgraph.graph.hetero import human_bytes

log = logging.getLogger("xlgraph")

ACTIVATION_FACTOR = 8  # values kept per token, layer and hidden unit for the backward pass (a BERT layer keeps > 14)
OPTIMIZER_COPIES = 4  # weights, gradients and AdamW's two moments, float32 each


def encoder_training_bytes(*, batch: int, length: int, hidden: int, layers: int, params: int,
                           trainable: bool = True, act_bytes: int = 4) -> int:
    """One training step of a `layers`-deep, `hidden`-wide model on a (batch, length) batch: the parameters
    (with gradients and AdamW state when `trainable`) and the activations kept for the backward pass."""
    weights = params * 4 * (OPTIMIZER_COPIES if trainable else 1)
    return weights + batch * length * hidden * max(layers, 1) * ACTIVATION_FACTOR * act_bytes


def gcn_bytes(*, nodes: int, feature_dim: int, hidden: int, relations: int = 1, classes: int = 2,
              edges: int = 0) -> int:
    """The GCN (feature_dim → hidden → feature_dim per relation, then the head), with gradients and AdamW state,
    one float32 activation of every node at the input and the hidden layer, and the hidden-layer message of
    each of `edges` edges (the second layer gathers one row per edge before summing them)."""
    weights = relations * (2 * feature_dim * hidden + hidden + feature_dim) + feature_dim * classes + classes
    return weights * 4 * OPTIMIZER_COPIES + nodes * (feature_dim + hidden) * 4 + edges * hidden * 4


def knn_graph_bytes(*, docs: int, k: int, feature_dim: int) -> int:
    """The similarity edges (each document to its min(k, docs − 1) nearest, symmetrised) and the features, as
    the graph build pads and holds them (`hetero.estimate_bytes`)."""
    k = min(k, max(docs - 1, 0))
    return hetero.estimate_bytes(docs, {"similar": 2 * k * docs}, feature_dim)


def available(device=None) -> tuple[int | None, str]:
    """(bytes this process may hold on `device` (default: the first), what memory that is): the accelerator
    allocator's limit from its memory_stats (not less what is in use: the model is already there, and the
    estimates count it), else the host RAM available now; None when neither can be told."""
    device = device or jax.devices()[0]
    if device.platform != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 -- some backends have none
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]), f"{device.platform} device"
    return hetero.available_memory(), "host"


def check(what: str, estimate: int, advice: str, free: tuple[int | None, str] | None = None) -> None:
    """Raises XlgraphError when `estimate` bytes exceed the free memory (default: `available()`)."""
    limit, kind = free if free is not None else available()
    if limit is None:
        log.warning("cannot tell the available memory; not checking that %s (about %s) fits", what,
                    human_bytes(estimate))
    elif estimate > limit:
        raise XlgraphError(f"{what} needs about {human_bytes(estimate)} but only {human_bytes(limit)} of {kind} "
                           f"memory is available; {advice}")


def check_run(cfg, model, corpus, *, devices: int = 1, free: tuple[int | None, str] | None = None) -> None:
    """Everything a run of `cfg` on `corpus` will hold that can be told once the corpus is read, from `model`'s
    shapes (`nnx.eval_shape`: checked before it is built, since a huge width would fill the memory while building
    it) or the built model, before its first step: the training step and, for CLHG, the kNN graph and the GCN. CLHG's document nodes are
    at least the corpus's labelled-split documents (`graph.corpus_graph.doc_nodes`; the unlabeled pool adds)."""
    free = free if free is not None else available()
    hidden = check_training(cfg, model, devices=devices, free=free)
    if cfg.method == "clhg":  # the GCN's input features are the encoder's (its hidden width)
        docs = int(np.sum(corpus.split != SPLITS.index("unlabeled")))
        check_clhg(cfg, docs=docs, feature_dim=hidden, classes=len(corpus.labels), free=free)


def check_training(cfg, model, *, devices: int = 1, free: tuple[int | None, str] | None = None) -> int:
    """The training step of `model` (its shapes, or built, before its first step) on the run's batches; returns
    the model's width. On an accelerator each of the `devices` holds its share of the batch; on the CPU they
    share the host's memory."""
    from flax import nnx

    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    params = sum(int(np.prod(x.shape)) for x in leaves)
    enc = getattr(getattr(model, "encoder", None), "cfg", None)
    if enc is not None and hasattr(enc, "hidden_size"):
        hidden, layers, kind = enc.hidden_size, enc.num_layers, f"{enc.num_layers} layers × {enc.hidden_size} hidden"
    else:  # word-embedding models: one layer as wide as the embedding table
        shapes = [x.shape for x in leaves if len(x.shape) == 2]
        hidden, layers = (int(max(shapes, key=np.prod)[1]) if shapes else 1), 1
        kind = f"width {hidden}"
    limit, where = free if free is not None else available()
    share = cfg.train.grad_accum * (devices if where != "host" else 1)
    batch, length = -(-cfg.train.batch_size // share), max([cfg.tokens.max_length, *cfg.tokens.buckets])
    trainable = not (cfg.model.freeze_embeddings or cfg.model.train_layers)
    estimate = encoder_training_bytes(batch=batch, length=length, hidden=hidden, layers=layers, params=params,
                                      trainable=trainable, act_bytes=2 if cfg.train.precision == "bf16" else 4)
    built = not all(isinstance(x, jax.ShapeDtypeStruct) for x in leaves)
    if where == "host" and built:  # the built weights already take host memory: the RAM available now excludes them
        estimate -= params * 4
    check(f"the training step (batch {batch} × {length} tokens, {kind}, {params / 1e6:.1f}M parameters"
          f"{' with AdamW' if trainable else ''})", estimate,
          "lower train.batch_size (or raise train.grad_accum) or tokens.max_length", (limit, where))
    return hidden


def check_clhg(cfg, *, docs: int, feature_dim: int, classes: int = 2,
               free: tuple[int | None, str] | None = None) -> None:
    """The CLHG graph's kNN pass and GCN for at least `docs` document nodes of `feature_dim` features."""
    c = cfg.clhg
    if c.similarity:
        check(f"the similarity graph ({docs} documents, clhg.knn={c.knn})",
              knn_graph_bytes(docs=docs, k=c.knn, feature_dim=feature_dim), "lower clhg.knn or use fewer documents",
              free)
    k = min(c.knn, max(docs - 1, 0)) if c.similarity else 0
    check(f"the GCN ({docs} document nodes, {feature_dim} → clhg.hidden={c.hidden} → {feature_dim}, "
          f"{k * docs} similarity edges)",
          gcn_bytes(nodes=docs, feature_dim=feature_dim, hidden=c.hidden, classes=classes, edges=k * docs),
          "lower clhg.hidden or clhg.knn, or use fewer documents", free)


def deep_cnn_training_bytes(*, batch: int, length: int, embed_dim: int, filters: int, convs: int,
                            trainable_params: int, frozen_params: int = 0) -> int:
    """One training step of the deep CNN: the weights (gradients and Adam state for the trainable ones) and, kept
    for the backward pass, the embedded input and every conv's output (float32), `length` the padded length."""
    weights = trainable_params * 4 * OPTIMIZER_COPIES + frozen_params * 4
    return weights + batch * length * (embed_dim + convs * filters) * 4


def check_deep_cnn(cfg, *, vocab_size: int, embed_dim: int, num_labels: int,
                   free: tuple[int | None, str] | None = None) -> None:
    """The deep CNN's training step on the run's largest batches (`deep_cnn.max_length` words, at least as many as
    the widest window), from the sizes alone: checked before the model is built (a huge deep_cnn.filters would
    fill the memory while building it)."""
    from xlgraph.models.deep_cnn import param_count

    d = cfg.deep_cnn
    windows, parallel, f = list(d.windows), list(d.parallel), d.filters
    table, rest = param_count(vocab_size, num_labels, embed_dim=embed_dim, filters=f, windows=windows,
                              parallel=parallel)
    trainable, frozen = (rest, table) if d.freeze_embeddings else (rest + table, 0)
    length = max(d.max_length, *windows, *parallel)
    n = len(windows) + len(parallel)
    estimate = deep_cnn_training_bytes(batch=cfg.train.batch_size, length=length, embed_dim=embed_dim, filters=f,
                                       convs=n, trainable_params=trainable, frozen_params=frozen)
    check(f"the deep CNN's training step (batch {cfg.train.batch_size} × {length} words, {n} convs × "
          f"deep_cnn.filters={f}, {(trainable + frozen) / 1e6:.1f}M parameters)", estimate,
          "lower train.batch_size, deep_cnn.filters or deep_cnn.max_length", free)
