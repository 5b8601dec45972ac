"""AdamW with linear warmup and linear decay, global-norm clipping, no decay on biases and norms."""

from __future__ import annotations

import jax
import optax


def warmup_linear_decay(lr: float, total_steps: int, warmup_steps: int) -> optax.Schedule:
    warmup_steps = max(0, min(warmup_steps, total_steps))
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, max(warmup_steps, 1)),
         optax.linear_schedule(lr, 0.0, max(total_steps - warmup_steps, 1))],
        [warmup_steps],
    )


def decay_mask(params):
    """True for weight matrices; biases, LayerNorm scales and 1-D params are not decayed."""
    return jax.tree.map(lambda p: p.ndim > 1, params)


def adamw(lr: float, total_steps: int, *, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
          clip_norm: float | None = 1.0) -> optax.GradientTransformation:
    schedule = warmup_linear_decay(lr, total_steps, round(warmup_ratio * total_steps))
    chain = [optax.clip_by_global_norm(clip_norm)] if clip_norm else []
    chain.append(optax.adamw(schedule, b1=0.9, b2=0.999, eps=1e-8, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*chain)
