"""Progress with rate and ETA: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

log = logging.getLogger("xlgraph")


def progress(items: Iterable, total: int | None = None, desc: str = "", unit: str = "it",
             every_s: float = 30.0, enabled: bool = True) -> Iterator:
    if not enabled:
        yield from items
        return
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
        return
    start = last = time.perf_counter()
    done = 0
    for done, item in enumerate(items, 1):
        yield item
        now = time.perf_counter()
        if now - last >= every_s:
            last = now
            rate = done / (now - start)
            eta = f", ETA {(total - done) / rate:.0f}s" if total else ""
            log.info("%s: %d%s %s, %.2f %s/s%s", desc, done, f"/{total}" if total else "", unit, rate, unit, eta)
    if done:
        elapsed = time.perf_counter() - start
        log.info("%s: %d %s in %.1fs (%.2f %s/s)", desc, done, unit, elapsed, done / max(elapsed, 1e-9), unit)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a redirected or captured stderr too, not the one at setup)."""

    def emit(self, record):
        self.stream = sys.stderr
        super().emit(record)


def log_to_stderr(level: int = logging.INFO) -> None:
    """Timestamped log lines on stderr for the CLI and the experiment scripts. orbax installs a plain stderr
    handler on the root logger when imported, which makes `logging.basicConfig` do nothing (the root stays at
    WARNING and every xlgraph line vanishes): that handler is replaced by ours; any other (pytest's capture, a
    user's file handler) is kept."""
    root = logging.getLogger()
    if not any(getattr(h, "xlgraph", False) for h in root.handlers):
        for h in list(root.handlers):
            if type(h) is logging.StreamHandler and h.stream in (sys.stderr, sys.__stderr__):
                root.removeHandler(h)
        handler = _Stderr(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        handler.xlgraph = True
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("absl", "orbax", "jax._src.xla_bridge", "jax._src.distributed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
