"""Regularised canonical correlation analysis (Faruqui & Dyer 2014): both languages are projected into a shared
space where the dictionary pairs' coordinates are maximally correlated.

With centred pairs X, Y (n rows), Cxx = XᵀX/n + λI, Cyy likewise, Cxy = XᵀY/n; whitening by Cxx^-1/2 and Cyy^-1/2
turns the problem into an SVD: Cxx^-1/2 Cxy Cyy^-1/2 = U S Vᵀ, A = Cxx^-1/2 U, B = Cyy^-1/2 V. The projections X A
and Y B have identity covariance (λ = 0) and per-column correlation S. λ is relative, λ = reg · trace(C)/d, so it
does not depend on the vectors' scale; it keeps the whitening finite when the dictionary has fewer pairs than
dimensions, or vectors that are nearly collinear.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from xlgraph.align.blocks import row_block_sum
from xlgraph.align.retrieval import HIGHEST
from xlgraph.errors import XlgraphError


def _inverse_sqrt(c):
    """C^-1/2 of a symmetric positive definite matrix, by eigendecomposition."""
    vals, vecs = jnp.linalg.eigh(c)
    vals = jnp.maximum(vals, jnp.finfo(jnp.float32).tiny)
    return jnp.matmul(vecs / jnp.sqrt(vals)[None, :], vecs.T, precision=HIGHEST)


def _centred_products(mx, my):
    """Per block of rows: (XcᵀXc, YcᵀYc, XcᵀYc) of the rows centred on the means of all rows."""

    def products(xb, yb):
        xb, yb = xb - mx, yb - my
        return tuple(jnp.matmul(a.T, b, precision=HIGHEST) for a, b in ((xb, xb), (yb, yb), (xb, yb)))

    return products


@functools.partial(jax.jit, static_argnames=("dim",))
def _cca(x, y, reg, *, dim: int):
    n = x.shape[0]
    mx, my = x.mean(0), y.mean(0)
    # centred block by block: no centred n×d copies (two passes over the rows: exact means, then products)
    cxx, cyy, cxy = (c / n for c in row_block_sum(_centred_products(mx, my), x, y))
    cxx = cxx + reg * jnp.trace(cxx) / cxx.shape[0] * jnp.eye(cxx.shape[0])
    cyy = cyy + reg * jnp.trace(cyy) / cyy.shape[0] * jnp.eye(cyy.shape[0])
    wx, wy = _inverse_sqrt(cxx), _inverse_sqrt(cyy)
    t = jnp.matmul(jnp.matmul(wx, cxy, precision=HIGHEST), wy, precision=HIGHEST)
    u, s, vt = jnp.linalg.svd(t, full_matrices=False)
    a = jnp.matmul(wx, u[:, :dim], precision=HIGHEST)
    b = jnp.matmul(wy, vt[:dim].T, precision=HIGHEST)
    return a, b, mx, my, s[:dim]


def cca(x, y, *, dim: int | None = None, reg: float = 1e-3):
    """(A, B, mean_x, mean_y, correlations) for paired rows `x` (n, d_x) and `y` (n, d_y): a word maps to
    (x − mean_x) A and (y − mean_y) B in a `dim`-dimensional space (default min(d_x, d_y)), columns ordered by
    canonical correlation, largest first. Signs are matched: column i of A and of B point the same way."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise XlgraphError(f"CCA needs paired rows: got {x.shape} and {y.shape}")
    if x.shape[0] < 2:
        raise XlgraphError(f"CCA needs at least 2 dictionary pairs, got {x.shape[0]}")
    top = min(x.shape[1], y.shape[1])
    dim = top if dim is None else dim
    if not 1 <= dim <= top:
        raise XlgraphError(f"CCA dimension must be between 1 and {top}, got {dim}")
    if not 0 <= reg < float("inf"):  # (a NaN fails this too: it made every mapped vector NaN, silently)
        raise XlgraphError(f"CCA regularisation must be a finite number ≥ 0, got {reg}")
    return _cca(x, y, jnp.float32(reg), dim=dim)
