"""AdamW with linear warmup and linear decay, global-norm clipping, no decay on biases and norms.

The run length lives in the optimizer *state* (`ScheduleState.total`), not in a closure: a growing training
set (self-learning rounds) changes it with `set_total_steps` and the compiled step stays the same.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def warmup_linear_decay(lr: float, total_steps, warmup_ratio: float = 0.1):
    """The learning rate at step `count` (traceable): 0 → lr over round(warmup_ratio·total) steps, then → 0."""
    total = jnp.asarray(total_steps, jnp.float32)
    warmup = jnp.clip(jnp.round(warmup_ratio * total), 0, total)

    def schedule(count):
        count = jnp.asarray(count, jnp.float32)
        up = lr * jnp.minimum(count, jnp.maximum(warmup, 1.0)) / jnp.maximum(warmup, 1.0)
        span = jnp.maximum(total - warmup, 1.0)
        down = lr * (1.0 - jnp.clip(count - warmup, 0.0, span) / span)
        return jnp.where(count < warmup, up, down)

    return schedule


def noam(lr: float, warmup_steps: int = 500, model_size: int = 768, scale: float = 1000.0):
    """The official CLHG code's learning rate (a LambdaLR over AdamW): lr · scale · model_size^-1/2 ·
    min(t^-1/2, t · warmup^-3/2) with t = count + 1 — a linear rise to lr · scale / sqrt(model_size · warmup)
    at t = warmup (1.61 · lr with the defaults), then decay as 1/sqrt(t). Needs no run length."""
    if warmup_steps < 1 or model_size < 1:
        raise ValueError(f"noam needs warmup_steps ≥ 1 and model_size ≥ 1, got {warmup_steps}, {model_size}")

    def schedule(count):
        t = jnp.asarray(count, jnp.float32) + 1.0
        return lr * scale * model_size ** -0.5 * jnp.minimum(t ** -0.5, t * float(warmup_steps) ** -1.5)

    return schedule


class ScheduleState(NamedTuple):
    count: jax.Array
    total: jax.Array


def scale_by_warmup_linear_decay(lr: float, total_steps: int, warmup_ratio: float) -> optax.GradientTransformation:
    def init(params):
        del params
        return ScheduleState(jnp.zeros((), jnp.int32), jnp.asarray(total_steps, jnp.int32))

    def update(updates, state, params=None):
        del params
        rate = warmup_linear_decay(lr, state.total, warmup_ratio)(state.count)
        return jax.tree.map(lambda u: -rate * u, updates), ScheduleState(state.count + 1, state.total)

    return optax.GradientTransformation(init, update)


def set_total_steps(opt_state, total_steps: int):
    """The optimizer state with its schedule stretched (or shrunk) to `total_steps`."""
    def fix(node):
        return node._replace(total=jnp.full_like(node.total, total_steps)) if isinstance(node, ScheduleState) else node

    return jax.tree.map(fix, opt_state, is_leaf=lambda n: isinstance(n, ScheduleState))


def decay_mask(params):
    """True for weight matrices; biases, LayerNorm scales and 1-D params are not decayed."""
    return jax.tree.map(lambda p: p.ndim > 1, params)


def adamw(lr: float, total_steps: int, *, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
          clip_norm: float | None = 1.0, schedule=None, frozen=None) -> optax.GradientTransformation:
    """optax.adamw's composition (Adam moments, decoupled weight decay, scaled step) with the warmup + linear
    decay above, or with `schedule` (count → learning rate, e.g. `noam(lr)`; `lr` and `total_steps` unused).

    `frozen` (params → pytree of bool, e.g. `models.text.frozen_mask`): the leaves marked True get a zero update
    and no optimizer state at all (no moments, no decay, outside the clipping norm)."""
    chain = [optax.clip_by_global_norm(clip_norm)] if clip_norm else []
    chain += [optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
              optax.add_decayed_weights(weight_decay, mask=decay_mask),
              scale_by_warmup_linear_decay(lr, total_steps, warmup_ratio) if schedule is None
              else optax.scale_by_learning_rate(schedule)]
    return optax.chain(*chain) if frozen is None else freeze(optax.chain(*chain), frozen)


def freeze(tx: optax.GradientTransformation, frozen) -> optax.GradientTransformation:
    """`tx` on every leaf but those `frozen(params)` marks True, which get a zero update and no state of `tx`."""
    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()},
                                 lambda params: jax.tree.map(lambda f: "frozen" if f else "train", frozen(params)))


def max_norm(limit: float = 5.0, mask=None) -> optax.GradientTransformation:
    """Keras' `max_norm(limit)` weight constraint, as the last transformation of a chain: the update is changed so
    that after `optax.apply_updates` every constrained weight vector has L2 norm ≤ `limit` (longer ones are rescaled
    to it, shorter ones left exactly as they are; Keras also shrinks those by norm/(norm + 1e-7)). A weight vector
    is one output unit's incoming weights: the norm runs over every axis but the last, so a Dense kernel (in, out)
    is constrained along axis 0 (Keras' default) and a conv kernel (width, in, out) per output filter.
    `mask` (params → pytree of bool, default: every leaf of 2 or more dimensions) chooses the leaves; 1-D leaves
    (biases) are never constrained. Needs the params: `tx.update(grads, state, params)`."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("max_norm needs the current params: call tx.update(updates, state, params)")
        chosen = (mask or decay_mask)(params)

        def constrain(u, p, on):
            if not on or p.ndim < 2:
                return u
            new = p + u
            norm = jnp.sqrt(jnp.sum(jnp.square(new), axis=tuple(range(new.ndim - 1)), keepdims=True))
            return new * jnp.minimum(1.0, limit / jnp.maximum(norm, 1e-12)) - p

        return jax.tree.map(constrain, updates, params, chosen), state

    return optax.GradientTransformation(init, update)
