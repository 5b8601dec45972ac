"""One inference function for every model: a jitted `fn(params, batch)` over all rows of a tokenized set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np

from xlgraph.data.batching import make_batch, pad_index, padded_plan
from xlgraph.data.tokenize import Tokenized
from xlgraph.progress import progress
from xlgraph.train.parallel import DataParallel


IN_FLIGHT = 8  # batches dispatched ahead of the oldest unfinished one when progress is shown


def map_rows(fn: Callable, params, tok: Tokenized, *, buckets: Sequence[int], batch_size: int,
             dp: DataParallel | None = None, desc: str = ""):
    """`fn(params, batch)`'s outputs for every row of `tok`, in order, as numpy arrays (a pytree shaped like `fn`'s
    output, each leaf with the rows first). Rows go through in fixed-shape batches (`buckets` × `batch_size`,
    padding rows dropped); with `dp` each batch is sharded over its mesh, each process builds only its own rows
    and `fn` must return its outputs replicated. One host transfer at the end. With `desc`, progress (rate, ETA)
    in batches: then at most IN_FLIGHT batches run ahead of the one waited for, so the rate is the device's."""
    mine = dp.local_rows(batch_size) if dp is not None else slice(None)

    def put(batch: dict) -> dict:
        return dp.put_host_batch(batch, batch_size) if dp is not None else \
            {k: v for k, v in batch.items() if k != "index"}

    outputs, rows = [], []
    plan = list(padded_plan(tok, buckets=buckets, batch_size=batch_size, shuffle=False))

    def dispatch(wait: bool):
        """Dispatches every batch. With `wait`, yields once per batch finished, at most IN_FLIGHT running ahead
        of the oldest: progress then counts batches done, and its last line comes when the last one is."""
        for length, index in plan:
            outputs.append(fn(params, put(make_batch(tok, None, length, index[mine]))))
            rows.append(index)
            if wait and len(outputs) > IN_FLIGHT:
                jax.block_until_ready(outputs[-IN_FLIGHT - 1])
                yield
        for out in outputs[-IN_FLIGHT:] if wait else ():
            jax.block_until_ready(out)
            yield

    for _ in progress(dispatch(bool(desc)), total=len(plan), desc=desc, unit="batch", enabled=bool(desc)):
        pass
    if not outputs:  # no rows: empty outputs of the shapes `fn` would give
        batch = make_batch(tok, None, buckets[0], pad_index(np.zeros(0, np.int32), batch_size))
        like = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in batch.items() if k != "index"}
        return jax.tree.map(lambda s: np.zeros((0, *s.shape[1:]), s.dtype), jax.eval_shape(fn, params, like))
    outputs = jax.device_get(outputs)
    n = len(tok.lengths)
    result = jax.tree.map(lambda x: np.zeros((n, *x.shape[1:]), x.dtype), outputs[0])
    for out, index in zip(outputs, rows):
        keep = index >= 0
        jax.tree.map(lambda r, x: r.__setitem__(index[keep], x[keep]), result, out)
    return result

