"""Fixed-shape batches: a few length buckets, one batch size, and a weight that masks padding rows.

Every batch has shape (batch_size, bucket) for a bucket in `buckets`, so one compiled step per bucket
serves a whole run however the data changes (new pseudo-labels, another language). The order is a pure
function of (seed, epoch): a resumed run sees the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from xlgraph.data.tokenize import Tokenized


def bucket_of(lengths: np.ndarray, buckets: Sequence[int]) -> np.ndarray:
    """Index of the smallest bucket that holds each length (the largest if none does: truncation)."""
    return np.minimum(np.searchsorted(np.asarray(buckets), lengths), len(buckets) - 1)


def plan_batches(lengths: np.ndarray, buckets: Sequence[int], batch_size: int, *,
                 shuffle: bool, seed: int = 0, epoch: int = 0) -> list[tuple[int, np.ndarray]]:
    """(bucket length, indices) per batch; the last batch of a bucket may hold fewer than batch_size."""
    order = np.arange(len(lengths))
    rng = np.random.default_rng([seed, epoch])
    if shuffle:
        order = rng.permutation(order)
    which = bucket_of(lengths[order], buckets)
    plan = []
    for b, length in enumerate(buckets):
        members = order[which == b]
        plan += [(length, members[i : i + batch_size]) for i in range(0, len(members), batch_size)]
    if shuffle:
        plan = [plan[i] for i in rng.permutation(len(plan))]
    return plan


def pad_index(index: np.ndarray, batch_size: int) -> np.ndarray:
    """`index` padded with -1 to `batch_size` rows."""
    return np.concatenate([index, np.full(batch_size - len(index), -1)]).astype(np.int32)


def make_batch(tok: Tokenized, labels: np.ndarray | None, length: int, index: np.ndarray) -> dict:
    """The rows `index` (-1: a padding row) at one padded length. Padding rows repeat nothing: they are
    pad tokens with weight 0 and index -1."""
    index = np.asarray(index, np.int32)
    real = index >= 0
    rows = index[real]
    ids = np.full((len(index), length), tok.pad_id, np.int32)
    ids[real] = tok.ids[rows, :length]
    if length < tok.ids.shape[1] and tok.closing_token:  # truncated rows keep their closing special token
        cut = tok.lengths[rows] > length
        fixed = ids[real]
        fixed[cut, -1] = tok.ids[rows[cut], tok.lengths[rows[cut]] - 1]
        ids[real] = fixed
    mask = np.zeros((len(index), length), np.int32)
    if tok.slot:  # padding inside the row too
        mask[real] = ids[real] != tok.pad_id
    else:
        mask[real] = np.arange(length)[None, :] < tok.lengths[rows, None]
    out = {"input_ids": ids, "attention_mask": mask, "weight": real.astype(np.float32), "index": index}
    if labels is not None:
        out["labels"] = np.where(real, labels[np.maximum(index, 0)], 0).astype(np.int32)
    return out


def padded_plan(tok: Tokenized, *, buckets: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0,
                epoch: int = 0) -> list[tuple[int, np.ndarray]]:
    """(length, index padded with -1 to batch_size) for every global batch of an epoch."""
    buckets = [b for b in buckets if b <= tok.ids.shape[1]] or [tok.ids.shape[1]]
    plan = plan_batches(tok.lengths, buckets, batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
    return [(length, pad_index(index, batch_size)) for length, index in plan]


def iterate_batches(tok: Tokenized, labels: np.ndarray | None, *, buckets: Sequence[int], batch_size: int,
                    shuffle: bool, seed: int = 0, epoch: int = 0, skip: int = 0,
                    rows: slice = slice(None)) -> Iterator[dict]:
    """Batches of one epoch; `skip` drops the first ones (resuming mid-epoch). `rows` keeps only those rows
    of every global batch: a process of a multi-host run builds just its own share."""
    plan = padded_plan(tok, buckets=buckets, batch_size=batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
    for length, index in plan[skip:]:
        yield make_batch(tok, labels, length, index[rows])


def num_batches(tok: Tokenized, *, buckets: Sequence[int], batch_size: int) -> int:
    buckets = [b for b in buckets if b <= tok.ids.shape[1]] or [tok.ids.shape[1]]
    counts = np.bincount(bucket_of(tok.lengths, buckets), minlength=len(buckets))
    return int(np.sum(-(-counts // batch_size)))
