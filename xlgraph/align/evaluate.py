"""Word-translation precision@1 (the MUSE benchmark): retrieve each test source word's nearest target word in the
shared space, by cosine and by CSLS, and count it correct when it is any of the word's gold translations.

Conventions follow MUSE: the searched targets are the whole target vocabulary given; a test source word is scored
only when it and at least one of its translations have vectors. Coverage, the share of test source words scored
(`coverage`: the one definition every command and table uses), is reported beside the precision, since a small
vocabulary can look precise by dropping words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from xlgraph.text.dictionary import Dictionary
from xlgraph.align.retrieval import nearest
from xlgraph.errors import XlgraphError


@dataclasses.dataclass(frozen=True)
class TranslationScores:
    """Precision@1 by nearest neighbour and by CSLS over `evaluated` test source words."""

    nn: float
    csls: float
    sources: int  # distinct source words in the test dictionary
    found: int  # of those, with a source vector
    evaluated: int  # of those, with at least one gold translation that has a target vector

    @property
    def coverage(self) -> float:
        return coverage(self.evaluated, self.sources)

    def __str__(self) -> str:
        return (f"P@1 NN {100 * self.nn:.2f}%  CSLS {100 * self.csls:.2f}%  ({self.evaluated} of {self.sources} "
                f"test source words scored; coverage {100 * self.coverage:.1f}%)")


def coverage(evaluated: int, sources: int) -> float:
    """The share of test source words scored: the word and at least one of its gold translations have vectors."""
    return evaluated / sources if sources else 0.0


def translation_precision(src_vectors, src_index: Mapping[str, int], tgt_vectors, tgt_index: Mapping[str, int],
                          dictionary: Dictionary, *, csls_k: int = 10, **kw) -> TranslationScores:
    """P@1 of `dictionary` (source word -> gold translations) with source and target vectors already in one
    space. `src_vectors` / `tgt_vectors` are the whole (mapped) vocabularies, row i the word `src_index` maps to
    i: all target rows are candidates, and all source rows enter CSLS's hubness term. `kw` go to `top_k`."""
    queries, gold = [], []
    found = 0
    for word, translations in dictionary.items():
        i = src_index.get(word)
        if i is None:
            continue
        found += 1
        targets = {tgt_index[t] for t in translations if t in tgt_index}
        if targets:
            queries.append(i)
            gold.append(targets)
    if not queries:
        raise XlgraphError(f"no test word can be scored: {found} of {len(dictionary)} test source words have a "
                           "vector, none with a translation that has one; check the language direction")
    src_vectors = jnp.asarray(src_vectors, jnp.float32)
    q = src_vectors[np.asarray(queries, np.int32)]
    hits = {}
    for method in ("nn", "csls"):
        best = nearest(q, tgt_vectors, method=method, csls_k=csls_k, sources=src_vectors, **kw)[0][:, 0]
        hits[method] = float(np.mean([int(j) in g for j, g in zip(best, gold)]))
    return TranslationScores(nn=hits["nn"], csls=hits["csls"], sources=len(dictionary), found=found,
                             evaluated=len(queries))
