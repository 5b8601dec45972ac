"""xlmt:DIR[?langs=en,de&splits=train,test] — UMSAB tweet sentiment (XLM-T, Barbieri et al., LREC 2022):
  ``DIR/sentiment/<language>/{train,val,test}_{text,labels}.txt`` (DIR may also be the ``sentiment`` folder).
  Language folders are full English names (``arabic`` ... ``spanish``); others (the repo's ``all``) are not read.
  ``val`` is split dev. Line n of the labels file labels line n of the text file: 0 negative, 1 neutral, 2 positive
  (TweetEval's convention); the two files must have the same number of lines. The English texts carry JSON-style
  ``\\uXXXX`` escapes (``i\\u2019m``, ``May\\u002c``) left over from the SemEval export; they are decoded, since no
  tweet means a literal backslash-u. Other backslashes and the stray CSV quoting of some tweets are kept as they are.

Texts are stripped and must not be blank; blank lines at the end of a file are ignored.
Doc ids: ``<lang>/<split>/<line>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, register
from xlgraph.data.readers.io import dataset_root, decode_line, iter_raw_lines, list_param, without_trailing_blanks
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError

XLMT_LANGS = {"arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi", "italian": "it",
              "portuguese": "pt", "spanish": "es"}
XLMT_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
XLMT_SPLITS = {"train": "train", "val": "dev", "test": "test"}  # file prefix -> split
_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")


def unescape(text: str) -> str:
    """Decodes ``\\uXXXX`` escapes. Surrogate pairs are joined; lone surrogates and control characters stay escaped,
    so a text never gains a line break or a character that cannot be encoded."""
    def char(m: re.Match) -> str:
        if m[1]:
            return chr(0x10000 + ((int(m[1], 16) - 0xD800) << 10) + int(m[2], 16) - 0xDC00)
        code = int(m[3], 16)
        return m[0] if code < 0x20 or 0xD800 <= code <= 0xDFFF else chr(code)

    return _ESCAPE.sub(char, text)


def _xlmt_pair(text_file: Path, labels_file: Path, lang: str, split: str, ctx: ReadContext) -> Iterator[Doc]:
    # Read the two files in step, undecoded, so an undecodable line keeps its place and the files stay aligned.
    texts = without_trailing_blanks(iter_raw_lines(text_file))
    labels = without_trailing_blanks(iter_raw_lines(labels_file))
    for t, y in zip_longest(texts, labels):  # (line number, raw line, real path), or None past the shorter file
        if t is None or y is None:
            number, _, longer = y if t is None else t
            raise DataError(longer, number, f"{text_file.name} and {labels_file.name} have different numbers of lines")
        number, text_path, labels_path = t[0], t[2], y[2]
        text = decode_line(t[1], text_path, number, ctx)
        label = decode_line(y[1], labels_path, number, ctx) if text is not None else None
        if text is None or label is None:
            continue
        text, label = unescape(text).strip(), label.strip()
        if label not in XLMT_LABELS:
            ctx.bad(labels_path, number, f"label {label!r} is not 0, 1 or 2")
        elif not text:
            ctx.bad(text_path, number, "empty text")
        elif ctx.check_label(labels_path, number, XLMT_LABELS[label]) and ctx.check_text(text_path, number, text):
            yield Doc(text, lang, XLMT_LABELS[label], split, f"{lang}/{split}/{number}")


@register("xlmt", labels=tuple(XLMT_LABELS.values()), params=("langs", "splits"))
def read_xlmt(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    root = dataset_root(spec.path, "sentiment")
    codes = {code: name for name, code in XLMT_LANGS.items()}
    langs = list_param(spec, "langs", codes, aliases=XLMT_LANGS) or tuple(sorted(codes))
    splits = list_param(spec, "splits", XLMT_SPLITS.values()) or tuple(XLMT_SPLITS.values())
    found = 0
    for lang in langs:
        for prefix, split in XLMT_SPLITS.items():
            text_path, labels_path = (root / codes[lang] / f"{prefix}_{kind}.txt" for kind in ("text", "labels"))
            if split in splits and (text_path.exists() or text_path.with_name(text_path.name + ".gz").exists()):
                found += 1
                yield from _xlmt_pair(text_path, labels_path, lang, split, ctx)
    if not found:
        raise DataError(root, None, "no <language>/{train,val,test}_text.txt files for these languages and splits")
