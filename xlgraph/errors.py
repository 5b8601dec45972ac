"""Errors a user can act on: each names where the problem is and what it is."""

from __future__ import annotations

import sys
from pathlib import Path


class XlgraphError(Exception):
    """Base class; the CLI prints these as one line and exits non-zero, without a traceback."""


class DataError(XlgraphError):
    """Bad input data: names the file, the line (1-based, when there is one) and the problem."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class SpecError(XlgraphError):
    """A corpus spec string that cannot be parsed or names an unknown reader."""


class ModelLoadError(XlgraphError):
    """A checkpoint that cannot be found or loaded."""


class ConfigError(XlgraphError):
    """A config that cannot be used: each problem as `key: problem`, with the file it came from when there is one."""

    def __init__(self, problems: list[str] | str, where: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.where = where
        text = "; ".join(self.problems)
        super().__init__(f"{where}: {text}" if where else text)


def script_main(main, argv=None) -> int:
    """An experiment script's entry point, `sys.exit(script_main(main))`: an XlgraphError (bad input, a refused
    run directory or setting) is one line on stderr and exit status 2, as in the CLI; anything else is a bug and
    keeps its traceback."""
    try:
        return (main() if argv is None else main(argv)) or 0
    except XlgraphError as e:
        print(f"{Path(sys.argv[0]).name}: error: {e}", file=sys.stderr)
        return 2
