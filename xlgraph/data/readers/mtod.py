"""MTOD intents (Schuster, Gupta, Shah & Lewis, NAACL 2019): ``mtod:DIR[?langs=en,es&splits=train,test]``, and
multi-label sets with ``targets=domain+slots`` (or ``domain``, ``slots``).

Layout: ``DIR/<lang>/<part>-<tag>.tsv`` (or ``.tsv.gz``), e.g. ``en/train-en.tsv``, ``th/eval-th_TH.tsv``. Parts:
train, eval (split ``dev``), test, and unlabeled (a pool for semi-supervised methods). The language is the directory
name; the tag's part before ``_`` must equal it. Other files (the original release's upsampled variants) are ignored.

Each line has exactly 5 tab-separated columns:
  1. intent: one of the 12 INTENTS (may be empty in unlabeled files; where an unlabeled file keeps the gold intent the
     doc keeps it too, so pseudo-label precision can be measured: methods must not train on split ``unlabeled`` labels)
  2. slots: ``start:end:type,...`` or empty; read only with ``targets=`` (offsets must be integers but are not used:
     the real ES test file has a ``-2:30`` span, which names its type correctly)
  3. utterance: must not be blank; leading/trailing whitespace is stripped (many end in a space)
  4. language tag (``en_XX``, ``es_XX``, ``th_TH``)
  5. tokenization: empty, or a JSON object
Blank lines at the end of a file are ignored; every other line breaking these rules is a bad row.
Doc ids are ``<lang>/<split>/<line number>``, stable whichever rows are skipped.

``targets=``: each document's multi-label set (`Doc.targets`), built from real annotations: the domain of its
intent (alarm, reminder, weather; makes every set non-empty) and/or the types of its slots (datetime, location,
reminder/todo, ...); sets hold 1 to 6 labels, 2.5-2.65 on average (en, es, th test). MTOD's English train file was
rebuilt without slot columns (see ../shared/data/mtod/PROVENANCE.md): with ``slots`` a file without any slot
annotation gives documents whose set is None (not annotated), so that training on them fails loudly instead of
learning that English utterances have no slots.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

from xlgraph.data.corpus import SPLITS, Doc
from xlgraph.data.readers import ReadContext, iter_lines, register
from xlgraph.data.readers.io import list_param
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError, SpecError

INTENTS = (
    "alarm/cancel_alarm", "alarm/modify_alarm", "alarm/set_alarm", "alarm/show_alarms", "alarm/snooze_alarm",
    "alarm/time_left_on_alarm", "reminder/cancel_reminder", "reminder/set_reminder", "reminder/show_reminders",
    "weather/checkSunrise", "weather/checkSunset", "weather/find",
)
TARGETS = ("domain", "slots")
PARTS = {"train": "train", "eval": "dev", "test": "test", "unlabeled": "unlabeled"}  # file name part -> split
_FILE = re.compile(r"(train|eval|test|unlabeled)-([a-z]+)(?:_[A-Z]{2})?\.tsv(?:\.gz)?")  # tag en, es_XX, th_TH


def find_files(root: Path) -> dict[tuple[str, str], Path]:
    """(lang, split) -> file, in directory order (languages sorted, then train, dev, test, unlabeled)."""
    if not root.is_dir():
        raise DataError(root, None, "no such directory (expected an MTOD folder with en/, es/, th/)")
    found: dict[tuple[str, str], Path] = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(lang_dir.iterdir()):
            m = _FILE.fullmatch(f.name)
            if m and m[2] == lang_dir.name:
                key = (lang_dir.name, PARTS[m[1]])
                if key in found:
                    raise DataError(lang_dir, None, f"two files for split {key[1]}: {found[key].name} and {f.name}")
                found[key] = f
    if not found:
        raise DataError(root, None, "no MTOD files (expected <lang>/<part>-<tag>.tsv[.gz], "
                                    "part train/eval/test/unlabeled)")
    return dict(sorted(found.items(), key=lambda kv: (kv[0][0], SPLITS.index(kv[0][1]))))


def read_file(path: Path, lang: str, split: str, ctx: ReadContext,
              targets: tuple[str, ...] = ()) -> Iterator[Doc]:
    """The file's documents in line order; with `targets` (of TARGETS) each carries its multi-label set."""
    rows = _read_rows(path, lang, split, ctx, with_slots="slots" in targets)
    if not targets:
        yield from (doc for doc, _ in rows)
        return
    rows = list(rows)
    annotated = "slots" not in targets or any(slots for _, slots in rows)
    for doc, slots in rows:
        domain = {doc.label.split("/")[0]} if "domain" in targets and doc.label else set()
        sets = tuple(sorted(domain | set(slots))) if annotated else None
        yield dataclasses.replace(doc, targets=sets)


def _read_rows(path: Path, lang: str, split: str, ctx: ReadContext,
               with_slots: bool) -> Iterator[tuple[Doc, list[str]]]:
    for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
        cols = line.split("\t")
        if len(cols) != 5:
            ctx.bad(path, number, f"expected 5 tab-separated columns (intent, slots, utterance, language, "
                                  f"tokenization), found {len(cols)}")
            continue
        intent, slot_field, text, tag, tokens = cols
        text = text.strip()
        slots = slot_types(slot_field) if with_slots else []
        if not text:
            ctx.bad(path, number, "empty utterance")
        elif tag.split("_")[0] != lang:
            ctx.bad(path, number, f"language tag {tag!r} does not match the directory {lang!r}")
        elif tokens and not _is_json_object(tokens):
            ctx.bad(path, number, "tokenization column is neither empty nor a JSON object")
        elif not intent and split != "unlabeled":
            ctx.bad(path, number, "empty intent")
        elif isinstance(slots, str):
            ctx.bad(path, number, f"slot span {slots!r} is not start:end:type")
        elif (not intent or ctx.check_label(path, number, intent)) and ctx.check_text(path, number, text):
            yield Doc(text, lang, intent or None, split, f"{lang}/{split}/{number}"), slots


def slot_types(field: str) -> list[str] | str:
    """The slot types of one slot column (``start:end:type,...``; empty: none), or the first malformed span."""
    types = []
    for span in filter(None, field.split(",")):
        start, _, rest = span.partition(":")
        end, _, kind = rest.partition(":")
        if not (_is_int(start) and _is_int(end) and kind):
            return span
        types.append(kind)
    return types


def _is_int(text: str) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@register("mtod", labels=INTENTS, params=("langs", "splits", "targets"))
def read_mtod(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    files = find_files(Path(spec.path))
    langs = list_param(spec, "langs")
    splits = list_param(spec, "splits", SPLITS)
    targets = tuple(_targets_param(spec))
    present = sorted({lang for lang, _ in files})
    missing = sorted(set(langs or ()) - set(present))
    if missing:
        raise SpecError(f"corpus spec {str(spec)!r}: no MTOD data for langs={','.join(missing)} in {spec.path} "
                        f"(found {', '.join(present)})")
    chosen = {k: f for k, f in files.items() if (not langs or k[0] in langs) and (not splits or k[1] in splits)}
    if not chosen:
        raise SpecError(f"corpus spec {str(spec)!r}: no files for these langs/splits in {spec.path} "
                        f"(found {', '.join(f'{lang}/{split}' for lang, split in files)})")
    for (lang, split), path in chosen.items():
        yield from read_file(path, lang, split, ctx, targets)


def _targets_param(spec: Spec) -> tuple[str, ...]:
    value = spec.get("targets")
    if value is None:
        return ()
    items = value.split("+")
    if not value or any(item not in TARGETS for item in items) or len(set(items)) != len(items):
        raise SpecError(f"corpus spec {str(spec)!r}: targets={value!r} is not domain, slots or domain+slots")
    return tuple(items)
