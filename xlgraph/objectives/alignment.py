"""The sentence-alignment loss of HAN + Sent-Ali (Mhamdi et al., eq. 6): parallel sentences should get the same
direction from the shared word-level encoder.

Eq. 6 is 1 − cos(S, T) between the encoded source and target sentence plus β/2·‖W‖²; here it is the mean over a
batch's real pairs of 1 − cos(a_i, b_i), so each pair counts the same whatever its norm and padding rows count
nothing. The L2 term (β = 1e-10 in the paper) is left to the optimizer's weight decay.
"""

from __future__ import annotations

import jax.numpy as jnp


def cosine_alignment_loss(a, b, weight, eps: float = 1e-8):
    """Mean over rows of 1 − cos(a_i, b_i) weighted by `weight` (B,) (0 for padding rows), for a, b (B, H).
    0 for equal directions, 1 for orthogonal, 2 for opposite; a zero vector counts as orthogonal to everything
    and has a finite gradient (padding rows are often all zeros)."""
    a, b = a.astype(jnp.float32), b.astype(jnp.float32)
    # sqrt of a clamped product, not a product of norms: the norm's gradient at a zero vector is NaN
    norms = jnp.sqrt(jnp.maximum(jnp.sum(a * a, -1) * jnp.sum(b * b, -1), eps * eps))
    cos = jnp.sum(a * b, -1) / norms
    weight = weight.astype(jnp.float32)
    return jnp.sum((1.0 - cos) * weight) / jnp.maximum(jnp.sum(weight), 1e-9)
