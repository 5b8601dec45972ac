"""Losses: the paper's class weights by hand, weighted cross-entropy against numpy, the cosine alignment loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlgraph.objectives.alignment import cosine_alignment_loss
from xlgraph.objectives.classification import class_weights, cross_entropy


def test_class_weights_follow_the_formula_with_empty_classes_counted_as_one():
    w = class_weights([0, 0, 0, 1, 2, 2], 4)  # counts 3, 1, 2, 0 → max(·, 1): 3, 1, 2, 1, summing to 7
    np.testing.assert_allclose(w, [np.log(7 / 3) + 1, np.log(7) + 1, np.log(7 / 2) + 1, np.log(7) + 1], rtol=1e-6)
    assert w.dtype == np.float32 and w[1] > w[2] > w[0]  # the rarer, the heavier
    np.testing.assert_allclose(class_weights(np.arange(5).repeat(4), 5), np.log(5) + 1, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        class_weights([0, 3], 3)


def numpy_cross_entropy(logits, labels, weight, class_weight=None):
    logp = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    w = weight * (1.0 if class_weight is None else class_weight[labels])
    return np.sum(-logp[np.arange(len(labels)), labels] * w) / np.sum(w)


def test_weighted_cross_entropy_is_the_weighted_mean_over_real_rows():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 4)).astype(np.float32) * 3
    labels = np.array([0, 1, 1, 3, 2, 1, 0])
    weight = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)  # two padding rows
    cw = class_weights(labels[:5], 4)
    loss = jax.jit(cross_entropy)(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weight), jnp.asarray(cw))
    assert float(loss) == pytest.approx(numpy_cross_entropy(logits, labels, weight, cw), rel=1e-5)
    plain = cross_entropy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weight))
    assert float(plain) == pytest.approx(numpy_cross_entropy(logits, labels, weight), rel=1e-5)
    assert float(plain) != pytest.approx(float(loss), rel=1e-3)
    # the padding rows' logits do not matter
    logits[5:] = 1e3
    again = cross_entropy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weight), jnp.asarray(cw))
    assert float(again) == pytest.approx(float(loss), rel=1e-6)


def test_cosine_alignment_loss_values_and_padding():
    a = jnp.asarray([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 0.0]])
    one = jnp.ones(1)
    assert float(cosine_alignment_loss(a[:1], 5 * a[:1], one)) == pytest.approx(0.0, abs=1e-6)  # same direction
    assert float(cosine_alignment_loss(a[1:2], jnp.asarray([[0.0, 2.0, 0.0]]), one)) == pytest.approx(1.0)
    assert float(cosine_alignment_loss(a[2:3], -0.5 * a[2:3], one)) == pytest.approx(2.0)
    b = jnp.asarray([[2.0, 4.0, 0.0], [0.0, 1.0, 0.0], [0.0, -3.0, -1.0], [0.0, 0.0, 0.0]])
    weight = jnp.asarray([1.0, 1.0, 1.0, 0.0])  # the last pair is padding, all zeros
    assert float(cosine_alignment_loss(a, b, weight)) == pytest.approx((0 + 1 + 2) / 3, rel=1e-6)
    grads = jax.grad(lambda a, b: cosine_alignment_loss(a, b, weight), argnums=(0, 1))(a, b)
    assert all(np.all(np.isfinite(g)) for g in grads) and np.all(np.asarray(grads[0][3]) == 0)
    ref = np.mean([1 - np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y)
                   for x, y in zip(np.random.default_rng(1).normal(size=(5, 8)),
                                   np.random.default_rng(2).normal(size=(5, 8)))])
    got = cosine_alignment_loss(jnp.asarray(np.random.default_rng(1).normal(size=(5, 8))),
                                jnp.asarray(np.random.default_rng(2).normal(size=(5, 8))), jnp.ones(5))
    assert float(got) == pytest.approx(ref, rel=1e-5)
