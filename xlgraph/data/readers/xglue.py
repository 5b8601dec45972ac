"""XGLUE news classification (NC; Liang et al., 2020), the second data set of the CLHG paper:
``xglue-nc:DIR[?langs=en,de&splits=train,test]``.

Layout as in the XGLUE release (``xglue_full_dataset.tar.gz``, folder ``NC``) and as the Hugging Face ``datasets``
loading script ``xglue`` (config ``nc``) reads it: ``DIR/NC/xglue.nc.en.train`` (English only) and
``xglue.nc.<lang>.dev`` / ``xglue.nc.<lang>.test`` for en, de, es, fr, ru (DIR may also be the ``NC`` folder; each file
may be gzipped). No header; each line is exactly ``news title<TAB>news body<TAB>news category``, the category one of
the 10 in LABELS. The doc text is the title and the body, stripped, on two lines (either may be empty, not both).
Blank lines at the end of a file are ignored; any other bad line is a bad row. Doc ids: ``<lang>/<split>/<line>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, iter_lines, register
from xlgraph.data.readers.io import dataset_root, list_param
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError

LABELS = ("autos", "entertainment", "finance", "foodanddrink", "health", "lifestyle", "news", "sports", "travel",
          "video")
LANGS = ("en", "de", "es", "fr", "ru")
SPLITS = ("train", "dev", "test")


def read_file(path: Path, lang: str, split: str, ctx: ReadContext) -> Iterator[Doc]:
    for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
        cols = line.split("\t")
        if len(cols) != 3:
            ctx.bad(path, number, f"expected 3 tab-separated columns (title, body, category), found {len(cols)}")
            continue
        title, body, label = (c.strip() for c in cols)
        text = "\n".join(filter(None, (title, body)))
        if not text:
            ctx.bad(path, number, "empty text (title and body)")
        elif not label:
            ctx.bad(path, number, "empty category")
        elif ctx.check_label(path, number, label) and ctx.check_text(path, number, text):
            yield Doc(text, lang, label, split, f"{lang}/{split}/{number}")


@register("xglue-nc", labels=LABELS, params=("langs", "splits"))
def read_xglue_nc(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    root = dataset_root(spec.path, "NC")
    langs = list_param(spec, "langs", LANGS) or LANGS
    splits = list_param(spec, "splits", SPLITS) or SPLITS
    found = 0
    for lang in langs:
        for split in splits:
            path = root / f"xglue.nc.{lang}.{split}"
            if path.exists() and path.with_name(path.name + ".gz").exists():
                raise DataError(root, None, f"both {path.name} and {path.name}.gz exist; keep one")
            path = path if path.exists() else path.with_name(path.name + ".gz")
            if path.exists():
                found += 1
                yield from read_file(path, lang, split, ctx)
    if not found:
        raise DataError(root, None, "no XGLUE NC files for these languages and splits (expected xglue.nc.en.train, "
                                    "xglue.nc.<lang>.dev, xglue.nc.<lang>.test)")
