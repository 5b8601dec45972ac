"""Parallel sentences with English, for sentence alignment (HAN + Sent-Ali): each pair is (language, sentence,
its English translation). Two layouts, named by a spec as corpora are:

    multi30k:DIR[?langs=de,fr&splits=train,val]  DIR/{split}.{lang}[.gz], line n the translation of line n of
                                                 DIR/{split}.en[.gz] (Multi30k's raw/ folder; default split train)
    tatoeba:DIR[?langs=de,fr,es,it,pt]           DIR/tatoeba.{xxx}-eng.{xxx} and .eng (LASER's Tatoeba test set;
                                                 xxx the ISO 639-3 code; two-letter codes are mapped)

Files are read in step, so line numbers stay aligned; files of different lengths, undecodable lines and a blank
sentence facing a non-blank one are errors naming the file and line (a blank line on both sides is skipped).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from itertools import zip_longest
from pathlib import Path

import numpy as np

from xlgraph.data.readers.io import ReadContext, decode_line, iter_raw_lines, list_param, without_trailing_blanks
from xlgraph.data.spec import Spec, parse_spec
from xlgraph.errors import DataError, SpecError

log = logging.getLogger("xlgraph")

ISO639_3 = {"de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "ru": "rus", "ja": "jpn",
            "zh": "cmn", "ar": "ara", "hi": "hin", "th": "tha", "eu": "eus", "ca": "cat", "cs": "ces", "pl": "pol",
            "sv": "swe", "da": "dan", "fi": "fin", "el": "ell", "tr": "tur", "ko": "kor", "vi": "vie", "uk": "ukr"}


@dataclasses.dataclass(frozen=True)
class Parallel:
    lang: np.ndarray  # str, the language of `text`
    text: np.ndarray  # object
    english: np.ndarray  # object, the translation of `text`

    def __len__(self) -> int:
        return len(self.text)


def _pairs(path: Path, english: Path) -> tuple[list[str], list[str]]:
    ctx = ReadContext()
    texts, englishes = [], []
    lines = zip_longest(without_trailing_blanks(iter_raw_lines(path)), without_trailing_blanks(iter_raw_lines(english)))
    for a, b in lines:
        if a is None or b is None:
            number, _, longer = b if a is None else a
            raise DataError(longer, number, f"{path.name} and {english.name} have different numbers of lines")
        number = a[0]
        text, eng = decode_line(a[1], a[2], number, ctx).strip(), decode_line(b[1], b[2], number, ctx).strip()
        if not text and not eng:
            continue
        if not text or not eng:
            raise DataError(a[2] if not text else b[2], number, "blank sentence facing a non-blank translation")
        texts.append(text)
        englishes.append(eng)
    return texts, englishes


def _multi30k(spec: Spec) -> list[tuple[str, list[str], list[str]]]:
    root = Path(spec.path)
    langs = list_param(spec, "langs") or ("de", "fr")
    out = []
    for split in list_param(spec, "splits") or ("train",):
        for lang in langs:
            out.append((lang, *_pairs(root / f"{split}.{lang}", root / f"{split}.en")))  # .gz found by the reader
    return out


def _tatoeba(spec: Spec) -> list[tuple[str, list[str], list[str]]]:
    root = Path(spec.path)
    langs = list_param(spec, "langs")
    if not langs:
        raise SpecError(f"parallel spec {str(spec)!r}: give the languages, e.g. ?langs=de,fr,es")
    out = []
    for lang in langs:
        code = ISO639_3.get(lang, lang)
        base = root / f"tatoeba.{code}-eng"
        if not base.with_name(base.name + f".{code}").exists():
            raise DataError(base.with_name(base.name + f".{code}"), None,
                            f"no Tatoeba file for {lang!r} (looked for ISO 639-3 code {code!r})")
        out.append((lang, *_pairs(base.with_name(base.name + f".{code}"), base.with_name(base.name + ".eng"))))
    return out


LAYOUTS = {"multi30k": _multi30k, "tatoeba": _tatoeba}


def read_parallel(specs: str | Sequence[str], *, max_pairs: int = 0, seed: int = 0) -> Parallel:
    """Every pair of every spec; with `max_pairs`, that many at most per language, chosen at random by `seed`."""
    if isinstance(specs, str):
        specs = [specs]
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for item in specs:
        spec = parse_spec(item)
        if spec.scheme not in LAYOUTS:
            raise SpecError(f"parallel spec {item!r}: unknown layout {spec.scheme!r}; known: {', '.join(LAYOUTS)}")
        for lang, texts, english in LAYOUTS[spec.scheme](spec):
            have = groups.setdefault(lang, ([], []))
            have[0].extend(texts)
            have[1].extend(english)
    parts = []
    for lang, (texts, english) in groups.items():
        index = np.arange(len(texts))
        if max_pairs and len(texts) > max_pairs:
            index = np.sort(np.random.default_rng([seed, len(parts)]).permutation(len(texts))[:max_pairs])
        parts.append(Parallel(np.full(len(index), lang), np.asarray(texts, object)[index],
                              np.asarray(english, object)[index]))
        log.info("parallel sentences: %d %s-en pairs", len(index), lang)
    if not parts:
        raise SpecError("no parallel sentences in " + ", ".join(specs))
    return Parallel(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("lang", "text", "english")))
