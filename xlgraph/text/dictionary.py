"""Bilingual dictionaries: MUSE files, identical-string pseudo-dictionaries, and their word pairs as row indices.

A dictionary maps a source word to its translations, in file order (MUSE lists source words by frequency, so the
order is meaningful: the standard splits are its first 5,000 source words and the next 1,500).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from xlgraph.errors import DataError, XlgraphError

Dictionary = Mapping[str, Sequence[str]]


def load_dictionary(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Reads a MUSE dictionary: one `source target` pair per line, a source word on as many lines as it has
    translations. Plain or gzipped (recognised by content, not name) UTF-8. Returns source word -> translations in
    file order without duplicates; pairs whose two words are equal are kept. Blank lines are skipped; any other
    line without exactly two whitespace-separated fields, or that is not UTF-8, raises DataError naming it."""
    pairs: dict[str, dict[str, None]] = {}  # dicts as ordered sets
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open if gzipped else open)(path, "rb") as f:
            for line_no, raw_line in enumerate(f, 1):  # bytes split on b"\n" only, so line numbers match the file
                try:
                    line = raw_line.decode("utf-8-sig" if line_no == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(path, line_no, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise DataError(path, line_no, f"expected 'source target', got {len(fields)} field(s): "
                                                   f"{line.strip()[:80]!r}")
                pairs.setdefault(fields[0], {})[fields[1]] = None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(path, None, f"damaged gzip file ({e})") from None
    return {src: tuple(tgts) for src, tgts in pairs.items()}


def identical_dictionary(src_words: Iterable[str], tgt_words: Iterable[str], *,
                         max_rank: int | None = None) -> dict[str, tuple[str]]:
    """The pseudo-dictionary of Smith et al. (2017): every string in both vocabularies translates to itself
    (names, numbers, shared loanwords). `max_rank` looks only at each vocabulary's first (most frequent) words."""
    tgt = set(list(tgt_words)[:max_rank] if max_rank is not None else tgt_words)
    src = list(src_words)[:max_rank] if max_rank is not None else src_words
    return {w: (w,) for w in src if w in tgt}


def pair_indices(dictionary: Dictionary, src_index: Mapping[str, int],
                 tgt_index: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (source, target), int32, of every dictionary pair with both words in the vocabularies; a
    source word with several translations gives several pairs (the least-squares fit then weighs them all)."""
    src, tgt = [], []
    for s, translations in dictionary.items():
        i = src_index.get(s)
        if i is None:
            continue
        for t in translations:
            j = tgt_index.get(t)
            if j is not None:
                src.append(i)
                tgt.append(j)
    return np.asarray(src, np.int32), np.asarray(tgt, np.int32)


def require_pairs(src: np.ndarray, dictionary: Dictionary, what: str = "dictionary") -> None:
    """An XlgraphError when no pair of `dictionary` is in both vocabularies: a fit on nothing is a mistake
    (wrong language pair, or vectors with a different casing), not a zero map."""
    if src.size == 0:
        example = ", ".join(f"{s} {t[0]}" for s, t in list(dictionary.items())[:3] if t)
        raise XlgraphError(f"no {what} pair has both words in the vocabularies ({len(dictionary)} source words, "
                           f"e.g. {example or 'none'}); check the language direction and casing")
