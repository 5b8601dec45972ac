"""Orthogonal Procrustes (Smith et al. 2017, as the multilingual-embeddings paper uses it).

The paper writes M = Yᵀ X over the dictionary pairs (rows length-normalised), U Σ Vᵀ = svd(M) and W = U Vᵀ, which
maps a column vector x to W x. Rows are words here, so the functions return Wᵀ and a map is applied as X @ Wᵀ.
The orthogonal W is the rotation that maximises Σ yᵢᵀ W xᵢ, so cosines inside the source space are unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from xlgraph.align.blocks import row_block_sum
from xlgraph.align.retrieval import HIGHEST, unit_rows


def _cross(xb, yb):
    return jnp.matmul(unit_rows(yb).T, unit_rows(xb), precision=HIGHEST)


@jax.jit
def _procrustes(x, y, threshold):
    m = row_block_sum(_cross, x, y)  # (d_y, d_x): the paper's M, without normalised n×d copies of x and y
    u, s, vt = jnp.linalg.svd(m, full_matrices=False)
    w = jnp.matmul(u * (s > threshold)[None, :], vt, precision=HIGHEST)  # U diag(s > t) Vᵀ
    return w.T


def procrustes(x, y) -> jax.Array:
    """The (d_x, d_y) matrix that maps source rows onto target rows: `x` and `y` hold the dictionary pairs' vectors
    row by row. Different widths give the semi-orthogonal map (Wᵀ W = I on the smaller side)."""
    return _procrustes(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), -jnp.inf)


def procrustes_truncated(x, y, min_singular: float = 1.0) -> jax.Array:
    """The paper's reduced variant (its official code, `learn_trans_dim_red`): only the singular directions of M
    whose singular value exceeds `min_singular` are kept, W = U_k V_kᵀ. Weak directions, where the dictionary
    pairs do not agree, are dropped rather than rotated at random; the map is then a projection, not a rotation."""
    return _procrustes(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.float32(min_singular))
