"""Sums over the rows of tall matrices, one block of rows at a time, inside jit.

A dictionary fit reduces n word pairs (up to 200k) to d×d products such as Yᵀ X. Normalising or centring the whole
n×d matrices first writes n×d temporaries and reads them back, which on a CPU costs more than the product itself;
done per block of rows, each block is transformed while it is in cache, the extra memory is O(block·d), and the n
rows are summed as n/block partial sums, which is also more accurate in float32 than one long dot product.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

BLOCK = 4096  # rows per block: 4096 × 300 float32 is 4.7 MiB, the fastest on this project's CPU (bench/align.py)


def row_block_sum(fn: Callable, *arrays: jax.Array, block: int = BLOCK):
    """Σ over consecutive row blocks b of fn(*(a[b] for a in arrays)), a pytree of arrays; `arrays` have the
    same number of rows and fn must be a sum over its rows (zero on none). The full blocks go through one
    `lax.scan`, so one compiled body serves any n; the remaining rows are one more call on a static slice."""
    n = arrays[0].shape[0]
    full = n // block
    if full == 0:
        return fn(*arrays)

    def body(total, i):
        part = fn(*(jax.lax.dynamic_slice_in_dim(a, i * block, block) for a in arrays))
        return jax.tree.map(jnp.add, total, part), None

    shapes = jax.eval_shape(fn, *(a[:block] for a in arrays))
    total, _ = jax.lax.scan(body, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes), jnp.arange(full))
    if n % block:
        total = jax.tree.map(jnp.add, total, fn(*(a[full * block:] for a in arrays)))
    return total
