"""CoNLL-U (Universal Dependencies): ``conllu:PATH[?lang=CODE&split=SPLIT]``, PATH a file or a directory searched
recursively for ``*.conllu`` / ``*.conllu.gz``.

`read_sentences` gives sentences with their word forms and UPOS tags (for POS taggers); the registered reader gives one
unlabelled doc per sentence. Language and split come from UD file names (``en_ewt-ud-train.conllu`` -> en, train), else
from ``lang=`` / ``split=`` (split defaults to train).

A sentence is a block of ``#`` comments and token lines ended by a blank line (extra blank lines are ignored; the last
block may lack its blank line). Token lines have exactly 10 tab-separated columns; word IDs run 1, 2, 3, ...; multiword
ranges (``3-4``) and empty nodes (``5.1``) are checked but left out of the tokens. FORM and UPOS must not be empty. The
text is ``# text =`` (or the forms joined by spaces when it is missing), the id ``# sent_id =`` (or the sentence's
number in the file). A sentence with any bad line is one bad row, reported at its first bad line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

from xlgraph.data.corpus import SPLITS, Doc
from xlgraph.data.readers import ReadContext, register
from xlgraph.data.readers.io import is_blank, iter_raw_lines
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError, SpecError

_UD_NAME = re.compile(r"([a-z]{2,3})_\w+-ud-(train|dev|test)\.conllu(?:\.gz)?")
_RANGE, _EMPTY = re.compile(r"(\d+)-(\d+)"), re.compile(r"\d+\.\d+")


@dataclasses.dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    tokens: list[str]
    upos: list[str]


def conllu_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(path, None, "no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.name.endswith((".conllu", ".conllu.gz")) and p.is_file())
    if not files:
        raise DataError(path, None, "no .conllu files in this directory")
    return files


def read_sentences(path: str | Path, ctx: ReadContext) -> Iterator[Sentence]:
    """Every sentence of the file, or of the .conllu files under the directory, streaming."""
    for file in conllu_files(path):
        yield from _file_sentences(file, ctx)


class _Block:
    """The sentence being read."""

    def __init__(self, start: int):
        self.start, self.comments, self.tokens, self.upos, self.bad = start, {}, [], [], False


def _file_sentences(file: Path, ctx: ReadContext) -> Iterator[Sentence]:
    block, count = None, 0
    for number, raw, real in iter_raw_lines(file):
        if is_blank(raw):
            if block is not None:
                count += 1
                yield from _finish(block, count, real, ctx)
            block = None
            continue
        block = block or _Block(number)
        if block.bad:
            continue  # already reported: one bad row per sentence
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            problem = f"undecodable bytes (not UTF-8) at byte {e.start}"
        else:
            problem = _take(block, line)
        if problem:
            block.bad = True
            ctx.bad(real, number, problem)
    if block is not None:
        count += 1
        yield from _finish(block, count, str(file), ctx)


def _take(block: _Block, line: str) -> str | None:
    """Adds one comment or token line to the block; the problem with it, if any."""
    if "\0" in line:
        return "NUL byte in text"
    if line.startswith("#"):
        key, eq, value = line[1:].partition("=")
        if eq:
            block.comments.setdefault(key.strip(), value.strip())
        return None
    cols = line.split("\t")
    if len(cols) != 10:
        return f"expected 10 tab-separated columns, found {len(cols)}"
    word_id, form, upos = cols[0], cols[1], cols[3]
    expected = len(block.tokens) + 1
    if word_id.isdigit():
        if int(word_id) != expected:
            return f"word ID {word_id} out of sequence, expected {expected}"
        if not form or not upos:
            return "empty FORM" if not form else "empty UPOS"
        block.tokens.append(form)
        block.upos.append(upos)
    elif m := _RANGE.fullmatch(word_id):
        if int(m[1]) != expected or int(m[2]) <= int(m[1]):
            return f"multiword range {word_id} does not start at the next word {expected}"
    elif not _EMPTY.fullmatch(word_id):
        return f"bad ID {word_id!r}"
    return None


def _finish(block: _Block, count: int, path: str, ctx: ReadContext) -> Iterator[Sentence]:
    if block.bad:
        return
    if not block.tokens:
        ctx.bad(path, block.start, "sentence has no token lines")
        return
    yield Sentence(block.comments.get("sent_id") or str(count), block.comments.get("text") or " ".join(block.tokens),
                   block.tokens, block.upos)


def _lang_split(file: Path, spec: Spec) -> tuple[str, str]:
    m = _UD_NAME.fullmatch(file.name)
    lang = spec.get("lang") or (m[1] if m else None)
    if lang is None:
        raise SpecError(f"corpus spec {str(spec)!r}: cannot tell the language of {file.name} (UD names look like "
                        "en_ewt-ud-train.conllu); add lang=CODE")
    split = spec.get("split") or (m[2] if m else "train")
    if split not in SPLITS:
        raise SpecError(f"corpus spec {str(spec)!r}: split={split!r} is not one of {', '.join(SPLITS)}")
    return lang, split


@register("conllu")
def read_conllu(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    files = conllu_files(spec.path)
    places = [_lang_split(f, spec) for f in files]  # all before reading, so a bad name fails fast
    for file, (lang, split) in zip(files, places):
        stem = file.name.removesuffix(".gz").removesuffix(".conllu")
        for sentence in _file_sentences(file, ctx):
            yield Doc(sentence.text, lang, None, split, f"{stem}/{sentence.id}")
