"""Cross-entropy over a fixed-shape batch whose padding rows have weight 0."""

from __future__ import annotations

import jax.numpy as jnp
import optax


def cross_entropy(logits, labels, weight, class_weight=None):
    """Mean over real rows; optional per-class weights (e.g. for imbalanced data)."""
    per_row = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    if class_weight is not None:
        weight = weight * class_weight[labels]
    return jnp.sum(per_row * weight) / jnp.maximum(jnp.sum(weight), 1e-9)
