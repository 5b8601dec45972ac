"""The contract of a feature source: fixed features of documents and words for models that take them as input
(the CLHG graph's nodes). Implementations: the fine-tuned encoder's (`families.encoder.EncoderFamily.node_features`)
and aligned word vectors (`features.word_vectors`)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np

from xlgraph.data.corpus import Corpus


@dataclasses.dataclass(frozen=True)
class Features:
    """Where the node features come from; they stay fixed while the GCN trains. `docs(corpus)`: one float32 row
    per corpus row (they also give the kNN similarity edges); `words(pairs)`: one row per (language, word)
    pair, of the same width. The default encodes both with the fine-tuned encoder (first token, last layer;
    a word as a one-word input); aligned word vectors (a document as the mean of its words) are another."""

    docs: Callable[[Corpus], np.ndarray]
    words: Callable[[Sequence[tuple[str, str]]], np.ndarray]
    name: str = "custom"

    def cached(self) -> Features:
        """The same features, each document matrix and word row computed once: graphs that differ only in their
        edges (the ablations) share one encoding pass."""
        # a Corpus hashes by identity (eq=False), and the cache keeps it alive
        docs = functools.cache(lambda corpus: np.asarray(self.docs(corpus), np.float32))
        rows = memo_batch(lambda pairs: np.asarray(self.words(pairs), np.float32))
        return Features(docs, lambda pairs: np.stack(rows(pairs)), self.name)


def memo_batch(fn: Callable[[list], Sequence]) -> Callable[[Sequence], list]:
    """`fn` (keys → one result per key) computed once per distinct key: each call passes `fn` only the keys not
    seen before, and returns the results in the order asked."""
    seen: dict = {}

    def call(keys):
        keys = list(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in seen))
        if missing:
            seen.update(zip(missing, fn(missing)))
        return [seen[k] for k in keys]

    return call
