"""Cross-entropy over a fixed-shape batch whose padding rows have weight 0, the class weights of Mhamdi et al.
for imbalanced training labels, and the two contracts every objective meets: a `LossFn` (model, batch, rngs[,
embed_delta]) -> (loss, logits) and a `GradFn` (graphdef, params, batch, key) -> (loss, logits, grads), the
way a train step gets its gradient (`value_and_grad` the plain one, `objectives.adversarial.fgsm` another)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


def cross_entropy(logits, labels, weight, class_weight=None):
    """Mean over real rows; optional per-class weights (e.g. for imbalanced data). With class weights it is the
    weighted mean Σ_i w_i·c_{y_i}·CE_i / Σ_i w_i·c_{y_i}, the normalisation of Keras' `class_weight` and PyTorch's
    `CrossEntropyLoss(weight=...)`."""
    per_row = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    if class_weight is not None:
        weight = weight * class_weight[labels]
    return jnp.sum(per_row * weight) / jnp.maximum(jnp.sum(weight), 1e-9)


def class_weights(labels, num_classes: int) -> np.ndarray:
    """(num_classes,) float32 w_c = log(Σ_c' max(n_c', 1) / max(n_c, 1)) + 1, n_c the count of class c in the
    training labels (the paper's eq. 5, rarer classes weigh more, the largest about 1 + log(#classes) at balance).

    The paper divides by n_c itself; a class absent from the training labels would get an infinite weight, so it
    is counted as 1 there too (it then gets the largest weight, which no training row uses)."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{labels.min()}, {labels.max()}]")
    counts = np.maximum(np.bincount(labels.reshape(-1), minlength=num_classes), 1).astype(np.float64)
    return (np.log(counts.sum() / counts) + 1.0).astype(np.float32)


def classification_loss(model, batch, rngs, embed_delta=None, class_weight=None):
    """Weighted cross-entropy of the model's logits; `embed_delta` perturbs the input embeddings; `class_weight`
    (num_classes,) weighs each row by its class too (bind it with functools.partial)."""
    logits = model(batch["input_ids"], batch["attention_mask"], rngs=rngs,
                   **({"embed_delta": embed_delta} if embed_delta is not None else {}))
    loss = cross_entropy(logits, batch["labels"], batch["weight"], class_weight)
    return loss, logits


def node_classification_loss(model, batch, rngs, embed_delta=None, *, precomputed: bool = False):
    """Weighted cross-entropy of a graph model's logits on the batch's nodes: `batch["x"]` the node features (or
    their precomputed first-layer aggregation), `batch["edges"]` the graph, `batch["nodes"]` the labelled nodes and,
    when present, `batch["sources"]` / `batch["block"]` the edges into them (`graph.hetero.Block`); `embed_delta`
    perturbs the input rows the model reads for the batch."""
    from xlgraph.graph.hetero import Block

    block = Block(batch["sources"], batch["block"]) if "block" in batch else None
    logits = model(batch["x"], batch["edges"], batch["nodes"], block=block, rngs=rngs, precomputed=precomputed,
                   **({"input_delta": embed_delta} if embed_delta is not None else {}))
    return cross_entropy(logits, batch["labels"], batch["weight"]), logits


LossFn = Callable[..., tuple[jax.Array, jax.Array]]  # (model, batch, rngs[, embed_delta]) -> (loss, logits)
# (graphdef, params, batch, key) -> (loss, logits, grads): how a step gets its gradient; see objectives.adversarial
GradFn = Callable[[Any, Any, dict, jax.Array], tuple[jax.Array, jax.Array, Any]]


def value_and_grad(loss_fn: LossFn = classification_loss) -> GradFn:
    """The plain GradFn: one forward and backward of `loss_fn`, dropout keyed by `key`."""

    def grad_fn(graphdef, params, batch, key):
        def loss_of(params):
            return loss_fn(nnx.merge(graphdef, params), batch, nnx.Rngs(dropout=key))

        (loss, logits), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        return loss, logits, grads

    return grad_fn
