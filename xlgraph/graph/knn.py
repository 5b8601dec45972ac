"""Similarity edges: every row's top-k most cosine-similar other rows, computed blockwise on the device.

Exact (default): one jitted function scores a fixed-size block of query rows against all rows, so memory is
O(block × N), not O(N²); the last block is padded to the same size, so one compilation serves every block.
That is O(N² · d) work — 61 TFLOP for 200k rows of 768 — so `method="ivf"` offers the usual approximation:
spherical k-means into about √N clusters, and each cluster's rows search only the rows of their `probes`
nearest clusters (exactly, within those). Self is excluded by index, so an exact duplicate of a row is still
its neighbour. Zero rows have cosine 0 with everything (no NaN).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from xlgraph.errors import XlgraphError


@functools.partial(jax.jit, static_argnames=("k", "block"))
def _block_top_k(queries: jax.Array, keys: jax.Array, start: jax.Array, *, k: int, block: int) -> jax.Array:
    """Indices (block, k) of the best keys for query rows start..start+block-1, each row's own index masked."""
    q = jax.lax.dynamic_slice_in_dim(queries, start, block)
    # full float32 precision: TF32 matmuls on GPUs would reorder near-ties
    scores = jnp.matmul(q, keys.T, precision=jax.lax.Precision.HIGHEST)
    rows = start + jnp.arange(block)
    scores = jnp.where(jnp.arange(keys.shape[0])[None, :] == rows[:, None], -jnp.inf, scores)
    return jax.lax.top_k(scores, k)[1]


SCORE_BYTES = 512 * 2**20  # at most this much memory for one block's (block × N) float32 scores


def knn_edges(features: np.ndarray | jax.Array, k: int = 3, *, block: int = 4096, score_bytes: int = SCORE_BYTES,
              method: str = "exact", clusters: int | None = None, probes: int = 8,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Edges (senders, receivers), int32: each row i → each of its k most cosine-similar other rows.

    Row i's edges are at positions i*k..i*k+k-1, best first. Symmetrising is left to `hetero.build`. Query
    blocks hold at most `block` rows and `score_bytes` of scores (200k rows: 671-row blocks). `method="ivf"`:
    approximate, see the module docstring (`clusters` default round(√N), `probes` clusters searched)."""
    x = jnp.asarray(features, jnp.float32)
    if x.ndim != 2:
        raise XlgraphError(f"kNN features must be a (rows, dim) matrix, got shape {x.shape}")
    n = x.shape[0]
    if not 1 <= k < n:
        raise XlgraphError(f"k={k} nearest other rows needs at least k + 1 rows and k ≥ 1; got {n} rows")
    if block < 1:
        raise XlgraphError(f"block={block}: must be at least 1")
    if not bool(jnp.isfinite(x).all()):
        raise XlgraphError("kNN features contain NaN or inf")
    x = x / jnp.maximum(jnp.linalg.norm(x, axis=1, keepdims=True), jnp.finfo(jnp.float32).tiny)
    if method == "ivf":
        return _ivf(x, k, clusters or max(1, round(n ** 0.5)), probes, seed, block)
    if method != "exact":
        raise XlgraphError(f"kNN method must be 'exact' or 'ivf', not {method!r}")
    block = max(1, min(block, n, score_bytes // (4 * n)))
    blocks = -(-n // block)
    queries = jnp.pad(x, ((0, blocks * block - n), (0, 0)))
    top = [_block_top_k(queries, x, np.int32(b * block), k=k, block=block) for b in range(blocks)]
    receivers = np.concatenate(jax.device_get(top))[:n].reshape(-1).astype(np.int32)
    return np.repeat(np.arange(n, dtype=np.int32), k), receivers


@functools.partial(jax.jit, static_argnames=("block",))
def _assign(x: jax.Array, centroids: jax.Array, *, block: int) -> jax.Array:
    """Nearest centroid (cosine) of every row, `block` rows at a time."""
    n = x.shape[0]
    padded = jnp.pad(x, ((0, -n % block), (0, 0))).reshape(-1, block, x.shape[1])
    best = jax.lax.map(lambda b: jnp.argmax(jnp.matmul(b, centroids.T, precision=jax.lax.Precision.HIGHEST), 1),
                       padded)
    return best.reshape(-1)[:n]


@functools.partial(jax.jit, static_argnames=("k",))
def _candidates_top_k(x, queries, candidates, valid, *, k):
    """Best k of `candidates` (indices into x; invalid ones masked) for each query row index."""
    scores = jnp.matmul(x[queries], x[candidates].T, precision=jax.lax.Precision.HIGHEST)
    scores = jnp.where(valid[None, :] & (candidates[None, :] != queries[:, None]), scores, -jnp.inf)
    return candidates[jax.lax.top_k(scores, k)[1]]


def _bucket(size: int, least: int) -> int:
    return max(least, 1 << (size - 1).bit_length())


def _ivf(x: jax.Array, k: int, clusters: int, probes: int, seed: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    clusters = min(clusters, n)
    if probes < 1:
        raise XlgraphError(f"probes={probes}: must be at least 1")
    rng = np.random.default_rng(seed)
    sample = x[np.sort(rng.choice(n, min(n, 64 * clusters), replace=False))]
    centroids = sample[np.sort(rng.choice(len(sample), clusters, replace=False))]
    block = min(block, 1024)
    for _ in range(8):  # spherical k-means on a sample; an empty cluster keeps its centroid
        assign = _assign(sample, centroids, block=block)
        sums = jax.ops.segment_sum(sample, assign, clusters)
        norms = jnp.linalg.norm(sums, axis=1, keepdims=True)
        centroids = jnp.where(norms > 0, sums / jnp.maximum(norms, 1e-30), centroids)
    assign = np.asarray(_assign(x, centroids, block=block))
    order = np.argsort(assign, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=clusters))])
    nearest = np.argsort(-np.asarray(centroids @ centroids.T), axis=1, kind="stable")  # itself first
    receivers = np.zeros((n, k), np.int32)
    for c in range(clusters):
        queries = order[bounds[c]:bounds[c + 1]]
        if not len(queries):
            continue
        probe, size = [], 0
        for p in nearest[c]:  # at least `probes` clusters, and enough rows for k neighbours of every query
            if len(probe) >= probes and size > k:
                break
            probe.append(p)
            size += bounds[p + 1] - bounds[p]
        cand = np.concatenate([order[bounds[p]:bounds[p + 1]] for p in probe])
        q_pad, c_pad = _bucket(len(queries), 64), _bucket(len(cand), 256)
        valid = np.arange(c_pad) < len(cand)
        top = _candidates_top_k(x, np.pad(queries, (0, q_pad - len(queries))).astype(np.int32),
                                np.pad(cand, (0, c_pad - len(cand))).astype(np.int32), valid, k=k)
        receivers[queries] = np.asarray(top)[: len(queries)]
    return np.repeat(np.arange(n, dtype=np.int32), k), receivers.reshape(-1)
