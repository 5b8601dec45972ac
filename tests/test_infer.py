"""train/infer.map_rows: every row's outputs, in the order of the rows, through fixed-shape sharded batches."""

import jax
import jax.numpy as jnp
import numpy as np

from xlgraph.data.tokenize import Tokenized
from xlgraph.train.infer import map_rows
from xlgraph.train.parallel import DataParallel


def _tokens(lengths, max_length=16):
    lengths = np.asarray(lengths, np.int32)
    ids = np.where(np.arange(max_length)[None] < lengths[:, None], 7 + np.arange(len(lengths))[:, None], 0)
    return Tokenized(ids.astype(np.int32), lengths, 0)


@jax.jit
def _fn(params, batch):  # a pytree of outputs: per-row first id and length, and a (rows, 2) array
    length = batch["attention_mask"].sum(-1)
    return {"first": batch["input_ids"][:, 0] * params, "pair": jnp.stack([length, length * 2], -1)}


def test_rows_come_back_in_order_across_buckets_and_padding():
    lengths = [3, 16, 1, 9, 5, 12, 2, 8, 15, 4, 6]  # three buckets, batches with padding rows
    out = map_rows(_fn, 2, _tokens(lengths), buckets=(4, 8, 16), batch_size=3)
    assert out["first"].tolist() == [2 * (7 + i) for i in range(len(lengths))]
    assert out["pair"].tolist() == [[n, 2 * n] for n in lengths] and out["pair"].dtype == np.int32


def test_sharded_over_the_mesh_equals_unsharded():
    dp = DataParallel.create()
    step = jax.jit(_fn.__wrapped__, in_shardings=(dp.replicated, dp.batch), out_shardings=dp.replicated)
    size = 2 * dp.size
    tok = _tokens([3, 16, 1, 9, 5])
    sharded = map_rows(step, 1, tok, buckets=(8, 16), batch_size=size, dp=dp)
    plain = map_rows(_fn, 1, tok, buckets=(8, 16), batch_size=size)
    assert jax.tree.map(np.array_equal, sharded, plain) == {"first": True, "pair": True}


def test_no_rows_gives_empty_outputs_of_the_right_shape():
    out = map_rows(_fn, 1, _tokens([]), buckets=(4, 8), batch_size=3)
    assert out["first"].shape == (0,) and out["pair"].shape == (0, 2) and out["pair"].dtype == np.int32


def test_progress_reports_batches_and_bounds_the_batches_in_flight(caplog, monkeypatch):
    import logging

    import xlgraph.train.infer as infer

    waited = []
    real = jax.block_until_ready
    monkeypatch.setattr(infer.jax, "block_until_ready", lambda x: waited.append(x) or real(x))
    monkeypatch.setattr(infer, "IN_FLIGHT", 2)
    lengths = list(range(1, 17))
    plain = map_rows(_fn, 2, _tokens(lengths), buckets=(4, 8, 16), batch_size=3)
    assert not waited
    waited_at_last_line = []

    class AtLastLine(logging.Handler):
        def emit(self, record):
            if " batch in " in record.getMessage():
                waited_at_last_line.append(len(waited))

    handler = AtLastLine()
    logging.getLogger("xlgraph").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="xlgraph"):
            shown = map_rows(_fn, 2, _tokens(lengths), buckets=(4, 8, 16), batch_size=3, desc="features: documents")
    finally:
        logging.getLogger("xlgraph").removeHandler(handler)
    assert jax.tree.map(np.array_equal, shown, plain) == {"first": True, "pair": True}
    # 7 batches (4 + 4 + 8 rows of 3): 5 waited for when the batch 2 ahead of them is dispatched, the last 2 after
    # the last dispatch; the closing line counts batches done, so it comes after the last one finished
    assert len(waited) == 7 and len({id(w) for w in waited}) == 7
    assert waited_at_last_line == [7]
    assert any(r.getMessage().startswith("features: documents: 7 batch in") for r in caplog.records)
