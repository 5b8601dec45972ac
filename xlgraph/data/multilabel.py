"""Multi-label documents as the deep CNN consumes them: a `Corpus` (its single-label columns untouched) plus its
(N, C) bool target matrix, taken from the corpus's multi-label targets (reader data, e.g.
``mtod:DIR?targets=domain+slots``; see xlgraph/data/readers/mtod.py for how MTOD's sets are built).

Labels rarer than a threshold in the training data are dropped from the label vocabulary with `keep_labels` (as
the paper drops categories with fewer than 150 articles); the caller reports what was dropped. Documents the reader
marks as not annotated (MTOD's English train file, rebuilt without slot columns) are refused for any part a method
uses, with the way out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from xlgraph.data.corpus import SPLITS, Corpus
from xlgraph.data.readers.mtod import INTENTS
from xlgraph.errors import XlgraphError

DOMAINS = tuple(sorted({intent.split("/")[0] for intent in INTENTS}))


@dataclasses.dataclass(frozen=True, eq=False)
class MultiLabel:
    corpus: Corpus  # text, lang, split, ids; corpus.label is the single-label annotation (MTOD: the intent)
    targets: np.ndarray  # (N, C) bool: targets[i, j] iff label names[j] is in document i's set
    names: tuple[str, ...]
    annotated: frozenset[tuple[str, str]] = frozenset()  # (lang, split) parts whose documents carry annotations

    def __post_init__(self):
        if self.targets.shape != (len(self.corpus), len(self.names)):
            raise ValueError(f"targets of shape {self.targets.shape} for {len(self.corpus)} documents and "
                             f"{len(self.names)} labels")

    @classmethod
    def from_corpus(cls, corpus: Corpus, source: str) -> MultiLabel:
        """The corpus's multi-label targets, labels ordered as MTOD's were (domains first, then sorted); the rows
        of parts without annotations are kept (as empty sets) but those parts are left out of `annotated`."""
        if corpus.targets is None:
            raise XlgraphError(f"{source}: no multi-label targets; ask the reader for them, e.g. "
                               "mtod:DIR?targets=domain+slots or sample:mtod?targets=domain+slots")
        order = sorted(range(len(corpus.target_names)),
                       key=lambda j: (corpus.target_names[j] not in DOMAINS, corpus.target_names[j]))
        targets = corpus.targets[:, order]
        bare = targets[:, 0] < 0 if targets.shape[1] else np.zeros(len(corpus), bool)
        parts = {(str(lang), SPLITS[s]) for lang, s in zip(corpus.lang, corpus.split)}
        bare_parts = {(str(lang), SPLITS[s]) for lang, s in zip(corpus.lang[bare], corpus.split[bare])}
        return cls(corpus, targets > 0, tuple(corpus.target_names[j] for j in order),
                   frozenset(parts - bare_parts))

    def __len__(self) -> int:
        return len(self.corpus)

    def take(self, index) -> MultiLabel:
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, np.int64)
        return dataclasses.replace(self, corpus=self.corpus.take(index), targets=self.targets[index])

    def where(self, lang: str | None = None, split: str | None = None) -> MultiLabel:
        return self.take(self.corpus.mask(lang, split))

    def counts(self) -> dict[str, int]:
        return dict(zip(self.names, self.targets.sum(0).tolist()))

    def keep_labels(self, names: Sequence[str]) -> MultiLabel:
        """The same documents over the label vocabulary `names` (in that order); other labels leave every set."""
        unknown = sorted(set(names) - set(self.names))
        if unknown:
            raise XlgraphError(f"labels {unknown} are not among {list(self.names)}")
        column = {name: j for j, name in enumerate(self.names)}
        return dataclasses.replace(self, targets=self.targets[:, [column[n] for n in names]], names=tuple(names))


def frequent_labels(data: MultiLabel, min_count: int) -> tuple[tuple[str, ...], dict[str, int]]:
    """(labels occurring in at least `min_count` documents of `data`, {dropped label: its count})."""
    counts = data.counts()
    kept = tuple(n for n in data.names if counts[n] >= min_count)
    return kept, {n: c for n, c in counts.items() if c < min_count}


def require_annotated(data: MultiLabel, parts: Sequence[tuple[str, str]], what: str) -> None:
    """An error naming the parts of `parts` whose files have no slot annotation at all."""
    bare = [f"{lang}/{split}" for lang, split in parts
            if (lang, split) not in data.annotated and data.corpus.mask(lang, split).any()]
    if bare:
        raise XlgraphError(f"{what} {', '.join(bare)}: the file has no slot annotations (MTOD's English train file "
                           "was rebuilt without them), so every slot label would be false; use a part with slots, "
                           "e.g. en/test for training and en/dev for selection")


def parse_parts(items: Sequence[str], what: str) -> list[tuple[str, str]]:
    """``["en/test", "es/train"]`` -> [(lang, split), ...], with an error a user can act on."""
    out = []
    for item in items:
        lang, sep, split = str(item).partition("/")
        if not sep or not lang or split not in SPLITS:
            raise XlgraphError(f"{what}: {item!r} is not LANG/SPLIT with SPLIT one of {', '.join(SPLITS)}")
        out.append((lang, split))
    return out
