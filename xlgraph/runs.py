"""The one run-directory writer: resolved config, metrics as JSON lines, results (JSON + PNG), checkpoints.

    RUN_DIR/config.json   RUN_DIR/metrics.jsonl   RUN_DIR/results.json   RUN_DIR/results.png   RUN_DIR/ckpt/
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from xlgraph.config import ConfigDict, to_json


class RunDir:
    def __init__(self, path: str | Path, *, write: bool = True):
        self.path = Path(path)
        self.write = write  # False on processes other than the first of a multi-host run
        if write:
            self.path.mkdir(parents=True, exist_ok=True)

    @property
    def ckpt_dir(self) -> Path:
        return self.path.resolve() / "ckpt"

    def save_config(self, cfg: ConfigDict) -> None:
        if self.write:
            (self.path / "config.json").write_text(to_json(cfg) + "\n")

    def log_metrics(self, step: int, **metrics) -> None:
        if self.write:
            row = {"step": int(step), "time": round(time.time(), 3), **{k: _plain(v) for k, v in metrics.items()}}
            with open(self.path / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def truncate_metrics(self, step: int, fields: dict | None = None) -> None:
        """Drops the rows logged after `step` (a resumed run logs them again); with `fields`, only among the
        rows that carry them (e.g. one self-learning round)."""
        rows = self.read_metrics()
        if self.write and rows:
            mine = lambda r: all(r.get(k) == v for k, v in (fields or {}).items())  # noqa: E731
            keep = [r for r in rows if not (mine(r) and r["step"] > step)]
            (self.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))

    def read_metrics(self) -> list[dict]:
        path = self.path / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def save_results(self, results: dict, title: str = "") -> None:
        if not self.write:
            return
        (self.path / "results.json").write_text(json.dumps(results, indent=2, default=_plain) + "\n")
        from xlgraph.eval.report import bar_chart

        bar_chart(results["per_language"], self.path / "results.png", title=title)


def finished_results(run_dir: str | Path) -> dict | None:
    """A finished run's results.json, or None when the run has none yet (resuming tables skip finished runs)."""
    path = Path(run_dir) / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
