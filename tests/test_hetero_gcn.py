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


def _graph_and_inputs(dim=8, n=N):
    from xlgraph.graph import hetero

    rng = np.random.default_rng(5)
    graph = hetero.build(n, {r: (rng.integers(0, n - 2, m), rng.integers(0, n - 2, m))  # n-2, n-1 isolated
                             for r, m in (("a", 25), ("b", 9), ("c", 0))})
    edges = {r: tuple(map(jnp.asarray, e)) for r, e in graph.edges.items()}
    return graph, edges, jax.random.normal(jax.random.key(0), (n, dim))


NODES = np.array([0, 3, 3, N - 1, 7])  # a repeat and an isolated node


def test_fast_paths_equal_full_graph_values_and_gradients():
    """Last layer on chosen rows only and a precomputed first-layer aggregation give the full-graph logits and
    gradients — dropout on, same key (the masks are drawn for the same shapes in the same order)."""
    graph, edges, x = _graph_and_inputs()
    model = HeteroGCN(graph.relations, (8, 6, 5), num_classes=3, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    pre = model.aggregate_inputs(x, edges)
    assert pre.shape == (N, 3, 8)

    def full(p):  # every row through every layer, then the chosen rows
        m, rngs = nnx.merge(graphdef, p), nnx.Rngs(dropout=7)
        h = x
        for i, layer in enumerate(m.layers):
            h = layer(h, edges)
            if i == 0:
                h = m.dropout(jax.nn.leaky_relu(h, 0.01), rngs=rngs)
        return m.head(m.dropout(h[NODES], rngs=rngs))

    variants = {
        "rows": lambda p: nnx.merge(graphdef, p)(x, edges, NODES, rngs=nnx.Rngs(dropout=7)),
        "precomputed": lambda p: nnx.merge(graphdef, p)(pre, edges, NODES, rngs=nnx.Rngs(dropout=7),
                                                        precomputed=True),
    }
    want, want_grad = jax.value_and_grad(lambda p: jnp.sum(jnp.sin(full(p))))(params)
    for name, f in variants.items():
        got, grad = jax.value_and_grad(lambda p: jnp.sum(jnp.sin(f(p))))(params)
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=name)
        for g, w in zip(jax.tree.leaves(grad), jax.tree.leaves(want_grad)):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("dims, precomputed", [((8, 6, 5), True), ((8, 6, 5), False), ((8, 5), False),
                                               ((8, 7, 6, 5), True)])
def test_block_equals_full_graph(dims, precomputed):
    """With a block the last layer aggregates only the edges into the batch and the layer before computes only
    the block's source rows: same logits and gradients as the full graph (no dropout: with a block the masks
    are drawn for fewer rows)."""
    from xlgraph.graph import hetero

    n = 60  # sparse enough that the block's sources are not simply 0, 1, 2, ...
    graph, edges, x = _graph_and_inputs(n=n)
    nodes = np.array([0, 3, 3, n - 1, 7, 41])
    model = HeteroGCN(graph.relations, dims, num_classes=3, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    inputs = model.aggregate_inputs(x, edges) if precomputed else x
    budget = hetero.block_budget(graph, np.arange(n), len(nodes))
    block = hetero.block(graph, nodes, budget)
    assert len(block.sources) == sum(budget.values())

    def loss(p, **kw):
        return jnp.sum(jnp.sin(nnx.merge(graphdef, p)(x, edges, nodes, **kw)))

    want, want_grad = jax.value_and_grad(loss)(params)
    got, grad = jax.value_and_grad(lambda p: jnp.sum(jnp.sin(nnx.merge(graphdef, p)(
        inputs, edges, nodes, block=block, precomputed=precomputed))))(params)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for g, w in zip(jax.tree.leaves(grad), jax.tree.leaves(want_grad)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_block_edges_and_budget():
    from xlgraph.graph import hetero

    graph = hetero.build(5, {"a": (np.array([0, 0, 1, 2]), np.array([1, 2, 2, 3]))})
    deg = hetero.in_degrees(graph)["a"]
    assert deg.tolist() == [2, 2, 3, 1, 0]
    assert hetero.block_budget(graph, np.arange(5), 2) == {"a": 5}
    assert hetero.block_budget(graph, np.array([3, 4]), 2) == {"a": 1}
    b = hetero.block(graph, np.array([2, 4]), {"a": 6})
    senders, receivers, weights = map(np.asarray, b.edges["a"])
    real = weights > 0
    assert b.sources[:3].tolist() == [0, 1, 3] and len(b.sources) == 6
    assert sorted(b.sources[senders[real]].tolist()) == [0, 1, 3] and set(receivers[real].tolist()) == {0}
    assert (receivers[~real] == 2).all() and len(senders) == 6  # padding: dropped receiver 2 = len(nodes)
    with pytest.raises(Exception, match="budget"):
        hetero.block(graph, np.array([2, 0]), {"a": 4})


def test_jraph_graphs_tuples_give_the_same_model_output():
    import jraph

    from xlgraph.graph import hetero

    graph, edges, x = _graph_and_inputs()
    tuples = hetero.graphs_tuples(graph)
    assert all(isinstance(t, jraph.GraphsTuple) for t in tuples.values()) and list(tuples) == list(graph.relations)
    assert int(tuples["a"].n_node[0]) == N + 1 and int(tuples["a"].n_edge[0]) == len(graph.edges["a"].senders)
    model = HeteroGCN(graph.relations, (8, 6, 5), num_classes=3, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(model(x, tuples, NODES), model(x, edges, NODES), rtol=1e-6)


def test_input_delta_perturbs_the_rows_the_model_reads():
    """With a block and a precomputed first layer, `input_delta` covers the block's source rows: its gradient is
    the full input's gradient at those rows (zero on the padding rows); without a block it covers every node."""
    from xlgraph.graph import hetero

    n = 60
    graph, edges, x = _graph_and_inputs(n=n)
    nodes = np.array([0, 3, 41, 7])
    model = HeteroGCN(graph.relations, (8, 6, 5), num_classes=3, rngs=nnx.Rngs(0))
    inputs = model.aggregate_inputs(x, edges)
    block = hetero.block(graph, nodes, hetero.block_budget(graph, np.arange(n), len(nodes)))
    shape = model.input_shape(inputs, block, precomputed=True)
    assert shape == (len(block.sources), *inputs.shape[1:]) and model.input_shape(x) == x.shape

    def loss(full, delta):
        return jnp.sum(jnp.sin(model(full, edges, nodes, block=block, precomputed=True, input_delta=delta)))

    g_full, g_delta = jax.grad(loss, argnums=(0, 1))(inputs, jnp.zeros(shape))
    used = np.unique(np.concatenate([np.asarray(e.senders)[np.asarray(e.weights) > 0] for e in block.edges.values()]))
    k = len(used)
    assert used.tolist() == list(range(k)) and 0 < k < len(block.sources)  # real sources first, then padding
    np.testing.assert_allclose(g_delta[:k], g_full[block.sources[:k]], rtol=1e-5, atol=1e-7)
    assert np.all(np.asarray(g_delta[k:]) == 0)
    moved = model(inputs, edges, nodes, block=block, precomputed=True, input_delta=jnp.ones(shape))
    assert not np.allclose(moved, model(inputs, edges, nodes, block=block, precomputed=True))
    np.testing.assert_allclose(model(x, edges, nodes, input_delta=jnp.ones_like(x)), model(x + 1, edges, nodes),
                               rtol=1e-6)


def test_gcn_trains_through_the_shared_step_with_constant_graph_arguments():
    """`make_train_step(..., consts=...)`: the features and the graph (jraph GraphsTuples) are arguments merged into
    each batch inside the step, never donated (still usable after the steps): the same updates as a step whose
    batches carry them."""
    import functools

    import optax

    from xlgraph.graph import hetero
    from xlgraph.objectives.classification import node_classification_loss
    from xlgraph.train.steps import init_state, make_train_step

    graph, _, x = _graph_and_inputs()
    model = HeteroGCN(graph.relations, (8, 6, 5), num_classes=3, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    tx = optax.adamw(1e-2)
    consts = {"x": model.aggregate_inputs(x, hetero.graphs_tuples(graph)), "edges": hetero.graphs_tuples(graph)}
    loss = functools.partial(node_classification_loss, precomputed=True)
    budget = hetero.block_budget(graph, np.arange(N), 3)
    batches = []
    for nodes in ([0, 3, 7], [1, 2, 5]):
        block = hetero.block(graph, np.array(nodes), budget)
        batches.append({"nodes": np.array(nodes, np.int32), "labels": np.array([0, 1, 2], np.int32),
                        "weight": np.ones(3, np.float32), "sources": block.sources, "block": block.edges})
    with_consts = make_train_step(graphdef, tx, loss, consts=consts)
    carried = make_train_step(graphdef, tx, loss)
    a = init_state(jax.tree.map(jnp.copy, params), tx)
    b = init_state(jax.tree.map(jnp.copy, params), tx)
    for i, batch in enumerate(batches):
        a, ma = with_consts(a, batch, jax.random.key(i))
        b, mb = carried(b, {**batch, **consts}, jax.random.key(i))
        assert float(ma["loss"]) == pytest.approx(float(mb["loss"]), rel=1e-6)
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-7)
    assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(consts) if isinstance(leaf, jax.Array))
    assert int(a.step) == 2 and not np.allclose(jax.tree.leaves(a.params)[0], jax.tree.leaves(params)[0])


@pytest.mark.parametrize("control", [False, True])
def test_fgsm_perturbs_the_gcn_input_rows(control):
    """objectives.adversarial.fgsm around the node loss: the adversarial half is taken at the batch's input rows
    moved by ε along the gradient (a larger loss than the clean half), or along a random direction (control)."""
    import functools

    from xlgraph.graph import hetero
    from xlgraph.objectives.adversarial import fgsm
    from xlgraph.objectives.classification import node_classification_loss, value_and_grad

    graph, _, x = _graph_and_inputs()
    model = HeteroGCN(graph.relations, (8, 6, 5), num_classes=3, dropout=0.0, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    edges = hetero.graphs_tuples(graph)
    block = hetero.block(graph, np.array([0, 3, 7]), hetero.block_budget(graph, np.arange(N), 3))
    batch = {"x": model.aggregate_inputs(x, edges), "edges": edges, "nodes": np.array([0, 3, 7], np.int32),
             "labels": np.array([0, 1, 2], np.int32), "weight": np.ones(3, np.float32), "sources": block.sources,
             "block": block.edges}
    loss = functools.partial(node_classification_loss, precomputed=True)
    clean, _, clean_grads = value_and_grad(loss)(graphdef, params, batch, jax.random.key(0))
    total, _, grads = fgsm(loss, epsilon=2.0, control=control)(graphdef, params, batch, jax.random.key(0))
    adversarial = float(total) - float(clean)
    assert adversarial != pytest.approx(float(clean), rel=1e-4)  # the second half saw moved inputs
    if not control:
        assert adversarial > float(clean)  # along the gradient the loss grows
    assert not np.allclose(jax.tree.leaves(grads)[0], 2 * np.asarray(jax.tree.leaves(clean_grads)[0]))
    with pytest.raises(ValueError, match="table"):
        fgsm(loss, norm="table")(graphdef, params, batch, jax.random.key(0))
