"""The one run-directory writer: resolved config, metrics as JSON lines, results (JSON + PNG), checkpoints.

    RUN_DIR/config.json   RUN_DIR/metrics.jsonl   RUN_DIR/results.json   RUN_DIR/results.png   RUN_DIR/ckpt/

A run claims its directory (`RunDir.claim`) once its inputs are read and its model built, before it writes
anything there: an advisory lock (`RUN_DIR/.lock`, released by the OS when the process ends, however it ends)
keeps a second run out, and a directory that holds another run is refused unless the run resumes it with the
same settings or overwrites it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

from xlgraph.config import ConfigDict, to_json
from xlgraph.errors import DataError, XlgraphError

log = logging.getLogger("xlgraph")

# what a run writes (RUN_DIR/step{i}/ are the sub-runs of an ablation); --overwrite removes these, nothing else
RUN_FILES = ("config.json", "data.json", "metrics.jsonl", "results.json", "results.png", "ckpt", "graph.npz",
             "node_features.npy", "node_features.json", "vocab.json")
# settings a resumed run may change: where it runs and what it records about itself, not what it computes
RESUMABLE_CHANGES = ("workdir", "profile", "model.allow_pickle", "data.skip_bad_rows", "train.prefetch")
_LOCKS: dict[str, int] = {}  # directory -> the open, flock'ed descriptor of its .lock (one per process)


class RunDir:
    def __init__(self, path: str | Path, *, write: bool = True):
        self.path = Path(path)
        self.write = write  # False on processes other than the first of a multi-host run
        self._made = False  # the folder is made on the first write or claim: a run that fails on its inputs
        # leaves nothing behind

    def _folder(self) -> Path:
        """The run's folder, made on the first write (once)."""
        if not self._made:
            self.path.mkdir(parents=True, exist_ok=True)
            self._made = True
        return self.path

    @property
    def ckpt_dir(self) -> Path:
        return self.path.resolve() / "ckpt"

    def claim(self, cfg: ConfigDict, *, resume: bool = False, overwrite: bool = False,
              data: dict | None = None) -> None:
        """Takes the directory for the run of `cfg`: locks it (another process holding it is an error), then
        refuses a directory holding a run unless `resume` with the same settings (a changed setting is an error
        that names it) or `overwrite` (its run files are removed first); writes config.json. `data`: the
        fingerprint of what the run reads (`Corpus.fingerprint`), written to data.json; a resume on other data
        (the same config over edited files) is an error that names the parts that differ."""
        if not self.write:
            return
        self.lock()
        saved = self.path / "config.json"
        if overwrite and not resume:
            self.clear()
        elif saved.exists():
            if not resume:
                what = "a finished run" if (self.path / "results.json").exists() else "a run"
                raise XlgraphError(f"{self.path} holds {what} (config.json); continue it with --resume, replace it "
                                   "with --overwrite, or choose another --workdir")
            changed = config_changes(read_json(saved), json.loads(to_json(cfg)))
            if changed:
                raise XlgraphError(f"--resume: {self.path} was run with other settings: {'; '.join(changed[:5])}"
                                   f"{' …' if len(changed) > 5 else ''} (resume with its own, or use --overwrite)")
            self.check_data(data)
            log.info("resuming in %s with its saved config", self.path)
            self.mend_metrics()
        elif resume and any((self.path / name).exists() for name in RUN_FILES):
            raise XlgraphError(f"--resume: {self.path} has run files but no config.json; use --overwrite")
        self.save_config(cfg)
        if data is not None:
            _write_atomic(self.path / "data.json", json.dumps(data, indent=1) + "\n")

    def check_data(self, data: dict | None) -> None:
        """Refuses to resume on data other than the run's own (data.json, written when it started)."""
        if data is None:
            return
        saved = self.path / "data.json"
        if not saved.exists():
            log.warning("%s has no data.json (a run of an older xlgraph): its data cannot be checked", self.path)
            return
        changed = data_changes(read_json(saved), data)
        if changed:
            raise XlgraphError(f"--resume: {self.path} was run on other data: {'; '.join(changed[:5])}"
                               f"{' …' if len(changed) > 5 else ''} (resume with its data, or use --overwrite)")

    def clear(self) -> None:
        """Locks the directory and removes a previous run's files (RUN_FILES and ablation sub-runs), nothing else."""
        if not self.write:
            return
        self.lock()
        for name in RUN_FILES:
            target = self.path / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        for sub in self.path.glob("step[0-9]*"):
            if sub.is_dir() and (sub / "config.json").exists():
                shutil.rmtree(sub)

    def lock(self) -> None:
        """An exclusive advisory lock on RUN_DIR/.lock for this process (re-entrant); the OS drops it when the
        process exits or is killed."""
        key = str(self.path.resolve())
        if key in _LOCKS:
            return
        self._folder()
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise XlgraphError(f"{self.path} is in use by another run (process {holder}); wait for it to finish or "
                               "choose another --workdir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _LOCKS[key] = fd

    def unlock(self) -> None:
        fd = _LOCKS.pop(str(self.path.resolve()), None)
        if fd is not None:
            os.close(fd)

    def save_config(self, cfg: ConfigDict) -> None:
        if self.write:
            (self._folder() / "config.json").write_text(to_json(cfg) + "\n")

    def log_metrics(self, step: int, **metrics) -> None:
        if self.write:
            row = {"step": int(step), "time": round(time.time(), 3), **{k: _plain(v) for k, v in metrics.items()}}
            with open(self._folder() / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def truncate_metrics(self, step: int, fields: dict | None = None) -> None:
        """Drops the rows logged after `step` (a resumed run logs them again); with `fields`, only among the
        rows that carry them (e.g. one self-learning round)."""
        rows = self.read_metrics()
        if self.write and rows:
            mine = lambda r: all(r.get(k) == v for k, v in (fields or {}).items())  # noqa: E731
            keep = [r for r in rows if not (mine(r) and r["step"] > step)]
            (self.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))

    def drop_metrics(self, key: str) -> None:
        """Drops the rows that carry `key` (e.g. the self-learning round summaries a resumed run logs again)."""
        rows = self.read_metrics()
        if self.write and any(key in r for r in rows):
            _write_atomic(self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows if key not in r))

    def read_metrics(self) -> list[dict]:
        """The logged rows. A last line that is not JSON (the run was killed while writing it) is dropped with a
        warning; any other bad line is a DataError naming it."""
        return _read_metrics(self.path / "metrics.jsonl")[0]

    def mend_metrics(self) -> None:
        """Rewrites metrics.jsonl without a torn last line, so that rows a resumed run appends stay readable."""
        rows, torn = _read_metrics(self.path / "metrics.jsonl")
        if torn and self.write:
            (self.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def save_results(self, results: dict, title: str = "") -> None:
        if not self.write:
            return
        _write_atomic(self._folder() / "results.json", json.dumps(results, indent=2, default=_plain) + "\n")
        from xlgraph.eval.report import bar_chart

        bar_chart(results["per_language"], self.path / "results.png", title=title)


def finished_results(run_dir: str | Path) -> dict | None:
    """A finished run's results.json, or None when the run has none yet (resuming tables skip finished runs)."""
    path = Path(run_dir) / "results.json"
    return read_json(path) if path.is_file() else None


def read_json(path: str | Path) -> dict:
    """A run file's JSON object; a file that is empty, truncated or not an object is a DataError naming it."""
    path = Path(path)
    text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        what = "empty" if not text.strip() else f"not valid JSON ({e.msg}, column {e.colno})"
        raise DataError(path, e.lineno if text.strip() else None,
                        f"{what}: the file is truncated or corrupt (was its run killed while writing it?)") from None
    if not isinstance(value, dict):
        raise DataError(path, None, f"expected a JSON object, found {type(value).__name__}")
    return value


def _read_metrics(path: Path) -> tuple[list[dict], bool]:
    """(rows, whether a torn last line was dropped)."""
    if not path.exists():
        return [], False
    lines = path.read_text().splitlines()
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"a JSON {type(row).__name__}, not an object")
        except ValueError as e:
            if i == len(lines):
                log.warning("%s:%d: dropped the last line, which is not a whole row (its run was killed while "
                            "writing it): %r", path, i, line[:80])
                return rows, True
            raise DataError(path, i, f"not a metrics row ({e}); only a torn last line is dropped") from None
        rows.append(row)
    return rows, False


def _write_atomic(path: Path, text: str) -> None:
    """Writes `text` to a temporary file beside `path`, then renames it over `path`: a kill leaves the old
    file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def data_changes(saved: dict, given: dict, prefix: str = "") -> list[str]:
    """`part: what changed` for every part of two data fingerprints (nested dicts whose leaves hold documents
    and sha256) that differs."""
    def count(v):  # documents in a part, nested or not (an absent part has none)
        if v is None:
            return 0
        return v["documents"] if "documents" in v else sum(count(x) for x in v.values() if isinstance(x, dict))

    out = []
    for key in dict.fromkeys([*saved, *given]):
        a, b, name = saved.get(key), given.get(key), f"{prefix}{key}"
        if a is not None and not isinstance(a, dict):
            out.append(f"{name}: data.json holds {json.dumps(a)[:40]}, not a fingerprint")
        elif a is None or b is None:
            out.append(f"{name}: {count(a)} → {count(b)} documents")
        elif "sha256" not in a or "sha256" not in b:
            out += data_changes(a, b, f"{name}.")
        elif a.get("documents") != b["documents"]:
            out.append(f"{name}: {count(a)} → {b['documents']} documents")
        elif a["sha256"] != b["sha256"]:
            out.append(f"{name}: other texts or labels in the same {b['documents']} documents")
    return out


def config_changes(saved: dict, given: dict, prefix: str = "") -> list[str]:
    """`key: saved → given` for every setting that differs (RESUMABLE_CHANGES aside), keys in order."""
    out = []
    for key in dict.fromkeys([*saved, *given]):
        name = f"{prefix}{key}"
        if name in RESUMABLE_CHANGES or key not in saved:  # a key the saved run's version did not have
            continue
        a, b = saved.get(key, "(unset)"), given.get(key, "(unset)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, f"{name}.")
        elif a != b:
            out.append(f"{name}: {json.dumps(a)} → {json.dumps(b)}")
    return out
