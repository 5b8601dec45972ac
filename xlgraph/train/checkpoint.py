"""The one checkpoint helper: orbax CheckpointManager keeping the last N and the best by a metric.

Each step holds the TrainState pytree and a JSON item (epoch, position in the epoch, metrics, labels)
so that `--resume` can continue exactly where a run stopped.
"""

from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp


class Checkpoints:
    def __init__(self, directory: str | Path, *, keep_last: int = 2, best_metric: str = "select"):
        self.best_metric = best_metric
        policy = pp.AnyPreservationPolicy([
            pp.LatestN(n=keep_last),
            pp.BestN(get_metric_fn=lambda m: m[best_metric], n=1, keep_checkpoints_without_metrics=False),
        ])
        self.manager = ocp.CheckpointManager(
            Path(directory).resolve(),
            # best_fn makes orbax write and track the metrics; retention is the policy's alone
            options=ocp.CheckpointManagerOptions(preservation_policy=policy, best_fn=lambda m: m[best_metric],
                                                 best_mode="max", create=True),
            item_names=("state", "meta"),
        )

    def save(self, step: int, state, meta: dict, metrics: dict | None = None) -> None:
        self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                        meta=ocp.args.JsonSave(meta)), metrics=metrics)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        """The step with the highest metric; None if no checkpoint has one."""
        scored = [s for s in self.manager.all_steps() if (self.manager.metrics(s) or {}).get(self.best_metric) is not None]
        return self.manager.best_step() if scored else None

    def restore(self, step: int, like) -> tuple:
        """(state shaped like `like`, meta) at `step`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        out = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                 meta=ocp.args.JsonRestore()))
        return out["state"], out["meta"]

    def restore_meta(self, step: int) -> dict:
        return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
