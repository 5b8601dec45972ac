"""The one checkpoint helper: orbax CheckpointManager keeping the last N and the best by a metric.

Each step holds the TrainState pytree and a JSON item (epoch, position in the epoch, metrics, labels)
so that `--resume` can continue exactly where a run stopped.

A step that cannot be read (a file in it truncated or corrupt, e.g. the disk filled or the machine died while it
was written) is a ModelLoadError naming it. A resumed run instead falls back to the newest step that reads, with a
warning naming each step it skips; those are set aside as `ckpt/STEP.unreadable` (orbax ignores them), so the
resumed run writes them again. A read-only user (`xlgraph eval`) never sets anything aside.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

from xlgraph.errors import ModelLoadError

log = logging.getLogger("xlgraph")


class Checkpoints:
    def __init__(self, directory: str | Path, *, keep_last: int = 2, best_metric: str = "select",
                 read_only: bool = False):
        self.best_metric = best_metric
        self.directory = Path(directory).resolve()
        self.read_only = read_only
        bad = _unreadable_metrics(self.directory)  # orbax reads every step's metrics when it opens the directory
        if bad and read_only:
            step, problem = max(bad.items())
            raise ModelLoadError(f"{self.directory / str(step)}: checkpoint step {step} cannot be read ({problem})")
        for step, problem in bad.items():
            self._set_aside(step, problem)
        policy = pp.AnyPreservationPolicy([
            pp.LatestN(n=keep_last),
            pp.BestN(get_metric_fn=lambda m: m[best_metric], n=1, keep_checkpoints_without_metrics=False),
        ])
        self.manager = ocp.CheckpointManager(
            self.directory,
            # best_fn makes orbax write and track the metrics; retention is the policy's alone
            options=ocp.CheckpointManagerOptions(preservation_policy=policy, best_fn=lambda m: m[best_metric],
                                                 best_mode="max", create=not read_only),
            item_names=("state", "meta"),
        )

    def save(self, step: int, state, meta: dict, metrics: dict | None = None) -> None:
        self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                        meta=ocp.args.JsonSave(meta)), metrics=metrics)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def best_step(self) -> int | None:
        """The step with the highest metric; None if no checkpoint has one."""
        scored = [s for s in self.manager.all_steps() if (self.manager.metrics(s) or {}).get(self.best_metric) is not None]
        return self.manager.best_step() if scored else None

    def restore(self, step: int, like) -> tuple:
        """(state shaped like `like`, meta) at `step`; ModelLoadError naming the step when it cannot be read."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        with self._reading(step):
            out = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                     meta=ocp.args.JsonRestore()))
        return out["state"], out["meta"]

    def restore_meta(self, step: int) -> dict:
        with self._reading(step):
            return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

    def restore_latest(self, like) -> tuple | None:
        """(state, meta, step) of the newest step that reads, or None when there is no checkpoint. Newer steps
        that do not read are skipped with a warning and set aside; when no step reads, the newest one's
        ModelLoadError is raised and nothing is set aside (e.g. a state of another shape is not damage)."""
        failed: list[tuple[int, StepUnreadable]] = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                state, meta = self.restore(step, like)
            except StepUnreadable as e:
                failed.append((step, e))
                continue
            if failed and self.read_only:
                raise failed[0][1]
            for bad, error in failed:
                self._set_aside(bad, error.problem)
            if failed:
                self.manager.reload()
            return state, meta, step
        if failed:
            raise failed[0][1]
        return None

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()

    def _reading(self, step: int):
        return _reading(self.directory / str(step), step)

    def _set_aside(self, step: int, problem: str) -> None:
        """Renames an unreadable step out of orbax's sight (process 0 only; the others see the same files)."""
        where = self.directory / str(step)
        aside = where.with_name(f"{step}.unreadable")
        n = 1
        while aside.exists():
            n += 1
            aside = where.with_name(f"{step}.unreadable{n}")
        if jax.process_index() == 0:
            where.rename(aside)
        log.warning("checkpoint step %d cannot be read (%s); skipped it and set it aside as %s", step, problem,
                    aside)


@contextlib.contextmanager
def _reading(where: Path, step: int):
    """Turns any failure to read step `step` into one ModelLoadError naming it (orbax and TensorStore raise
    ValueError, JSONDecodeError, OSError or a bare Exception, with pages of spec)."""
    try:
        yield
    except ModelLoadError:
        raise
    except Exception as e:  # noqa: BLE001
        _quiet_closed_loop()
        raise StepUnreadable(where, step, _short(e)) from None


def _quiet_closed_loop() -> None:
    """After a failed restore, TensorStore completes the reads still in flight on orbax's event loop, which is
    closed by then: each prints a 'RuntimeError: Event loop is closed' traceback through sys.unraisablehook. Those
    (only those) are dropped, so the error the user sees is the one line above."""
    previous = sys.unraisablehook
    if getattr(previous, "_xlgraph_quiet", False):
        return

    def hook(unraisable):
        if not (isinstance(unraisable.exc_value, RuntimeError) and str(unraisable.exc_value) == "Event loop is closed"):
            previous(unraisable)

    hook._xlgraph_quiet = True
    sys.unraisablehook = hook


class StepUnreadable(ModelLoadError):
    def __init__(self, where: Path, step: int, problem: str):
        self.where, self.step, self.problem = where, step, problem
        super().__init__(f"{where}: checkpoint step {step} cannot be read ({problem}); a file in it is missing, "
                         "truncated or corrupt")


def _short(error: Exception, limit: int = 200) -> str:
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) <= limit else text[:limit] + " …"


def _unreadable_metrics(directory: Path) -> dict[int, str]:
    """{step: problem} for each step directory whose metrics file is not JSON (orbax cannot even open the
    directory then)."""
    bad = {}
    if not directory.is_dir():
        return bad
    for sub in directory.iterdir():
        path = sub / "metrics" / "metrics"
        if sub.name.isdigit() and path.is_file():
            try:
                json.loads(path.read_text())
            except (OSError, ValueError) as e:
                bad[int(sub.name)] = f"{path.relative_to(sub)}: {_short(e)}"
    return bad
