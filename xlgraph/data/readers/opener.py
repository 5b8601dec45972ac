"""opener:DIR[?classes=4&langs=en,es&splits=train,test] — OpeNER (en, es) and MultiBooked (ca, eu) hotel-review
  sentences as prepared for BLSE: ``DIR/datasets/<lang>/opener_sents/{train,dev,test}/<class>.txt`` (DIR may also be
  the ``datasets`` folder), one sentence per line, the label the file name. classes=4 (default): strneg, neg, pos,
  strpos; classes=2: negative (strneg + neg) vs positive (pos + strpos); classes=5 adds mixed, which 2 and 4 leave
  out, as is usual.

Texts are stripped and must not be blank; blank lines at the end of a file are ignored.
Doc ids: ``<lang>/<split>/<class file>/<line>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, iter_lines, register
from xlgraph.data.readers.io import dataset_root, list_param
from xlgraph.data.spec import Spec
from xlgraph.errors import SpecError

OPENER_CLASSES = {  # classes= -> {file name: label}, in label order
    "2": {"strneg": "negative", "neg": "negative", "pos": "positive", "strpos": "positive"},
    "4": {"strneg": "strneg", "neg": "neg", "pos": "pos", "strpos": "strpos"},
    "5": {"strneg": "strneg", "neg": "neg", "mixed": "mixed", "pos": "pos", "strpos": "strpos"},
}
OPENER_SPLITS = ("train", "dev", "test")


def _opener_classes(spec: Spec) -> dict[str, str]:
    classes = spec.get("classes", "4")
    if classes not in OPENER_CLASSES:
        raise SpecError(f"corpus spec {str(spec)!r}: classes={classes} is not one of 2, 4, 5")
    return OPENER_CLASSES[classes]


def _opener_labels(spec: Spec) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_opener_classes(spec).values()))


@register("opener", labels=_opener_labels, params=("classes", "langs", "splits"))
def read_opener(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    root = dataset_root(spec.path, "datasets")
    files = _opener_classes(spec)
    present = sorted(p.name for p in root.iterdir() if (p / "opener_sents").is_dir())
    langs = list_param(spec, "langs", present) or tuple(present)
    splits = list_param(spec, "splits", OPENER_SPLITS) or OPENER_SPLITS
    for lang in langs:
        for split in splits:
            for name, label in files.items():
                path = root / lang / "opener_sents" / split / f"{name}.txt"
                for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
                    if not line.strip():
                        ctx.bad(path, number, "empty text")
                    elif ctx.check_label(path, number, label) and ctx.check_text(path, number, line):
                        yield Doc(line.strip(), lang, label, split, f"{lang}/{split}/{name}/{number}")
