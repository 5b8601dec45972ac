"""Cross-entropy over a fixed-shape batch whose padding rows have weight 0, and the class weights of Mhamdi et al.
for imbalanced training labels."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax


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
