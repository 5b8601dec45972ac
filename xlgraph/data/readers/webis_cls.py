"""Webis-CLS-10 (Prettenhofer & Stein, ACL 2010):
``webis-cls:DIR[?langs=en,de&domains=books,dvd&splits=train,test&summary=1]``.

Layout ``DIR/{de,en,fr,jp}/{books,dvd,music}/{train,test,unlabeled}.review`` (or ``.review.gz``), each an XML file
``<items><item><rating>5.0</rating><text>...</text>...</item>...</items>``. ``jp`` is language ``ja``. Other children of
``<item>`` (category, asin, summary, ...) are ignored, except that ``summary=1`` puts the summary before the text.

Labels: rating > 3 is ``positive``, < 3 ``negative``. A rating of 3 in train or test is a bad row: the benchmark's
labelled sets contain none, and calling it either class (or unlabelled, inside a labelled split) would change the task.
``unlabeled.review`` items become split ``unlabeled`` without a label, their ratings unread.

A bad item (missing or unreadable rating, rating 3 or outside 1..5, missing or blank text) is a bad row reported at
the line of its ``<item>``. Malformed XML (including bytes not in the file's encoding) is a DataError at the parser's
line even with skip_bad_rows, because the parser cannot resume: the rest of the file would be lost, not skipped.
Doc ids are ``<lang>/<domain>/<split>/<item number>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from xml.parsers.expat import ErrorString

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, register
from xlgraph.data.readers.io import flag_param, iter_raw_lines, list_param
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError

LABELS = ("negative", "positive")
LANGS = {"de": "de", "en": "en", "fr": "fr", "jp": "ja"}  # directory -> language code
DOMAINS = ("books", "dvd", "music")
SPLITS = ("train", "test", "unlabeled")


def _label(item: ET.Element) -> tuple[str | None, str | None]:
    """(label, None) or (None, problem)."""
    rating = item.findtext("rating")
    if rating is None:
        return None, "item has no <rating>"
    try:
        value = float(rating)
    except ValueError:
        return None, f"rating {rating.strip()!r} is not a number"
    if not 1 <= value <= 5:  # also false for nan
        return None, f"rating {value} is outside 1..5"
    if value == 3:
        return None, "rating 3 is neither positive (> 3) nor negative (< 3)"
    return ("positive" if value > 3 else "negative"), None


def read_file(path: Path, lang: str, domain: str, split: str, ctx: ReadContext, summary: bool = False) -> Iterator[Doc]:
    # iterparse's own loop, fed one line at a time so every event has a line number.
    parser = ET.XMLPullParser(events=("start", "end"))
    depth, item_line, count, real = 0, 0, 0, str(path)
    root = None
    try:
        for number, raw, real in iter_raw_lines(path):
            parser.feed(raw)
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    root = root if root is not None else elem
                    if depth == 2 and elem.tag == "item":
                        item_line = number
                    continue
                depth -= 1
                if depth != 1 or elem.tag != "item":
                    continue
                count += 1
                doc = _doc(elem, path=real, line=item_line, lang=lang, domain=domain, split=split, number=count,
                           summary=summary, ctx=ctx)
                root.remove(elem)  # stream: keep no finished items in memory
                if doc is not None:
                    yield doc
        parser.close()
    except ET.ParseError as e:
        line, column = e.position
        raise DataError(real, line, f"malformed XML at column {column + 1}: {ErrorString(e.code)}") from None


def _doc(item, *, path, line, lang, domain, split, number, summary, ctx) -> Doc | None:
    if item.find("text") is None:
        ctx.bad(path, line, "item has no <text>")
        return None
    text = (item.findtext("text") or "").strip()
    if summary:
        text = "\n".join(filter(None, [(item.findtext("summary") or "").strip(), text]))
    if not text:
        ctx.bad(path, line, "empty text")
        return None
    label = None
    if split != "unlabeled":
        label, problem = _label(item)
        if problem:
            ctx.bad(path, line, problem)
            return None
        if not ctx.check_label(path, line, label):
            return None
    if not ctx.check_text(path, line, text):  # expat refuses NUL and surrogates; kept for the rule's sake
        return None
    return Doc(text, LANGS[lang], label, split, f"{LANGS[lang]}/{domain}/{split}/{number}")


@register("webis-cls", labels=LABELS, params=("langs", "domains", "splits", "summary"))
def read_webis_cls(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    root = Path(spec.path)
    if not root.is_dir():
        raise DataError(root, None, "no such directory (expected Webis-CLS-10 with de/, en/, fr/, jp/)")
    langs = list_param(spec, "langs", LANGS, aliases={"ja": "jp"}) or tuple(LANGS)
    domains = list_param(spec, "domains", DOMAINS) or DOMAINS
    splits = list_param(spec, "splits", SPLITS) or SPLITS
    summary = flag_param(spec, "summary")
    found = 0
    for lang in langs:
        for domain in domains:
            for split in splits:
                path = root / lang / domain / f"{split}.review"
                path = path if path.exists() else path.with_name(path.name + ".gz")
                if path.exists():
                    found += 1
                    yield from read_file(path, lang, domain, split, ctx, summary)
    if not found:
        raise DataError(root, None, "no Webis-CLS-10 files for these languages, domains and splits "
                                    "(expected <lang>/<domain>/<split>.review)")
