"""Readers by corpus-spec scheme. Each streams `Doc`s and reports bad rows through a `ReadContext`.

A reader is `fn(spec: Spec, ctx: ReadContext) -> Iterator[Doc]`, registered with
`@register("scheme", params=(...))` in any module of this package (they are all imported on first use; `io` holds what
they share). A scheme registered twice is an error. `params` names the spec parameters the reader reads; any other
parameter is an error here, before reading, so a misspelt one (`lnags=en`) is never silently ignored.
Parameters every spec accepts, applied here: `lang=` and `split=` override what the reader says,
`labels=a,b,c` fixes the label set.
A spec that yields no documents at all is an error.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Sequence

from xlgraph.data.corpus import SPLITS, Corpus, Doc
from xlgraph.data.readers.io import ReadContext, iter_lines, list_param, open_binary
from xlgraph.data.spec import Spec, parse_spec
from xlgraph.errors import DataError, SpecError

Reader = Callable[[Spec, ReadContext], Iterator[Doc]]
READERS: dict[str, Reader] = {}
# Schemes whose label set is known in advance: a tuple, or a function of the spec (`opener:...?classes=2`).
FIXED_LABELS: dict[str, tuple[str, ...] | Callable[[Spec], Sequence[str] | None]] = {}
COMMON_PARAMS = ("lang", "split", "labels")  # applied here, for every scheme
PARAMS: dict[str, tuple[str, ...]] = {}  # scheme -> the parameters its reader reads besides COMMON_PARAMS

__all__ = ["READERS", "ReadContext", "register", "read_docs", "load_corpus", "iter_lines", "open_binary",
           "fixed_labels"]


def register(scheme: str, labels: Sequence[str] | Callable[[Spec], Sequence[str] | None] | None = None,
             params: Sequence[str] = ()):
    def wrap(fn: Reader) -> Reader:
        old = READERS.get(scheme)
        if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"corpus scheme {scheme!r} is registered twice: by {old.__module__}.{old.__qualname__} "
                             f"and {fn.__module__}.{fn.__qualname__}")
        READERS[scheme] = fn
        if old is None or params:  # the same reader again (its module imported twice) keeps its declaration
            PARAMS[scheme] = tuple(params)
        if labels is not None:
            FIXED_LABELS[scheme] = labels if callable(labels) else tuple(labels)
        return fn

    return wrap


def fixed_labels(spec: Spec) -> tuple[str, ...] | None:
    """The label set fixed in advance (in order): the spec's `labels=`, else its scheme's, else None."""
    given = list_param(spec, "labels")
    if given is not None:
        return given
    labels = FIXED_LABELS.get(spec.scheme)
    if callable(labels):
        labels = labels(spec)
    return None if labels is None else tuple(labels)


def _load_all() -> None:
    """Imports every reader module of this package (each registers its schemes)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "io":
            importlib.import_module(f"{__name__}.{module.name}")


def check_params(spec: Spec) -> None:
    """Raises SpecError for a parameter the spec's scheme does not read, and for a malformed common one."""
    accepted = COMMON_PARAMS + PARAMS[spec.scheme]
    unknown = [key for key in spec.params if key not in accepted]
    if unknown:
        raise SpecError(f"corpus spec {str(spec)!r}: unknown parameter {unknown[0]!r}; {spec.scheme} accepts "
                        f"{', '.join(sorted(accepted))}")
    if spec.get("lang") is not None and not spec.get("lang").strip():
        raise SpecError(f"corpus spec {str(spec)!r}: lang= is empty; give a language code (lang=de)")
    split = spec.get("split")
    if split is not None and split not in SPLITS:
        raise SpecError(f"corpus spec {str(spec)!r}: split={split!r} is not one of {', '.join(SPLITS)}")
    list_param(spec, "labels")


def read_docs(spec: str | Spec, ctx: ReadContext | None = None) -> Iterator[Doc]:
    spec = parse_spec(spec)
    _load_all()
    if spec.scheme not in READERS:
        raise SpecError(f"unknown corpus scheme {spec.scheme!r} in {str(spec)!r}; known: {', '.join(sorted(READERS))}")
    check_params(spec)
    ctx = ctx or ReadContext()
    labels = fixed_labels(spec)
    if labels is not None:
        ctx.labels = frozenset(labels)
    lang, split = spec.get("lang"), spec.get("split")
    skipped, count = len(ctx.skipped), 0
    for doc in READERS[spec.scheme](spec, ctx):
        if lang is not None or split is not None:
            doc = Doc(doc.text, lang or doc.lang, doc.label, split or doc.split, doc.id, doc.translation_of)
        count += 1
        yield doc
    if not count:  # an empty (or truncated-to-nothing) file would otherwise be a silently empty corpus
        bad = ctx.skipped[skipped:]
        why = f": all {len(bad)} rows were bad and skipped, the first {bad[0]}" if bad else ""
        raise DataError(spec.path, None, f"no documents in {str(spec)!r}{why}")


def load_corpus(specs: str | Spec | Sequence[str | Spec], *, skip_bad_rows: bool = False,
                labels: Sequence[str] | None = None) -> tuple[Corpus, list[DataError]]:
    """Reads every spec into one corpus. Returns it with the bad rows that were skipped (empty unless
    `skip_bad_rows`). The label vocabulary is `labels`, else the set every spec fixes (`labels=` or its scheme's),
    else the labels seen."""
    if isinstance(specs, (str, Spec)):
        specs = [specs]
    specs = [parse_spec(s) for s in specs]
    if not specs:
        raise SpecError("no corpus spec given")
    ctx = ReadContext(skip_bad_rows=skip_bad_rows)
    docs = []
    for spec in specs:
        ctx.labels = None
        docs.extend(read_docs(spec, ctx))
    if labels is None:
        fixed = {fixed_labels(s) for s in specs}
        if len(fixed) == 1 and None not in fixed:
            labels = next(iter(fixed))
    try:
        return Corpus.from_docs(docs, labels), ctx.skipped
    except ValueError as e:
        raise DataError(", ".join(str(s) for s in specs), None, str(e)) from None
