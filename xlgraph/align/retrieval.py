"""Cosine nearest neighbours and CSLS between two vector sets, computed blockwise on the device.

One jitted function scores a fixed-size block of query rows against all keys and keeps the best k, so memory is
O(block × keys) whatever the number of queries; the last block is padded to the same size, so one compilation
serves all blocks. CSLS (Conneau et al. 2018) discounts hubs, keys that are close to everything:
CSLS(x, y) = 2 cos(x, y) − r_T(x) − r_S(y), where r_T(x) is the mean cosine of x's k nearest keys and r_S(y) the
mean cosine of y's k nearest sources.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from xlgraph.errors import XlgraphError

HIGHEST = jax.lax.Precision.HIGHEST  # full float32: TF32 matmuls on GPUs would reorder near-ties
SCORE_BYTES = 256 * 2**20  # at most this much memory for one block's (block × keys) float32 scores


def unit_rows(x) -> jax.Array:
    """Rows scaled to length 1, float32; zero rows stay zero (cosine 0 with everything, no NaN)."""
    x = jnp.asarray(x, jnp.float32)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), jnp.finfo(jnp.float32).tiny)


@functools.partial(jax.jit, static_argnames=("k", "block"))
def _block_top_k(queries, keys, penalty, start, *, k: int, block: int):
    q = jax.lax.dynamic_slice_in_dim(queries, start, block)
    scores = jnp.matmul(q, keys.T, precision=HIGHEST) - penalty[None, :]
    return jax.lax.top_k(scores, k)


def top_k(queries, keys, k: int, *, penalty=None, block: int = 4096,
          score_bytes: int = SCORE_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices), each (queries, k), best first, of q·key − penalty[key] over all keys. Rows are used as
    given: pass unit rows for cosine."""
    q, keys = jnp.asarray(queries, jnp.float32), jnp.asarray(keys, jnp.float32)
    if q.ndim != 2 or keys.ndim != 2 or q.shape[1] != keys.shape[1]:
        raise XlgraphError(f"queries {q.shape} and keys {keys.shape} must be matrices of the same width")
    m, n = q.shape[0], keys.shape[0]
    if not 1 <= k <= n:
        raise XlgraphError(f"cannot take the {k} best of {n} keys")
    if m == 0:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int32)
    penalty = jnp.zeros(n, jnp.float32) if penalty is None else jnp.asarray(penalty, jnp.float32)
    block = max(1, min(block, m, score_bytes // (4 * n)))
    blocks = -(-m // block)
    q = jnp.pad(q, ((0, blocks * block - m), (0, 0)))
    out = jax.device_get([_block_top_k(q, keys, penalty, np.int32(b * block), k=k, block=block)
                          for b in range(blocks)])
    values, indices = np.concatenate([v for v, _ in out]), np.concatenate([i for _, i in out])
    return values[:m], indices[:m].astype(np.int32)


def mean_top_k_cosine(queries, keys, k: int = 10, **kw) -> np.ndarray:
    """r(q): each query's mean cosine with its k nearest keys (fewer keys than k: all of them). The hubness
    term of CSLS."""
    values, _ = top_k(unit_rows(queries), unit_rows(keys), min(k, len(keys)), **kw)
    return values.mean(axis=1)


def nearest(queries, keys, *, method: str = "nn", k: int = 1, csls_k: int = 10, sources=None,
            **kw) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores), each (queries, k): every query's k best keys by cosine (``nn``) or CSLS (``csls``).
    For CSLS, r_S(y) is taken over `sources` (default: the queries themselves), the whole mapped source vocabulary
    when the queries are a test set, as MUSE does."""
    if method not in ("nn", "csls"):
        raise XlgraphError(f"retrieval method must be 'nn' or 'csls', not {method!r}")
    q, keys = unit_rows(queries), unit_rows(keys)
    if method == "nn":
        values, indices = top_k(q, keys, k, **kw)
        return indices, values
    r_src = mean_top_k_cosine(keys, q if sources is None else sources, csls_k, **kw)
    r_tgt = mean_top_k_cosine(q, keys, csls_k, **kw)
    values, indices = top_k(q, keys, k, penalty=r_src / 2, **kw)  # argmax of cos − r_S/2 is argmax of CSLS
    return indices, 2 * values - r_tgt[:, None]


def mutual_nearest(src, tgt, *, method: str = "csls", csls_k: int = 10, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), int32, in source order, where tgt[j] is src[i]'s best match and src[i] is tgt[j]'s: the
    dictionary MUSE's refinement re-induces (its ``S2T&T2S``), which keeps only confident pairs."""
    s2t = nearest(src, tgt, method=method, csls_k=csls_k, **kw)[0][:, 0]
    t2s = nearest(tgt, src, method=method, csls_k=csls_k, **kw)[0][:, 0]
    i = np.flatnonzero(t2s[s2t] == np.arange(len(s2t))).astype(np.int32)
    return i, s2t[i].astype(np.int32)
