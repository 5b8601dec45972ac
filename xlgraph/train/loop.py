"""The training loop: epochs of fixed-shape batches through one jitted step, periodic evaluation,
checkpoints (last N + best), metrics fetched every K steps only, and resume from the latest checkpoint.
Methods compose it; none keeps a loop of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator

import jax
import numpy as np

from xlgraph.progress import progress
from xlgraph.runs import RunDir
from xlgraph.train.checkpoint import Checkpoints

log = logging.getLogger("xlgraph")


@dataclasses.dataclass
class LoopConfig:
    epochs: int
    steps_per_epoch: int
    log_every: int = 20
    evals_per_epoch: int = 1
    select_metric: str = "macro_f1"


def eval_points(steps_per_epoch: int, evals_per_epoch: int) -> set[int]:
    """Positions within an epoch (number of batches done) after which to evaluate; the epoch end is one."""
    n = max(1, min(evals_per_epoch, steps_per_epoch))
    return {round(steps_per_epoch * (i + 1) / n) for i in range(n)}


def fit(state, *, train_step: Callable, batches: Callable[[int, int], Iterator[dict]], key: jax.Array,
        evaluate: Callable[[object], dict] | None, cfg: LoopConfig, run: RunDir, ckpts: Checkpoints,
        meta: dict | None = None, resume: bool = False):
    """Trains `state` for cfg.epochs. `batches(epoch, skip)` yields an epoch's batches from position `skip`;
    `evaluate(state)` returns metrics including cfg.select_metric (None: no selection, keep the last)."""
    meta = dict(meta or {})
    epoch, position = 0, 0
    if resume and ckpts.latest_step() is not None:
        step = ckpts.latest_step()
        state, saved = ckpts.restore(step, state)
        epoch, position = saved["epoch"], saved["position"]
        if position >= cfg.steps_per_epoch:
            epoch, position = epoch + 1, 0
        log.info("resumed from step %d (epoch %d, batch %d)", step, epoch, position)
    points = eval_points(cfg.steps_per_epoch, cfg.evals_per_epoch)
    pending: list[dict] = []
    window_start = time.perf_counter()
    for epoch in range(epoch, cfg.epochs):
        stream = batches(epoch, position)
        for position, batch in enumerate(
            progress(stream, total=cfg.steps_per_epoch - position, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                     unit="batch"), position + 1):
            state, metrics = train_step(state, batch, key)
            pending.append(metrics)
            if len(pending) >= cfg.log_every:
                window_start = _flush(pending, state, run, epoch, window_start, batch)
            if position in points:
                if pending:
                    window_start = _flush(pending, state, run, epoch, window_start, batch)
                scores = evaluate(state) if evaluate else {}
                step = int(state.step)
                if cfg.select_metric in scores:
                    scores["select"] = scores[cfg.select_metric]
                run.log_metrics(step, epoch=epoch + 1, **{f"eval/{k}": v for k, v in scores.items()})
                if scores:
                    log.info("step %d eval: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
                ckpts.save(step, state, {**meta, "epoch": epoch, "position": position, "scores": scores},
                           metrics={"select": scores["select"]} if "select" in scores else None)
                window_start = time.perf_counter()
        position = 0
    ckpts.wait()
    return state


def _flush(pending: list[dict], state, run: RunDir, epoch: int, since: float, batch: dict) -> float:
    """One host sync for a window of steps: mean metrics and throughput."""
    values = jax.device_get(pending)
    now = time.perf_counter()
    mean = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
    run.log_metrics(int(state.step), epoch=epoch + 1, **{f"train/{k}": v for k, v in mean.items()},
                    **{"train/examples_per_s": len(values) * len(batch["weight"]) / max(now - since, 1e-9)})
    pending.clear()
    return now
