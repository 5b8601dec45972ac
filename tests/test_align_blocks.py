"""Row-block sums, and the Procrustes and CCA fits that use them on inputs taller than one block."""

import numpy as np
import pytest

from xlgraph.align import blocks
from xlgraph.align.cca import cca
from xlgraph.align.procrustes import procrustes


@pytest.mark.parametrize("n", [3, 8, 21])  # fewer rows than a block, whole blocks, whole blocks and a remainder
def test_row_block_sum_equals_the_whole_sum(n):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 5)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32)
    fn = lambda a, b: {"cross": a.T @ b, "count": np.float32(1) * a.shape[0], "sq": (a ** 2).sum(0)}  # noqa: E731
    out = blocks.row_block_sum(fn, x, y, block=4)
    np.testing.assert_allclose(out["cross"], x.T @ y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["sq"], (x ** 2).sum(0), rtol=1e-5)
    assert float(out["count"]) == n


def test_fits_taller_than_a_block_match_float64():
    """More rows than BLOCK, not a multiple of it: the scan and the remainder both count, rows of any length."""
    rows = 2 * blocks.BLOCK + 123
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 6)) * rng.lognormal(size=(rows, 1))
    y = (x @ np.linalg.qr(rng.normal(size=(6, 6)))[0] + 0.3 * rng.normal(size=(rows, 6))) + 1.0
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    u, _, vt = np.linalg.svd(yn.T @ xn)
    np.testing.assert_allclose(np.asarray(procrustes(x, y)), (u @ vt).T, atol=1e-5)
    corr = np.asarray(cca(x, y, reg=0.0)[4])
    qx, qy = np.linalg.qr(x - x.mean(0))[0], np.linalg.qr(y - y.mean(0))[0]
    np.testing.assert_allclose(corr, np.linalg.svd(qx.T @ qy, compute_uv=False), atol=1e-5)
    without_tail = np.asarray(cca(x[:2 * blocks.BLOCK], y[:2 * blocks.BLOCK], reg=0.0)[4])
    assert np.abs(without_tail - corr).max() > 1e-6  # the remainder rows are not dropped
