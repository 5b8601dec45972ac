"""MLDoc (Schwenk & Li, LREC 2018): ``mldoc:DIR[?train_size=1000&langs=en,de&splits=train,test]``.

Files ``DIR/<language>.train.<size>``, ``<language>.dev``, ``<language>.test`` (or with ``.gz``), language as a full
English name (``english``, ``german``, ...). ``train_size`` picks the train file (default 1000; MLDoc ships 1000, 2000,
5000 and 10000). Each line is exactly ``label<TAB>text``, label one of CCAT, ECAT, GCAT, MCAT; text is stripped and must
not be blank. Blank lines at the end of a file are ignored. Doc ids are ``<lang>/<split>/<line number>``.

The copy of MLDoc shipped with CoSDA-ML (github.com/kodenii/CoSDA-ML, ``dataset/MLDoc``), which many papers use, has the
same files and lines but numbers the labels: 0 = MCAT, 1 = CCAT, 2 = ECAT, 3 = GCAT (read from its documents: 0 are
market reports, 1 company news, 2 economics, 3 politics and sport). A file whose labels include numbers 0-3 and no
MLDoc names is read with that map (logged at INFO); in any other file a number is an unknown label. Docs carry the
names either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, iter_lines, register
from xlgraph.data.readers.io import is_blank, iter_raw_lines, list_param
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError, SpecError

LABELS = ("CCAT", "ECAT", "GCAT", "MCAT")
LANGUAGES = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it", "japanese": "ja",
             "russian": "ru", "chinese": "zh"}
SPLITS = ("train", "dev", "test")
COSDA_LABELS = {"0": "MCAT", "1": "CCAT", "2": "ECAT", "3": "GCAT"}  # CoSDA-ML's numbers -> MLDoc's names
log = logging.getLogger("xlgraph")


def label_map(path: Path) -> dict[str, str] | None:
    """COSDA_LABELS when the file numbers its labels (numbers 0-3 and no MLDoc names), else None. One extra pass over
    the labels, so the choice is the same for every row of the file."""
    found = set()
    for _, raw, _ in iter_raw_lines(path):
        if not is_blank(raw):
            found.add(raw.split(b"\t", 1)[0].decode("utf-8", "replace"))
    return COSDA_LABELS if found & COSDA_LABELS.keys() and not found & set(LABELS) else None


def read_file(path: Path, lang: str, split: str, ctx: ReadContext) -> Iterator[Doc]:
    names = label_map(path)
    if names is not None:
        log.info("%s: numeric MLDoc labels, read as CoSDA-ML's 0=MCAT 1=CCAT 2=ECAT 3=GCAT", path)
    for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
        cols = line.split("\t")
        if len(cols) != 2:
            ctx.bad(path, number, f"expected 2 tab-separated columns (label, text), found {len(cols)}")
            continue
        label = names.get(cols[0], cols[0]) if names is not None else cols[0]
        if not cols[1].strip():
            ctx.bad(path, number, "empty text")
        elif names is not None and cols[0] not in names:
            ctx.bad(path, number, f"unknown label {cols[0]!r}; this file numbers its labels 0-3 (CoSDA-ML's MLDoc)")
        elif ctx.check_label(path, number, label) and ctx.check_text(path, number, cols[1]):
            yield Doc(cols[1].strip(), lang, label, split, f"{lang}/{split}/{number}")


def _find(path: Path) -> Path | None:
    """`path` or `path.gz`, whichever exists (both is ambiguous)."""
    plain, gz = path, path.with_name(path.name + ".gz")
    if plain.exists() and gz.exists():
        raise DataError(path.parent, None, f"both {plain.name} and {gz.name} exist; keep one")
    return plain if plain.exists() else gz if gz.exists() else None


@register("mldoc", labels=LABELS, params=("train_size", "langs", "splits"))
def read_mldoc(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    root = Path(spec.path)
    if not root.is_dir():
        raise DataError(root, None, "no such directory (expected MLDoc files such as english.train.1000)")
    size = spec.get("train_size", "1000")
    if not size.isdigit() or int(size) <= 0:
        raise SpecError(f"corpus spec {str(spec)!r}: train_size={size!r} is not a positive integer")
    names = {code: name for name, code in LANGUAGES.items()}
    langs = list_param(spec, "langs", names, aliases=LANGUAGES) or tuple(names)  # codes or full names
    splits = list_param(spec, "splits", SPLITS) or SPLITS
    found = 0
    for lang in langs:
        for split in splits:
            path = _find(root / f"{names[lang]}.{split}" if split != "train" else root / f"{names[lang]}.train.{size}")
            if path is not None:
                found += 1
                yield from read_file(path, lang, split, ctx)
    if not found:
        raise DataError(root, None, f"no MLDoc files for these languages and splits (e.g. english.train.{size}, "
                                    "english.dev, german.test)")
