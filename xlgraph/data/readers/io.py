"""What every reader shares: the error policy, streaming line access to plain or gzipped files (a UTF-8 byte order
mark at the start of a file is dropped), the checks every text passes, and the list-valued (`langs=en,es`) and
0/1 (`header=1`) spec parameters several readers accept."""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from xlgraph.errors import DataError, SpecError

T = TypeVar("T", bound=tuple)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclasses.dataclass
class ReadContext:
    """Per-read policy. `bad` raises a DataError, or with skip_bad_rows records it and returns."""

    skip_bad_rows: bool = False
    labels: frozenset[str] | None = None  # a fixed label set: anything else is an error
    skipped: list[DataError] = dataclasses.field(default_factory=list)

    def bad(self, path, line: int | None, problem: str) -> None:
        # The CLI prints errors as one `path:line: problem` line, so a problem never spans lines.
        err = DataError(path, line, " ".join(problem.splitlines()))
        if not self.skip_bad_rows:
            raise err
        self.skipped.append(err)

    def check_label(self, path, line: int | None, label: str) -> bool:
        """True if `label` is acceptable; otherwise reports it (raising unless rows may be skipped)."""
        if self.labels is not None and label not in self.labels:
            self.bad(path, line, f"unknown label {label!r}; expected one of {sorted(self.labels)}")
            return False
        return True

    def check_text(self, path, line: int | None, text: str, what: str = "text") -> bool:
        """True if `text` holds no NUL and no lone surrogate (a JSON ``\\ud800`` escape; it cannot be encoded and
        would fail later, in the tokenizer); otherwise reports it (raising unless rows may be skipped)."""
        if "\0" in text:
            self.bad(path, line, f"NUL byte in {what}")
            return False
        if m := _SURROGATE.search(text):
            self.bad(path, line, f"lone surrogate U+{ord(m[0]):04X} in {what} (not a character)")
            return False
        return True


def real_path(path: str | os.PathLike) -> str:
    """`path`, or `path.gz` when only that exists: the name errors should carry."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    if not os.path.exists(path):
        raise DataError(path, None, "no such file")
    if os.path.isdir(path):
        raise DataError(path, None, "is a directory, expected a file")
    return path


def open_binary(path: str | os.PathLike):
    """Opens `path`, or `path.gz` when only that exists; gzip by magic number, not by name."""
    path = real_path(path)
    with open(path, "rb") as f:
        magic = f.read(2)
    return (gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")), path


def iter_raw_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes, str]]:
    """(1-based line number, undecoded line with its newline, real path), streaming. For readers that must
    keep undecodable lines in place (paired files, multi-line records); others use `iter_lines`. A UTF-8 byte order
    mark at the start is dropped: some editors write one, and it would stick to the first field."""
    f, real = open_binary(path)
    with f:
        try:
            for number, raw in enumerate(f, 1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                yield number, raw, real
        except (OSError, EOFError, zlib.error) as e:  # truncated or corrupt gzip
            raise DataError(real, None, f"cannot read: {e}") from None


def decode_line(raw: bytes, path: str, number: int, ctx: ReadContext) -> str | None:
    """The line as text, or None after reporting it to `ctx` when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        ctx.bad(path, number, f"undecodable bytes (not UTF-8) at byte {e.start}")
        return None


def iter_lines(path: str | os.PathLike, ctx: ReadContext, *, keepends: bool = False,
               drop_trailing_blank: bool = False) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline), streaming. Undecodable lines go to `ctx.bad`.
    `keepends` keeps the newline (the csv module needs it inside quoted fields); `drop_trailing_blank`
    ignores blank lines (see `is_blank`) at the end of the file, which editors add, while blank lines inside
    it still reach the reader, which reports them."""
    raw_lines = iter_raw_lines(path)
    if drop_trailing_blank:  # before decoding, so an undecodable last line keeps the blank lines before it
        raw_lines = without_trailing_blanks(raw_lines)
    for number, raw, real in raw_lines:
        line = decode_line(raw, real, number, ctx)
        if line is not None:
            yield number, line if keepends else line.rstrip("\r\n")


def is_blank(raw: bytes) -> bool:
    """Nothing but spaces and the line end. A tab is not blank: in a table it separates (empty) columns."""
    return not raw.strip(b" \r\n")


def without_trailing_blanks(lines: Iterable[T]) -> Iterator[T]:
    """Holds blank lines back until a non-blank line follows, so only those at the very end vanish.
    Items are tuples with the undecoded line second, as from `iter_raw_lines`."""
    held: list[T] = []
    for item in lines:
        if is_blank(item[1]):
            held.append(item)
        else:
            yield from held
            held.clear()
            yield item


def list_param(spec, key: str, allowed: Iterable[str] | None = None,
               aliases: dict[str, str] | None = None) -> tuple[str, ...] | None:
    """`key=a,b` as a tuple (aliases mapped, each checked against `allowed`), or None when absent. An empty list or
    item (`labels=`, `labels=a,,b`) and an item named twice are errors."""
    value = spec.get(key)
    if value is None:
        return None
    if not value.strip():
        raise SpecError(f"corpus spec {str(spec)!r}: {key}= is empty; give a comma-separated list")
    given = [x.strip() for x in value.split(",")]
    if "" in given:
        raise SpecError(f"corpus spec {str(spec)!r}: {key}={value} has an empty item")
    items = tuple((aliases or {}).get(v, v) for v in given)
    twice = sorted({v for v in items if items.count(v) > 1})
    if twice:
        raise SpecError(f"corpus spec {str(spec)!r}: {key}={value} names {', '.join(twice)} twice")
    if allowed is not None:
        allowed = tuple(allowed)
        unknown = [v for v in items if v not in allowed]
        if unknown:
            raise SpecError(f"corpus spec {str(spec)!r}: {key}={','.join(unknown)} is not one of {', '.join(allowed)}")
    return items


def flag_param(spec, key: str) -> bool:
    """`key=1` / `key=0` (absent: False); anything else is an error rather than a guess."""
    value = spec.get(key, "0")
    if value not in ("0", "1"):
        raise SpecError(f"corpus spec {str(spec)!r}: {key}={value} is not 0 or 1")
    return value == "1"


def dataset_root(path: str, inner: str) -> Path:
    """The dataset folder, given it or its `inner` folder (`xlmt:DIR` with DIR/sentiment or DIR = .../sentiment)."""
    root = Path(path)
    if (root / inner).is_dir():
        return root / inner
    if root.is_dir() and root.name == inner:
        return root
    raise DataError(root, None, f"no {inner}/ folder here")
