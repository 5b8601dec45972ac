"""Graph construction against dense numpy references: symmetrise + dedup, per-relation normalisation with
zero in-degree nodes, padding that changes nothing, budgets, save/load; blockwise kNN against brute force
with one compilation; memory estimates."""

import jax.numpy as jnp
import numpy as np
import pytest

from xlgraph.errors import XlgraphError
from xlgraph.graph import hetero, knn
from xlgraph.models.hetero_gcn import AGGREGATIONS, aggregate

N = 10


def random_edges():
    """Three relations; node N-1 has no edges anywhere, node N-2 only sends in the directed relation,
    and every relation gets duplicated input edges and a self-loop."""
    rng = np.random.default_rng(0)
    out = {}
    for name, m in (("doc-word", 25), ("sim", 12), ("directed", 15)):
        s, r = rng.integers(0, N - 2, m), rng.integers(0, N - 2, m)
        s, r = np.r_[s, s[:4], 3], np.r_[r, r[:4], 3]
        out[name] = (s, r)
    s, r = out["directed"]
    out["directed"] = (np.r_[s, N - 2, N - 2], np.r_[r, 0, 1])
    out["empty"] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return out


def dense_reference(s, r, symmetric):
    a = np.zeros((N, N))
    a[r, s] = 1  # A[receiver, sender]; assignment, not addition: duplicates count once
    if symmetric:
        a = np.maximum(a, a.T)
    d_in, d_out = np.maximum(a.sum(1), 1), np.maximum(a.sum(0), 1)
    return a / np.sqrt(d_in)[:, None] / np.sqrt(d_out)[None, :]


def dense_from(graph, name):
    s, r, w = graph.edges[name]
    k = graph.num_edges[name]
    a = np.zeros((N, N))
    np.add.at(a, (r[:k], s[:k]), w[:k])
    return a


SYMMETRIC = {"doc-word": True, "sim": True, "directed": False, "empty": True}


def test_normalisation_matches_dense_reference_per_relation():
    edges = random_edges()
    graph = hetero.build(N, edges, symmetric=SYMMETRIC)
    x = np.random.default_rng(1).standard_normal((N, 3)).astype(np.float32)
    assert graph.relations == tuple(edges)
    for name, (s, r) in edges.items():
        want = dense_reference(s, r, SYMMETRIC[name])
        np.testing.assert_allclose(dense_from(graph, name), want, rtol=1e-6, atol=1e-7)
        y = np.asarray(hetero.propagate(graph, name, jnp.asarray(x)))
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y, want @ x, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y[N - 1], 0)  # no edges: nothing arrives, and no NaN
    assert graph.num_edges["empty"] == 0 and graph.edges["empty"].senders.shape == (hetero.PAD_MULTIPLE,)


def test_symmetrise_and_dedup_give_exact_edge_sets():
    s, r = np.array([0, 1, 0, 2, 1, 1]), np.array([1, 0, 1, 2, 3, 3])
    graph = hetero.build(4, {"sym": (s, r), "dir": (s, r)}, symmetric={"dir": False})
    for name, want in (("sym", [(0, 1), (1, 0), (1, 3), (2, 2), (3, 1)]), ("dir", [(0, 1), (1, 0), (1, 3), (2, 2)])):
        k = graph.num_edges[name]
        rel = graph.edges[name]
        got = list(zip(rel.senders[:k].tolist(), rel.receivers[:k].tolist()))
        assert sorted(got) == want and k == len(want)  # each edge once; the self-loop kept
        assert np.all(np.diff(rel.receivers) >= 0)  # receiver-sorted, padding included
        assert rel.senders.dtype == rel.receivers.dtype == np.int32 and rel.weights.dtype == np.float32
    # 1 → 3 given twice, reversed by symmetrising: deg_out(1) = 2 (→0, →3), deg_in(3) = 1
    sym = graph.edges["sym"]
    i = list(zip(sym.senders.tolist(), sym.receivers.tolist())).index((1, 3))
    assert sym.weights[i] == pytest.approx(1 / np.sqrt(2))


def test_padding_has_no_effect():
    edges = random_edges()
    exact = hetero.build(N, edges, symmetric=SYMMETRIC, budget=None)
    tight = hetero.build(N, edges, symmetric=SYMMETRIC, budget={k: max(v, 1) for k, v in exact.num_edges.items()})
    roomy = hetero.build(N, edges, symmetric=SYMMETRIC, budget=dict.fromkeys(edges, 3000))
    x = jnp.asarray(np.random.default_rng(2).standard_normal((N, 4)), jnp.float32)
    for name in edges:
        k = exact.num_edges[name]
        assert exact.edges[name].senders.shape == (hetero.default_budget(k),) == (1024,)
        pad = roomy.edges[name]
        assert (pad.senders[k:] == N).all() and (pad.receivers[k:] == N).all() and (pad.weights[k:] == 0).all()
        want = hetero.propagate(tight, name, x)
        np.testing.assert_array_equal(hetero.propagate(roomy, name, x), want)
        # the GCN's kernels: with the dummy row (the contract) and without it (out-of-range padding is dropped)
        x1 = jnp.concatenate([x, jnp.zeros((1, 4))])
        for how in AGGREGATIONS:
            np.testing.assert_allclose(aggregate(x1, roomy.edges[name], N + 1, how)[:N], want, atol=1e-6)
            np.testing.assert_allclose(aggregate(x, roomy.edges[name], N, how), want, atol=1e-6)


def test_budget_overflow_and_bad_input_raise():
    s, r = np.array([0, 1, 2]), np.array([1, 2, 3])
    with pytest.raises(XlgraphError, match=r"relation 'a': 6 edges .* budget of 5"):
        hetero.build(4, {"a": (s, r)}, budget={"a": 5})
    assert hetero.build(4, {"a": (s, r)}, budget={"a": 6}).edges["a"].senders.shape == (6,)
    with pytest.raises(XlgraphError, match="budget names relations .*'b'"):
        hetero.build(4, {"a": (s, r)}, budget={"b": 5})
    with pytest.raises(XlgraphError, match="relation 'a': node index 4 outside 0..3"):
        hetero.build(4, {"a": (s, r + 1)})
    with pytest.raises(XlgraphError, match="integers"):
        hetero.build(4, {"a": (s.astype(float), r)})


def test_save_load_round_trip(tmp_path):
    graph = hetero.build(N, {**random_edges(), "doc→word:NOUN": (np.array([1]), np.array([2]))}, symmetric=True)
    path = tmp_path / "graph"  # no suffix: saved at exactly this path
    hetero.save(graph, path)
    back = hetero.load(path)
    assert back.num_nodes == graph.num_nodes and back.relations == graph.relations
    assert back.num_edges == graph.num_edges
    for name in graph.relations:
        for a, b in zip(graph.edges[name], back.edges[name]):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    (tmp_path / "junk").write_text("not a graph")
    with pytest.raises(XlgraphError, match="junk: not a graph"):
        hetero.load(tmp_path / "junk")


def brute_force_similarity(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    return sim


def test_knn_matches_brute_force():
    rng = np.random.default_rng(3)
    n, k = 53, 3  # 4 blocks of 16, the last padded
    x = rng.standard_normal((n, 8))
    x[20] = x[5]
    x[31] = x[40] = x[30]
    x[7] = 0
    senders, receivers = knn.knn_edges(x.astype(np.float32), k, block=16)
    assert senders.dtype == receivers.dtype == np.int32 and senders.shape == (n * k,)
    np.testing.assert_array_equal(senders, np.repeat(np.arange(n), k))
    sim = brute_force_similarity(x)
    want = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    got = receivers.reshape(n, k)
    for i in range(n):
        assert i not in got[i] and len(set(got[i])) == k
        np.testing.assert_allclose(sim[i, got[i]], sim[i, want[i]], atol=1e-5)  # ties may pick other rows
        top = np.sort(sim[i])[::-1]
        if top[k - 1] - top[k] > 1e-4:  # no tie at the cut: the exact set
            assert set(got[i]) == set(want[i])
    assert got[5][0] == 20 and got[20][0] == 5  # a duplicate is a neighbour; self is excluded by index
    assert set(got[30][:2]) == {31, 40}
    np.testing.assert_array_equal(sim[7, got[7]], 0)  # a zero row: cosine 0, no NaN
    # a score-memory cap of 10 rows × 53 × 4 bytes gives 10-row blocks: the same edges
    capped = knn.knn_edges(x.astype(np.float32), k, block=16, score_bytes=10 * n * 4)[1]
    np.testing.assert_array_equal(capped, receivers)


def test_knn_compiles_once_for_all_blocks():
    x = np.random.default_rng(4).standard_normal((37, 5)).astype(np.float32)  # a shape no other test uses
    before = knn._block_top_k._cache_size()
    knn.knn_edges(x, 2, block=8)  # 5 blocks
    knn.knn_edges(x + 1, 2, block=8)
    assert knn._block_top_k._cache_size() - before == 1
    with pytest.raises(XlgraphError, match="k=3 .* got 3 rows"):
        knn.knn_edges(x[:3], 3)


def test_estimate_and_check_fits():
    estimate = hetero.estimate_bytes(1000, {"a": 5000, "b": 0}, 768)
    assert estimate == (5120 + 1024) * hetero.EDGE_BYTES + 1001 * 768 * 4
    hetero.check_fits(estimate, available=estimate)
    hetero.check_fits(1)  # the machine's own available memory
    with pytest.raises(XlgraphError, match=r"about 3\.0 MiB but only 1\.0 KiB"):
        hetero.check_fits(estimate, available=1024)


def test_ivf_knn_approximates_exact_and_equals_it_when_probing_everything():
    rng = np.random.default_rng(4)
    topics = rng.standard_normal((30, 32))
    x = (topics[rng.integers(0, 30, 3000)] + 0.6 * rng.standard_normal((3000, 32))).astype(np.float32)
    k = 3
    exact = knn.knn_edges(x, k)[1].reshape(-1, k)
    senders, approx = knn.knn_edges(x, k, method="ivf", probes=6)
    approx = approx.reshape(-1, k)
    np.testing.assert_array_equal(senders, np.repeat(np.arange(3000), k))
    assert all(i not in approx[i] and len(set(approx[i])) == k for i in range(3000))
    recall = np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact)])
    assert recall > 0.95, recall
    sim = brute_force_similarity(x)
    everything = knn.knn_edges(x, k, method="ivf", clusters=20, probes=20)[1].reshape(-1, k)
    np.testing.assert_allclose(np.take_along_axis(sim, everything, 1), np.take_along_axis(sim, exact, 1), atol=1e-5)
    with pytest.raises(XlgraphError, match="method"):
        knn.knn_edges(x, k, method="lsh")
