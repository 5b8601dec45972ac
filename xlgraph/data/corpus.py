"""The corpus model: documents in columns (text, language, label, split, id, translation link, and multi-label
targets where the reader gives them).

One label vocabulary spans all languages; label -1 means unlabelled. Readers yield `Doc` records;
`Corpus.from_docs` turns a stream of them into columns. Multi-label targets (a set of names per document, e.g.
``mtod:DIR?targets=domain+slots``) are a second, independent annotation: an (N, C) int8 matrix over the sorted
`target_names`, with rows of -1 for documents whose source has no such annotation (`targets` is None when no
document has any).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

SPLITS = ("train", "dev", "test", "unlabeled")


@dataclasses.dataclass(frozen=True)
class Doc:
    text: str
    lang: str
    label: str | None = None
    split: str = "train"
    id: str | None = None
    translation_of: str | None = None  # id of the document this one is a translation of
    targets: tuple[str, ...] | None = None  # multi-label set; None: not annotated

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r} is not one of {SPLITS}")


@dataclasses.dataclass(frozen=True, eq=False)
class Corpus:
    text: np.ndarray  # object, str
    lang: np.ndarray  # str
    label: np.ndarray  # int32, -1 = unlabelled
    split: np.ndarray  # int8, index into SPLITS
    doc_id: np.ndarray  # str, "" = none
    translation: np.ndarray  # int32, index of the original document, -1 = none
    labels: tuple[str, ...]
    targets: np.ndarray | None = None  # (N, C) int8: 1 in the set, 0 not, a row of -1: not annotated
    target_names: tuple[str, ...] = ()

    @classmethod
    def from_docs(cls, docs: Iterable[Doc], labels: Sequence[str] | None = None) -> Corpus:
        """Columns from a stream of docs. `labels` fixes the vocabulary (and its order); otherwise it is the
        sorted set of labels seen."""
        docs = list(docs)
        seen = sorted({d.label for d in docs if d.label is not None})
        if labels is None:
            labels = seen
        else:
            unknown = sorted(set(seen) - set(labels))
            if unknown:
                raise ValueError(f"labels {unknown} are not in the fixed label set {list(labels)}")
        index = {name: i for i, name in enumerate(labels)}
        ids = [d.id or "" for d in docs]
        where = {}
        for i, doc_id in enumerate(ids):
            if doc_id:
                if doc_id in where:
                    raise ValueError(f"document id {doc_id!r} occurs twice")
                where[doc_id] = i
        translation = np.full(len(docs), -1, np.int32)
        for i, d in enumerate(docs):
            if d.translation_of is not None:
                if d.translation_of not in where:
                    raise ValueError(f"document {d.id!r} is a translation of unknown id {d.translation_of!r}")
                translation[i] = where[d.translation_of]
        return cls(
            text=np.array([d.text for d in docs] or [""][:0], dtype=object),
            lang=np.array([d.lang for d in docs], dtype=np.str_),
            label=np.array([index[d.label] if d.label is not None else -1 for d in docs], np.int32),
            split=np.array([SPLITS.index(d.split) for d in docs], np.int8),
            doc_id=np.array(ids, dtype=np.str_),
            translation=translation,
            labels=tuple(labels),
            **_target_columns([d.targets for d in docs]),
        )

    def __len__(self) -> int:
        return len(self.text)

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.lang.tolist()))  # in order of first appearance

    def fingerprint(self) -> dict[str, dict]:
        """Per split present: its document count and a SHA-256 of its documents in order (text, language, label
        name, id, the id it translates, targets): what a resumed run checks its data against (`RunDir.claim`)."""
        out = {}
        for s, name in enumerate(SPLITS):
            index = np.flatnonzero(self.split == s)
            if not len(index):
                continue
            h = hashlib.sha256()
            for i in index:
                label = self.labels[self.label[i]] if self.label[i] >= 0 else ""
                of = self.doc_id[self.translation[i]] if self.translation[i] >= 0 else ""
                h.update(f"{self.text[i]}\x1f{self.lang[i]}\x1f{label}\x1f{self.doc_id[i]}\x1f{of}\x1e"
                         .encode("utf-8", "surrogatepass"))
            if self.targets is not None:
                h.update("\x1f".join(self.target_names).encode() + self.targets[index].tobytes())
            out[name] = {"documents": len(index), "sha256": h.hexdigest()}
        return out

    def mask(self, lang: str | None = None, split: str | None = None, labelled: bool | None = None) -> np.ndarray:
        m = np.ones(len(self), bool)
        if lang is not None:
            m &= self.lang == lang
        if split is not None:
            m &= self.split == SPLITS.index(split)
        if labelled is not None:
            m &= (self.label >= 0) == labelled
        return m

    def take(self, index) -> Corpus:
        """A sub-corpus; translation links to documents left out become -1."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, np.int64)
        remap = np.full(len(self) + 1, -1, np.int32)
        remap[index] = np.arange(len(index), dtype=np.int32)
        return dataclasses.replace(
            self,
            text=self.text[index],
            lang=self.lang[index],
            label=self.label[index],
            split=self.split[index],
            doc_id=self.doc_id[index],
            translation=remap[self.translation[index]],  # -1 indexes the extra slot, which stays -1
            targets=None if self.targets is None else self.targets[index],
        )

    def where(self, lang: str | None = None, split: str | None = None, labelled: bool | None = None) -> Corpus:
        return self.take(self.mask(lang, split, labelled))

    def with_labels(self, labels: Sequence[str]) -> Corpus:
        """The same documents under another label vocabulary (a superset of the labels in use)."""
        missing = sorted({self.labels[i] for i in np.unique(self.label[self.label >= 0])} - set(labels))
        if missing:
            raise ValueError(f"labels {missing} are not in {list(labels)}")
        remap = np.array([list(labels).index(name) for name in self.labels] + [-1], np.int32)
        return dataclasses.replace(self, label=remap[self.label], labels=tuple(labels))

    @staticmethod
    def concat(corpora: Sequence[Corpus]) -> Corpus:
        labels = tuple(sorted(set().union(*(c.labels for c in corpora))))
        corpora = [c.with_labels(labels) for c in corpora]
        offsets = np.cumsum([0] + [len(c) for c in corpora])
        return Corpus(
            text=np.concatenate([c.text for c in corpora]),
            lang=np.concatenate([c.lang for c in corpora]),
            label=np.concatenate([c.label for c in corpora]),
            split=np.concatenate([c.split for c in corpora]),
            doc_id=np.concatenate([c.doc_id for c in corpora]),
            translation=np.concatenate(
                [np.where(c.translation >= 0, c.translation + o, -1) for c, o in zip(corpora, offsets)]
            ).astype(np.int32),
            labels=labels,
            **_target_columns([t for c in corpora for t in c.target_sets()]),
        )

    def counts(self) -> Counter:
        """Number of documents per (lang, split, label name or None)."""
        names = list(self.labels) + [None]
        return Counter(
            (lang, SPLITS[s], names[y]) for lang, s, y in zip(self.lang.tolist(), self.split.tolist(), self.label.tolist())
        )

    def target_sets(self) -> list[tuple[str, ...] | None]:
        """Each document's multi-label set (names in `target_names` order), None where not annotated."""
        if self.targets is None:
            return [None] * len(self)
        names = np.array(self.target_names, dtype=object)
        return [None if len(row) and row[0] < 0 else tuple(names[row > 0]) for row in self.targets]

    def docs(self) -> Iterable[Doc]:
        ids = self.doc_id.tolist()
        sets = self.target_sets()
        for i in range(len(self)):
            y, t = int(self.label[i]), int(self.translation[i])
            yield Doc(
                text=self.text[i],
                lang=str(self.lang[i]),
                label=self.labels[y] if y >= 0 else None,
                split=SPLITS[self.split[i]],
                id=ids[i] or None,
                translation_of=(ids[t] or None) if t >= 0 else None,
                targets=sets[i],
            )


def _target_columns(sets: Sequence[tuple[str, ...] | None]) -> dict:
    """`targets` and `target_names` for documents' multi-label sets (None: not annotated)."""
    if all(t is None for t in sets):
        return {}
    names = tuple(sorted(set().union(*(t for t in sets if t is not None))))
    column = {name: j for j, name in enumerate(names)}
    targets = np.zeros((len(sets), len(names)), np.int8)
    for i, t in enumerate(sets):
        if t is None:
            targets[i] = -1
        else:
            targets[i, [column[n] for n in t]] = 1
    return {"targets": targets, "target_names": names}
