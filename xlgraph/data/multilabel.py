"""Multi-label documents: a `Corpus` (its single-label columns untouched) plus a (N, C) target matrix.

No multi-label corpus ships with the shared data, so one is built from real annotations: MTOD's slot spans.
An utterance's label set is the domain of its intent (alarm, reminder, weather) plus the types of its slots
(datetime, location, reminder/todo, ...). The domain makes every set non-empty, so no utterance is dropped
(9-12% have no slot); sets hold 1 to 6 labels, 2.5-2.65 on average (en, es, th test).

`corpus.label` keeps the intent (the MTOD reader's rows and ids are reused as they are); the targets are
read from the slot column the reader skips, matched by line number. Slot types rarer than a threshold in the
training data are dropped from the label vocabulary with `keep_labels` (as the paper drops categories with
fewer than 150 articles); the caller reports what was dropped.

MTOD's English train file was rebuilt without slot columns (see ../shared/data/mtod/PROVENANCE.md): its
parts are marked in `MultiLabel.annotated` so that training on them fails loudly instead of learning that
English utterances have no slots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xlgraph.data.corpus import SPLITS, Corpus
from xlgraph.data.readers import ReadContext, iter_lines
from xlgraph.data.readers.mtod import INTENTS, find_files, read_file
from xlgraph.errors import DataError, XlgraphError

DOMAINS = tuple(sorted({intent.split("/")[0] for intent in INTENTS}))


@dataclasses.dataclass(frozen=True, eq=False)
class MultiLabel:
    corpus: Corpus  # text, lang, split, ids; corpus.label is the single-label annotation (MTOD: the intent)
    targets: np.ndarray  # (N, C) bool: targets[i, j] iff label names[j] is in document i's set
    names: tuple[str, ...]
    annotated: frozenset[tuple[str, str]] = frozenset()  # (lang, split) parts whose files carry slot annotations

    def __post_init__(self):
        if self.targets.shape != (len(self.corpus), len(self.names)):
            raise ValueError(f"targets of shape {self.targets.shape} for {len(self.corpus)} documents and "
                             f"{len(self.names)} labels")

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


def slot_types(field: str, path, number: int, ctx: ReadContext) -> list[str] | None:
    """The slot types of one MTOD slot column (``start:end:type,...``; empty: none), or None after reporting a
    malformed span to `ctx`. Offsets are checked to be integers but not used (the real ES test file has a
    ``-2:30`` span, which names its type correctly)."""
    types = []
    for span in filter(None, field.split(",")):
        start, _, rest = span.partition(":")
        end, _, kind = rest.partition(":")
        if not (_is_int(start) and _is_int(end) and kind):
            ctx.bad(path, number, f"slot span {span!r} is not start:end:type")
            return None
        types.append(kind)
    return types


def load_mtod(root: str | Path, *, langs: Sequence[str] | None = None, splits: Sequence[str] | None = None,
              domain: bool = True, skip_bad_rows: bool = False) -> tuple[MultiLabel, list[DataError]]:
    """MTOD label sets (domain and/or slot types, see the module docstring) for every valid row of the chosen
    parts, with the bad rows skipped (empty unless `skip_bad_rows`). Labels are sorted: domains first."""
    ctx = ReadContext(skip_bad_rows=skip_bad_rows, labels=frozenset(INTENTS))
    docs, sets, annotated = [], [], set()
    for (lang, split), path in find_files(Path(root)).items():
        if (langs and lang not in langs) or (splits and split not in splits):
            continue
        fields = _slot_fields(path)
        if any(fields.values()):
            annotated.add((lang, split))
        for doc in read_file(path, lang, split, ctx):  # in line order, so errors come in line order
            number = int(doc.id.rsplit("/", 1)[1])
            slots = slot_types(fields[number], path, number, ctx)
            if slots is None:  # reported (and skipped: with skip_bad_rows)
                continue
            docs.append(doc)
            sets.append(set(slots) | ({doc.label.split("/")[0]} if domain and doc.label else set()))
    if not docs:
        raise DataError(root, None, f"no MTOD rows for langs={langs or 'all'} splits={splits or 'all'}")
    corpus = Corpus.from_docs(docs, INTENTS)
    names = tuple(sorted(set().union(*sets), key=lambda n: (n not in DOMAINS, n)))
    column = {n: j for j, n in enumerate(names)}
    targets = np.zeros((len(docs), len(names)), bool)
    for i, labels in enumerate(sets):
        targets[i, [column[n] for n in labels]] = True
    return MultiLabel(corpus, targets, names, frozenset(annotated)), ctx.skipped


def require_annotated(data: MultiLabel, parts: Sequence[tuple[str, str]], what: str) -> None:
    """An error naming the parts of `parts` whose files have no slot annotation at all."""
    bare = [f"{lang}/{split}" for lang, split in parts if (lang, split) not in data.annotated]
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


def _slot_fields(path: Path) -> dict[int, str]:
    """Line number -> raw slot column, for rows with the 5 columns the reader expects (it reports the others)."""
    out = {}
    for number, line in iter_lines(path, ReadContext(skip_bad_rows=True), drop_trailing_blank=True):
        cols = line.split("\t")
        if len(cols) == 5:
            out[number] = cols[1]
    return out


def _is_int(text: str) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False


def mtod_root(sources: Sequence[str]) -> Path:
    """The MTOD folder named by the one corpus spec in `sources` (``mtod:DIR`` or the embedded ``sample:mtod``)."""
    from xlgraph.data.sample import SAMPLE_DIR
    from xlgraph.data.spec import parse_spec

    if len(sources) != 1:
        raise XlgraphError("multi-label MTOD needs exactly one corpus spec (mtod:DIR or sample:mtod), "
                           f"got {list(sources)}")
    spec = parse_spec(sources[0])
    if spec.scheme == "mtod" and not spec.params:
        return Path(spec.path)
    if spec.scheme == "sample" and spec.path == "mtod" and not spec.params:
        return SAMPLE_DIR
    raise XlgraphError(f"corpus spec {sources[0]!r}: multi-label label sets come from MTOD slot columns; give mtod:DIR "
                       "or sample:mtod without parameters (choose parts with deep_cnn.train / select / eval)")
