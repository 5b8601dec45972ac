"""The relational GCN layer against a dense per-relation reference (zero in-degree nodes, padding edges),
the three aggregation kernels agreeing, and the model's shapes and dropout switch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xlgraph.models.hetero_gcn import AGGREGATIONS, HeteroGCN, RelGraphConv, aggregate

N = 12


def random_edges(seed, n_edges, pad):
    rng = np.random.default_rng(seed)
    s, t = rng.integers(0, N - 2, n_edges), rng.integers(0, N - 2, n_edges)  # nodes N-2, N-1: no edges at all
    w = rng.uniform(0.1, 1.0, n_edges)
    order = np.argsort(t, kind="stable")
    s, t, w = s[order], t[order], w[order]
    # padding edges: weight 0 (at the last receiver, keeping the order sorted)
    s = np.concatenate([s, np.zeros(pad, int)])
    t = np.concatenate([t, np.full(pad, N - 1)])
    w = np.concatenate([w, np.zeros(pad)])
    return s.astype(np.int32), t.astype(np.int32), w.astype(np.float32)


def dense(edges):
    s, t, w = edges
    a = np.zeros((N, N))
    np.add.at(a, (t, s), w)  # duplicate edges add up, as a sum over messages does
    return a


@pytest.mark.parametrize("how", AGGREGATIONS)
@pytest.mark.parametrize("dims", [(6, 4), (4, 6)])  # project-then-aggregate and aggregate-then-project
def test_layer_matches_dense_reference(how, dims):
    edges = {"a": random_edges(0, 30, 5), "b": random_edges(1, 7, 3), "c": random_edges(2, 0, 4)}
    layer = RelGraphConv(list(edges), *dims, rngs=nnx.Rngs(0), aggregation=how)
    layer.bias[...] = jax.random.normal(jax.random.key(1), layer.bias.shape)
    x = np.random.default_rng(3).standard_normal((N, dims[0])).astype(np.float32)
    out = np.asarray(layer(jnp.asarray(x), {k: tuple(map(jnp.asarray, v)) for k, v in edges.items()}))
    kernel, bias = np.asarray(layer.kernel[...]), np.asarray(layer.bias[...])
    want = sum(dense(e) @ x @ kernel[i] + bias[i] for i, e in enumerate(edges.values()))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[N - 2], bias.sum(0), rtol=1e-6)  # a node without edges gets only the biases


def test_aggregations_agree_on_values_and_gradients():
    edges = random_edges(4, 40, 8)
    h = jax.random.normal(jax.random.key(0), (N, 5))
    results = [jax.value_and_grad(lambda h: jnp.sum(jnp.sin(aggregate(h, edges, N, how))))(h) for how in AGGREGATIONS]
    for value, grad in results[1:]:
        np.testing.assert_allclose(value, results[0][0], rtol=1e-5)
        np.testing.assert_allclose(grad, results[0][1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(h, edges, N, "dense")


def test_model_logits_on_chosen_nodes_and_dropout_only_with_rngs():
    edges = {"a": random_edges(0, 30, 2), "b": random_edges(1, 20, 2)}
    model = HeteroGCN(list(edges), (8, 6, 8), num_classes=3, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (N, 8))
    nodes = jnp.array([0, 3, 5])
    eval_a, eval_b = model(x, edges, nodes), model(x, edges, nodes)
    assert eval_a.shape == (3, 3) and np.array_equal(eval_a, eval_b)
    train = model(x, edges, nodes, rngs=nnx.Rngs(dropout=1))
    assert not np.allclose(train, eval_a)
