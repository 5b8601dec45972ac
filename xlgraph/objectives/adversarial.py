"""FGSM adversarial training on input embeddings, as a GradFn that wraps any loss whose model accepts
`embed_delta` (a perturbation added to the word embeddings).

    loss = L(x) + L(x + r),   r = ε · g / ‖g‖₂,   g = ∇ₓ L(x)  (no gradient through r)

One step is two forwards and two backwards: g comes out of the clean backward pass itself (the gradient with
respect to a zero `embed_delta`), so the only extra work is the adversarial forward and backward.

norm="example" (default): ‖g‖ per example over its tokens × dimensions. norm="table": the official code's
variant: per-position gradients are scatter-added into embedding-table rows, the table gradient is normalised
as a whole, and each position takes its token's row. control=True: the same with a Gaussian direction instead
of g (the random-perturbation control of the paper).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from xlgraph.objectives.classification import GradFn, LossFn, classification_loss

NORMS = ("example", "table")


def perturbation(g: jax.Array, input_ids: jax.Array, epsilon: float, norm: str, vocab_size: int) -> jax.Array:
    """r = ε·g/‖g‖ for g of shape (B, L, H), normalised per example or over the scattered table."""
    g = g.astype(jnp.float32)
    if norm == "example":
        size = jnp.sqrt(jnp.sum(jnp.square(g), axis=(1, 2), keepdims=True))
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
        table = nnx.merge(graphdef, params).embedding_table
        zeros = jnp.zeros((*batch["input_ids"].shape, table.shape[-1]), jnp.float32)
        k_clean, k_adv, k_noise = jax.random.split(key, 3)

        def loss_at(params, delta, k):
            return loss_fn(nnx.merge(graphdef, params), batch, nnx.Rngs(dropout=k), embed_delta=delta)

        if control:
            (clean, logits), grads = jax.value_and_grad(loss_at, has_aux=True)(params, zeros, k_clean)
            real = batch["attention_mask"][..., None].astype(jnp.float32) * batch["weight"][:, None, None]
            direction = jax.random.normal(k_noise, zeros.shape) * real
        else:
            (clean, logits), (grads, direction) = jax.value_and_grad(loss_at, argnums=(0, 1), has_aux=True)(
                params, zeros, k_clean)
        r = jax.lax.stop_gradient(perturbation(direction, batch["input_ids"], epsilon, norm, table.shape[0]))
        (adv, _), adv_grads = jax.value_and_grad(loss_at, has_aux=True)(params, r, k_adv)
        return clean + adv, logits, jax.tree.map(jnp.add, grads, adv_grads)

    return grad_fn
