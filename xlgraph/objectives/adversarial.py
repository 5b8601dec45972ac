"""FGSM adversarial training on the model's input, as a GradFn that wraps any loss whose model accepts a
perturbation of its input: `embed_delta` on the word embeddings of a text model, the rows of the node features a
graph model reads for the batch (`HeteroGCN(..., input_delta=...)`, passed through the loss's `embed_delta`).

    loss = L(x) + L(x + r),   r = ε · g / ‖g‖₂,   g = ∇ₓ L(x)  (no gradient through r)

One step is two forwards and two backwards: g comes out of the clean backward pass itself (the gradient with
respect to a zero perturbation), so the only extra work is the adversarial forward and backward.

norm="example" (default): ‖g‖ per example (a text over its tokens × dimensions; a graph input row over its
features). norm="table" (text only): the official code's variant: per-position gradients are scatter-added into
embedding-table rows, the table gradient is normalised as a whole, and each position takes its token's row.
control=True: the same with a Gaussian direction instead of g (the random-perturbation control of the paper).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from xlgraph.objectives.classification import GradFn, LossFn, classification_loss

NORMS = ("example", "table")


def input_space(model, batch: dict) -> tuple[jax.Array, jax.Array, int | None]:
    """(a zero perturbation of the model's input for this batch, a mask of its real entries, the vocabulary size
    of a text model or None): token embeddings (B, L, H) of a text model; for a graph model, the input rows it
    reads for the batch (`model.input_shape`)."""
    if "input_ids" in batch:
        table = model.embedding_table
        zeros = jnp.zeros((*batch["input_ids"].shape, table.shape[-1]), jnp.float32)
        real = batch["attention_mask"][..., None].astype(jnp.float32) * batch["weight"][:, None, None]
        return zeros, real, table.shape[0]
    from xlgraph.graph.hetero import Block

    block = Block(batch["sources"], batch["block"]) if "block" in batch else None
    zeros = jnp.zeros(model.input_shape(batch["x"], block), jnp.float32)
    return zeros, jnp.ones_like(zeros), None


def perturbation(g: jax.Array, input_ids: jax.Array | None, epsilon: float, norm: str,
                 vocab_size: int | None) -> jax.Array:
    """r = ε·g/‖g‖ for g with the examples (or input rows) first, normalised per example or over the scattered
    table (text: g (B, L, H) and its `input_ids`)."""
    g = g.astype(jnp.float32)
    if norm == "example":
        size = jnp.sqrt(jnp.sum(jnp.square(g), axis=tuple(range(1, g.ndim)), keepdims=True))
        return epsilon * g / jnp.maximum(size, 1e-12)
    if norm == "table":
        table = jnp.zeros((vocab_size, g.shape[-1]), jnp.float32).at[input_ids].add(g)
        table = epsilon * table / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(table))), 1e-12)
        return table[input_ids]
    raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")


def fgsm(loss_fn: LossFn = classification_loss, *, epsilon: float = 1.0, norm: str = "example",
         control: bool = False) -> GradFn:
    """The GradFn of clean + adversarial loss (pass it to `make_train_step(..., grad_fn=...)`)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")

    def grad_fn(graphdef, params, batch, key):
        zeros, real, vocab = input_space(nnx.merge(graphdef, params), batch)
        if norm == "table" and vocab is None:
            raise ValueError("norm='table' perturbs embedding-table rows: a text model's; use norm='example'")
        k_clean, k_adv, k_noise = jax.random.split(key, 3)

        def loss_at(params, delta, k):
            return loss_fn(nnx.merge(graphdef, params), batch, nnx.Rngs(dropout=k), embed_delta=delta)

        if control:
            (clean, logits), grads = jax.value_and_grad(loss_at, has_aux=True)(params, zeros, k_clean)
            direction = jax.random.normal(k_noise, zeros.shape) * real
        else:
            (clean, logits), (grads, direction) = jax.value_and_grad(loss_at, argnums=(0, 1), has_aux=True)(
                params, zeros, k_clean)
        r = jax.lax.stop_gradient(perturbation(direction, batch.get("input_ids"), epsilon, norm, vocab))
        (adv, _), adv_grads = jax.value_and_grad(loss_at, has_aux=True)(params, r, k_adv)
        return clean + adv, logits, jax.tree.map(jnp.add, grads, adv_grads)

    return grad_fn
