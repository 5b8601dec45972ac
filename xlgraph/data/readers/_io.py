"""What every reader shares: the error policy and streaming line access to plain or gzipped files."""

from __future__ import annotations

import dataclasses
import gzip
import os
from collections.abc import Iterator

from xlgraph.errors import DataError


@dataclasses.dataclass
class ReadContext:
    """Per-read policy. `bad` raises a DataError, or with skip_bad_rows records it and returns."""

    skip_bad_rows: bool = False
    labels: frozenset[str] | None = None  # a fixed label set: anything else is an error
    skipped: list[DataError] = dataclasses.field(default_factory=list)

    def bad(self, path, line: int | None, problem: str) -> None:
        err = DataError(path, line, problem)
        if not self.skip_bad_rows:
            raise err
        self.skipped.append(err)

    def check_label(self, path, line: int | None, label: str) -> bool:
        """True if `label` is acceptable; otherwise reports it (raising unless rows may be skipped)."""
        if self.labels is not None and label not in self.labels:
            self.bad(path, line, f"unknown label {label!r}; expected one of {sorted(self.labels)}")
            return False
        return True


def open_binary(path: str | os.PathLike):
    """Opens `path`, or `path.gz` when only that exists; gzip by magic number, not by name."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    if not os.path.exists(path):
        raise DataError(path, None, "no such file")
    with open(path, "rb") as f:
        magic = f.read(2)
    return (gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")), path


def iter_lines(path: str | os.PathLike, ctx: ReadContext) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline), streaming. Undecodable lines go to `ctx.bad`."""
    f, real = open_binary(path)
    with f:
        try:
            for number, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    ctx.bad(real, number, f"undecodable bytes (not UTF-8) at byte {e.start}")
                    continue
                yield number, line.rstrip("\r\n")
        except (OSError, EOFError) as e:  # truncated or corrupt gzip
            raise DataError(real, None, f"cannot read: {e}") from None
