"""One table file: ``tsv:FILE``, ``csv:FILE``, ``jsonl:FILE`` (each may be gzipped).

Parameters: ``text=COL`` (default ``text`` for jsonl and headed tables, required otherwise), ``label=COL`` (omit for
unlabelled data), ``id=COL``, the language as ``lang=CODE`` or ``lang_col=COL`` (one is required), ``split=SPLIT``
(default train), ``header=1`` (tsv/csv: the first line names the columns; ``header=0``, the default, says it does
not). COL is a 0-based column index or a header name; for jsonl it is a key.

tsv splits each line on tabs (no quoting); csv uses the csv module (quoted fields, strict quoting, fields may span
lines, a field may be any length). The header, or else the first data row, fixes the number of columns, and every row
must have exactly that many. A csv record that spans lines and is bad (an unterminated quote swallows the lines after
it) is reported at its first line, and reading resumes at its second line, so the rows it swallowed are still read.
jsonl: each line is a JSON object; the text must be a string, the label a string or integer.
Stripped text, label, language and id must not be empty, nor hold a NUL or a lone surrogate (a ``\\ud800`` JSON
escape). Blank lines at the end are ignored; any other bad line is a bad row. Docs have no id unless ``id=`` names one.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import deque
from collections.abc import Iterator

from xlgraph.data.corpus import SPLITS, Doc
from xlgraph.data.readers import ReadContext, iter_lines, register
from xlgraph.data.readers.io import (
    decode_line,
    flag_param,
    iter_raw_lines,
    real_path,
    without_trailing_blanks,
)
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError, SpecError

FIELDS = ("text", "label", "id", "lang_col")  # spec keys naming columns
TABLE_PARAMS = FIELDS + ("header",)
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # bytes in one csv field: as long as a line may be anywhere else


def _spec_checks(spec: Spec) -> str:
    """The split to use; raises SpecError for what cannot work whatever the file holds."""
    if not spec.get("lang") and not spec.get("lang_col"):
        raise SpecError(f"corpus spec {str(spec)!r}: say which language the texts are in: lang=CODE "
                        "(e.g. lang=de) or lang_col=COLUMN")
    split = spec.get("split", "train")
    if split not in SPLITS:
        raise SpecError(f"corpus spec {str(spec)!r}: split={split!r} is not one of {', '.join(SPLITS)}")
    for key in FIELDS:
        if spec.get(key) is not None and not spec.get(key).strip():
            kind = "key" if spec.scheme == "jsonl" else "column"
            raise SpecError(f"corpus spec {str(spec)!r}: {key}= is empty; name a {kind} or leave the parameter out")
    if spec.scheme != "jsonl":
        flag_param(spec, "header")
    return split


def _columns(spec: Spec, path: str, header: list[str] | None, width: int, line: int) -> dict[str, int]:
    """Spec key -> column index, for tsv/csv."""
    wanted = {k: spec.get(k) for k in FIELDS if spec.get(k) is not None}
    if "text" not in wanted:
        if header is None:
            raise SpecError(f"corpus spec {str(spec)!r}: give text=COLUMN (a 0-based index, or a name with header=1)")
        wanted["text"] = "text"
    index = {}
    for key, col in wanted.items():
        if col.isascii() and col.isdigit():
            index[key] = int(col)
        elif header is None:
            raise SpecError(f"corpus spec {str(spec)!r}: {key}={col} names a column but there is no header; "
                            "use a 0-based index or header=1")
        elif header.count(col) != 1:
            found = "twice" if col in header else f"not at all (columns: {', '.join(header)})"
            raise DataError(path, line, f"{key}={col}: the header names this column {found}")
        else:
            index[key] = header.index(col)
        if index[key] >= width:
            raise DataError(path, line, f"{key}={col}: there is no such column, the table has {width}")
    return index


def _read_rows(spec: Spec, ctx: ReadContext, rows: Iterator[tuple[int, list[str]]], path: str,
               split: str) -> Iterator[Doc]:
    header = flag_param(spec, "header")
    index = width = None
    for number, row in rows:
        if index is None:  # the header, or the first data row, fixes the width
            if header and number != 1:
                raise DataError(path, 1, "the header line cannot be read")
            width = len(row)
            index = _columns(spec, path, row if header else None, width, number)
            if header:
                continue
        if len(row) != width:
            ctx.bad(path, number, f"expected {width} columns, found {len(row)}")
            if isinstance(rows, _CsvRows):
                rows.resync()
            continue
        doc = _doc(spec, ctx, path, number, {k: row[i] for k, i in index.items()}, split)
        if doc is not None:
            yield doc


def _doc(spec: Spec, ctx: ReadContext, path: str, number: int, values: dict, split: str) -> Doc | None:
    """The doc from one row's values (spec key -> value), or None after reporting what is wrong with them."""
    found = {}
    for key in ("text", "label", "id", "lang_col"):
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, int) and not isinstance(value, bool) and key != "text":
            value = str(value)  # jsonl labels and ids may be numbers
        if not isinstance(value, str):
            ctx.bad(path, number, f"{key} is {type(value).__name__}, expected a string")
            return None
        what = "language" if key == "lang_col" else key
        if not value.strip():
            ctx.bad(path, number, f"empty {what}")
            return None
        if not ctx.check_text(path, number, value, what):
            return None
        found[key] = value.strip()
    if "label" in found and not ctx.check_label(path, number, found["label"]):
        return None
    return Doc(found["text"], found.get("lang_col") or spec.get("lang"), found.get("label"), split, found.get("id"))


def _tsv_rows(path: str, ctx: ReadContext) -> Iterator[tuple[int, list[str]]]:
    for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
        yield number, line.split("\t")


class _CsvRows:
    """(first line number, row) for each csv record. After a bad record that spans lines, `resync()` (or a csv
    error) re-reads from the record's second line: an unterminated quote would otherwise swallow every line after
    it into one field and report them all as one bad row."""

    def __init__(self, path: str, ctx: ReadContext):
        self.path, self.ctx = path, ctx
        self.source = without_trailing_blanks(iter_raw_lines(path))
        self.pending: deque[tuple[int, bytes, str]] = deque()  # lines to read again
        self.consumed: list[tuple[int, bytes, str]] = []  # the lines the csv reader took for the current record
        self.reader = self._new_reader()

    def _lines(self) -> Iterator[str]:
        while True:
            item = self.pending.popleft() if self.pending else next(self.source, None)
            if item is None:
                return
            try:
                line = item[1].decode("utf-8")
            except UnicodeDecodeError:
                if self.consumed:  # inside a record: end it here, so that it is reported first, then this line
                    self.pending.appendleft(item)
                    return
                decode_line(item[1], self.path, item[0], self.ctx)  # reports it
                continue
            self.consumed.append(item)
            yield line

    def _new_reader(self):
        return csv.reader(self._lines(), strict=True)

    def resync(self) -> None:
        """Reads the lines of the last record again, all but its first."""
        self.pending.extendleft(reversed(self.consumed[1:]))
        self.consumed.clear()
        self.reader = self._new_reader()  # the old one may have seen the end of its input

    def __iter__(self):
        return self

    def __next__(self) -> tuple[int, list[str]]:
        while True:
            self.consumed.clear()
            try:
                row = next(self.reader)
            except csv.Error as e:
                self.ctx.bad(self.path, self.consumed[0][0], f"bad CSV: {e}")
                self.resync()
                continue
            return self.consumed[0][0], row


def _csv_rows(path: str, ctx: ReadContext) -> _CsvRows:
    # The csv module's default field limit (128 KiB) is below what the other readers take in one line; the limit is
    # process-wide, so it is only ever raised.
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    return _CsvRows(path, ctx)


def _read_table(spec: Spec, ctx: ReadContext, rows) -> Iterator[Doc]:
    split = _spec_checks(spec)  # before opening the file, so a bad spec is reported as such
    path = real_path(spec.path)
    yield from _read_rows(spec, ctx, rows(path, ctx), path, split)


@register("tsv", params=TABLE_PARAMS)
def read_tsv(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    yield from _read_table(spec, ctx, _tsv_rows)


@register("csv", params=TABLE_PARAMS)
def read_csv(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    yield from _read_table(spec, ctx, _csv_rows)


@register("jsonl", params=FIELDS)
def read_jsonl(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    split = _spec_checks(spec)
    keys = {k: spec.get(k) for k in FIELDS if spec.get(k) is not None}
    keys.setdefault("text", "text")
    path = real_path(spec.path)
    for number, line in iter_lines(path, ctx, drop_trailing_blank=True):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            ctx.bad(path, number, f"bad JSON at column {e.colno}: {e.msg}")
            continue
        except RecursionError:
            ctx.bad(path, number, "bad JSON: nested too deeply")
            continue
        if not isinstance(record, dict):
            ctx.bad(path, number, f"expected a JSON object, found {type(record).__name__}")
            continue
        missing = [k for k in keys.values() if k not in record]
        if missing:
            ctx.bad(path, number, f"no key {missing[0]!r}")
            continue
        doc = _doc(spec, ctx, path, number, {k: record[name] for k, name in keys.items()}, split)
        if doc is not None:
            yield doc
