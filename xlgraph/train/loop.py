"""The training loop: epochs of fixed-shape batches through one jitted step, periodic evaluation,
checkpoints (last N + best), metrics fetched every K steps only, and resume from the latest checkpoint.
Methods compose it; none keeps a loop of its own.

Batches are built and put on the devices ahead of the running step (`prefetch`), so the step loop never
waits on the host; the only host syncs are the metric fetches and the evaluations. A resumed run restores
the state, the position in the epoch and the metrics log as they were at the checkpoint: the data order and
dropout keys are functions of (seed, epoch, step), so it ends exactly where an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from xlgraph.errors import XlgraphError
from xlgraph.progress import progress
from xlgraph.runs import RunDir
from xlgraph.train.checkpoint import Checkpoints
from xlgraph.train.parallel import is_main_process, prefetch

log = logging.getLogger("xlgraph")


@dataclasses.dataclass
class LoopConfig:
    epochs: int
    steps_per_epoch: int
    log_every: int = 20
    evals_per_epoch: int = 1
    select_metric: str = "macro_f1"
    checkpoint_every: int = 0  # steps between extra checkpoints (0: only at evaluations)
    prefetch: int = 2  # batches built and transferred ahead of the step
    profile_dir: str | None = None  # a jax.profiler trace of steps profile_steps[0] .. profile_steps[1] - 1
    profile_steps: tuple[int, int] = (10, 15)


def eval_points(steps_per_epoch: int, evals_per_epoch: int) -> set[int]:
    """Positions within an epoch (number of batches done) after which to evaluate; the epoch end is one."""
    n = max(1, min(evals_per_epoch, steps_per_epoch))
    return {round(steps_per_epoch * (i + 1) / n) for i in range(n)}


def fit(state, *, train_step: Callable, batches: Callable[[int, int], Iterator[dict]], key: jax.Array,
        evaluate: Callable[[object], dict] | None, cfg: LoopConfig, run: RunDir, ckpts: Checkpoints,
        meta: dict | None = None, resume: bool = False, put: Callable[[dict], dict] = lambda b: b,
        fields: dict | None = None):
    """Trains `state` for cfg.epochs. `batches(epoch, skip)` yields an epoch's (host) batches from position
    `skip`; `put` places one on the devices; `evaluate(state)` returns metrics including cfg.select_metric
    (None: no selection, keep the last). `fields` are added to every metrics row (e.g. the self-learning round)."""
    meta = dict(meta or {})
    fields = dict(fields or {})
    epoch, position = 0, 0
    restored = ckpts.restore_latest(state) if resume else None  # an unreadable newest step: the one before
    if restored is not None:
        state, saved, step = restored
        epoch, position = saved["epoch"], saved["position"]
        if position >= cfg.steps_per_epoch:
            epoch, position = epoch + 1, 0
        run.truncate_metrics(step, fields)  # rows logged after the checkpoint by the interrupted run
        log.info("resumed from step %d (epoch %d, batch %d)", step, epoch, position)
    points = eval_points(cfg.steps_per_epoch, cfg.evals_per_epoch)
    profiler = _Profiler(cfg.profile_dir, cfg.profile_steps)
    step = int(state.step)
    pending: list[dict] = []
    window_start = time.perf_counter()
    for epoch in range(epoch, cfg.epochs):
        stream = prefetch(batches(epoch, position), put, cfg.prefetch)
        for position, batch in enumerate(
            progress(stream, total=cfg.steps_per_epoch - position, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                     unit="batch", enabled=is_main_process()), position + 1):
            profiler.before(step)
            state, metrics = train_step(state, batch, key)
            step += 1
            profiler.after(step, state)
            pending.append(metrics)
            if len(pending) >= cfg.log_every:
                window_start = _flush(pending, step, run, epoch, window_start, batch, fields, ckpts)
            scores = None
            if position in points:
                if pending:
                    window_start = _flush(pending, step, run, epoch, window_start, batch, fields, ckpts)
                scores = evaluate(state) if evaluate else {}
                if cfg.select_metric in scores:
                    scores["select"] = scores[cfg.select_metric]
                run.log_metrics(step, epoch=epoch + 1, **fields, **{f"eval/{k}": v for k, v in scores.items()})
                if scores:
                    log.info("step %d eval: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
            elif cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                if pending:  # the log must be complete up to every checkpoint
                    window_start = _flush(pending, step, run, epoch, window_start, batch, fields, ckpts)
                scores = {}
            if scores is not None:
                if not _finite(state.params):  # (the fetch above has synced; this is one more scalar)
                    raise XlgraphError(f"step {step}: the parameters are not finite (a learning rate too high?); "
                                       f"the run stopped, its last finite checkpoint is step {ckpts.latest_step()} "
                                       f"in {run.path}")
                ckpts.save(step, state, {**meta, "epoch": epoch, "position": position, "scores": scores},
                           metrics={"select": scores["select"]} if "select" in scores else None)
                window_start = time.perf_counter()
        position = 0
    profiler.close(state)
    ckpts.wait()
    return state


class _Profiler:
    """Captures a jax.profiler trace (TensorBoard / Perfetto) of the steps in [start, stop)."""

    def __init__(self, directory: str | None, steps: tuple[int, int]):
        self.directory, (self.start, self.stop) = directory, steps
        self.active = False

    def before(self, step: int) -> None:
        if self.directory and step == self.start and not self.active:
            jax.profiler.start_trace(self.directory)
            self.active = True
            log.info("profiling steps %d..%d into %s", self.start, self.stop - 1, self.directory)

    def after(self, step: int, state) -> None:
        if self.active and step >= self.stop:
            self.close(state)

    def close(self, state) -> None:
        if self.active:
            jax.block_until_ready(state)
            jax.profiler.stop_trace()
            self.active = False


def _flush(pending: list[dict], step: int, run: RunDir, epoch: int, since: float, batch: dict, fields: dict,
           ckpts: Checkpoints | None = None) -> float:
    """One host sync for a window of steps: mean metrics and throughput. A non-finite loss or gradient norm in
    the window stops the run here, before any checkpoint of its state is written (the fetches precede every
    save), so the kept checkpoints are all finite."""
    values = jax.device_get(pending)
    for i, v in enumerate(values):
        bad = [k for k in ("loss", "grad_norm") if k in v and not np.isfinite(v[k])]
        if bad:
            at = step - len(values) + i + 1
            last = ckpts.latest_step() if ckpts is not None else None
            raise XlgraphError(f"step {at}: {bad[0]} is {float(v[bad[0]])} (a learning rate too high, or bad "
                               f"inputs); the run stopped, its last finite checkpoint is "
                               f"{f'step {last}' if last is not None else 'none'} in {run.path}")
    now = time.perf_counter()
    mean = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
    run.log_metrics(step, epoch=epoch + 1, **fields, **{f"train/{k}": v for k, v in mean.items()},
                    **{"train/examples_per_s": len(values) * len(batch["weight"]) / max(now - since, 1e-9)})
    pending.clear()
    return now


def fit_and_select(state, *, ckpts: Checkpoints, **fit_args) -> tuple[object, int, dict]:
    """`fit`, then the checkpoint selected on `evaluate`'s select metric (the last state when nothing was scored),
    then the checkpoints closed: (state at that checkpoint, its step, its selection scores)."""
    state = fit(state, ckpts=ckpts, **fit_args)
    best = ckpts.best_step()
    if best is not None and best != int(state.step):
        state, _ = ckpts.restore(best, state)
    chosen = best if best is not None else int(state.step)
    scores = ckpts.restore_meta(chosen).get("scores", {}) if best is not None else {}
    ckpts.close()
    return state, chosen, scores


@jax.jit
def _all_finite(tree) -> jax.Array:
    return jax.tree.reduce(lambda a, b: a & b, jax.tree.map(lambda x: jnp.all(jnp.isfinite(x)), tree),
                           jnp.bool_(True))


def _finite(tree) -> bool:
    return bool(_all_finite(tree))
