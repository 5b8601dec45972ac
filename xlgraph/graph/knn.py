"""Similarity edges: every row's top-k most cosine-similar other rows, computed blockwise on the device.

One jitted function scores a fixed-size block of query rows against all rows, so memory is O(block × N),
not O(N²); the last block is padded to the same size, so one compilation serves every block. Self is
excluded by index, so an exact duplicate of a row is still its neighbour. Zero rows have cosine 0 with
everything (no NaN).
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


def knn_edges(features: np.ndarray | jax.Array, k: int = 3, *, block: int = 4096,
              score_bytes: int = SCORE_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """Edges (senders, receivers), int32: each row i → each of its k most cosine-similar other rows.

    Row i's edges are at positions i*k..i*k+k-1, best first. Symmetrising is left to `hetero.build`. Query
    blocks hold at most `block` rows and `score_bytes` of scores (200k rows: 671-row blocks)."""
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
    block = max(1, min(block, n, score_bytes // (4 * n)))
    blocks = -(-n // block)
    queries = jnp.pad(x, ((0, blocks * block - n), (0, 0)))
    top = [_block_top_k(queries, x, np.int32(b * block), k=k, block=block) for b in range(blocks)]
    receivers = np.concatenate(jax.device_get(top))[:n].reshape(-1).astype(np.int32)
    return np.repeat(np.arange(n, dtype=np.int32), k), receivers
