"""Multi-label losses over a set of gold labels per example: noise-contrastive estimation (the deep-CNN paper's
loss, after TensorFlow's candidate-sampling note it quotes) and full softmax cross-entropy as the control.

NCE. The model's score F(x, y) is trained to estimate log P(y|x), where P(y|x) = E[T(y) | x] is the expected
count of y in the gold set T, i.e. the probability that y is a gold label (sets have no duplicates). For each
example, k noise labels S are drawn i.i.d. from q (with replacement: the expected count of y in S is exactly
Q(y) = k·q(y)), and a logistic regression tells gold from noise on the input F(x, y) − log Q(y):

    loss(x) = Σ_{y∈T} softplus(−(F(x,y) − log k q(y)))  +  Σ_{s∈S} softplus(F(x,s) − log k q(s))

No normalisation over the label set is ever computed; a sampled label that happens to be gold stays a noise
sample (NCE's derivation counts it as one; TensorFlow's nce_loss keeps such accidental hits too by default).
At the optimum, exp F(x, y) = P(y|x) for any k; the expected gradient tends to that of −Σ_{y∈T} F(x,y) +
Σ_y exp F(x,y) as k grows, which is |T| times the softmax control's gradient wherever Σ_y exp F = |T|.

Softmax control: cross-entropy of softmax(F(x, ·)) against the uniform distribution over the gold labels.

Prediction rules (the paper states none; both follow from what each loss trains its scores to be): the
non-empty label set whose training target is nearest (L1) to the model's output. For NCE the target is the
indicator of T and the output exp F, so the rule is {y : F(x,y) > log ½}, or the top label when none passes.
For softmax the target is uniform over T, so the rule is the top-m labels, with m the size whose uniform
distribution is nearest to softmax(F).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

NOISE = ("frequency", "uniform")


def noise_log_probs(label_counts, kind: str = "frequency") -> np.ndarray:
    """log q over the labels: from their training counts (add-one smoothed, so no label has q = 0 and an
    infinite correction), or uniform."""
    counts = np.asarray(label_counts, np.float64)
    if kind == "uniform":
        q = np.full(len(counts), 1.0 / len(counts))
    elif kind == "frequency":
        q = (counts + 1.0) / np.sum(counts + 1.0)
    else:
        raise ValueError(f"noise must be one of {NOISE}, not {kind!r}")
    return np.log(q).astype(np.float32)


def sample_noise(key: jax.Array, log_q: jax.Array, batch: int, num_sampled: int) -> jax.Array:
    """(batch, num_sampled) label ids drawn i.i.d. from q, independently for every example."""
    return jax.random.categorical(key, log_q, shape=(batch, num_sampled))


def nce_loss(scores: jax.Array, targets: jax.Array, weight: jax.Array, key: jax.Array, *, log_q: jax.Array,
             num_sampled: int) -> jax.Array:
    """The NCE loss above, summed over each example's gold and noise labels and averaged over real rows.
    scores (B, C) = F(x, ·); targets (B, C) 0/1; weight (B,) 0 for padding rows; log_q (C,)."""
    scores = scores.astype(jnp.float32)
    log_q = jnp.asarray(log_q, jnp.float32)
    log_k = jnp.log(float(num_sampled))
    gold = jax.nn.softplus(-(scores - log_k - log_q))  # every label's loss if it were gold
    noise = sample_noise(key, log_q, scores.shape[0], num_sampled)
    noise_in = jnp.take_along_axis(scores, noise, axis=1) - log_k - log_q[noise]
    per_row = jnp.sum(targets * gold, axis=1) + jnp.sum(jax.nn.softplus(noise_in), axis=1)
    return jnp.sum(per_row * weight) / jnp.maximum(jnp.sum(weight), 1e-9)


def softmax_loss(scores: jax.Array, targets: jax.Array, weight: jax.Array) -> jax.Array:
    """Cross-entropy of softmax(scores) against the uniform distribution over each row's gold labels."""
    targets = targets.astype(jnp.float32)
    p = targets / jnp.maximum(jnp.sum(targets, axis=1, keepdims=True), 1.0)
    per_row = -jnp.sum(p * jax.nn.log_softmax(scores.astype(jnp.float32), axis=1), axis=1)
    return jnp.sum(per_row * weight) / jnp.maximum(jnp.sum(weight), 1e-9)


def predict_nce(scores: jax.Array) -> jax.Array:
    """{y : exp F(x,y) > ½} as a (B, C) bool mask; the top label alone where no label passes."""
    top = jax.nn.one_hot(jnp.argmax(scores, axis=1), scores.shape[1], dtype=bool)
    passed = scores > jnp.log(0.5)
    return jnp.where(jnp.any(passed, axis=1, keepdims=True), passed, top)


def predict_softmax(scores: jax.Array) -> jax.Array:
    """The top-m labels, m = argmin_m ‖softmax(F) − uniform over the top m‖₁, as a (B, C) bool mask."""
    p = jax.nn.softmax(scores.astype(jnp.float32), axis=1)
    order = jnp.argsort(-p, axis=1)
    ranked = jnp.take_along_axis(p, order, axis=1)  # descending
    c = p.shape[1]
    m = jnp.arange(1, c + 1, dtype=jnp.float32)
    # ‖p − u_m‖₁ = Σ_{i≤m} |p_(i) − 1/m| + Σ_{i>m} p_(i), for every m at once
    inside = jnp.arange(c)[None, :] < m[:, None]  # (m, i)
    dist = jnp.sum(jnp.where(inside[None], jnp.abs(ranked[:, None, :] - 1.0 / m[None, :, None]),
                             ranked[:, None, :]), axis=2)
    size = jnp.argmin(dist, axis=1) + 1
    rank = jnp.argsort(order, axis=1)  # each label's position in the ranking
    return rank < size[:, None]


PREDICT = {"nce": predict_nce, "softmax": predict_softmax}
