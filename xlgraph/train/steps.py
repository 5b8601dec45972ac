"""Pure jitted steps over (graphdef, state, batch, key).

The model is split once; `graphdef` and the optimizer are static closures, everything that changes
is in `TrainState`. Dropout keys are `fold_in(key, step)`: explicit and reproducible on resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from xlgraph.objectives.classification import GradFn, LossFn, classification_loss, value_and_grad
from xlgraph.train.parallel import DataParallel


class TrainState(NamedTuple):
    step: jax.Array
    params: Any  # nnx.State of the model's Params
    opt_state: Any


def init_state(params, tx: optax.GradientTransformation) -> TrainState:
    return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))


AccuracyFn = Callable[[jax.Array, dict], jax.Array]  # (logits, batch) -> (B,) score of each row, in [0, 1]


def argmax_correct(logits, batch):
    return (jnp.argmax(logits, -1) == batch["labels"]).astype(jnp.float32)


def make_train_step(graphdef, tx: optax.GradientTransformation, loss_fn: LossFn = classification_loss, *,
                    dp: DataParallel | None = None, state_sharding=None, grad_accum: int = 1,
                    grad_fn: GradFn | None = None, accuracy_fn: AccuracyFn = argmax_correct,
                    consts: dict | None = None):
    """A jitted `(state, batch, key) -> (state, metrics)`; the incoming state's buffers are donated.

    With `dp`, the batch is sharded over the mesh's `data` axis and the state placed by `state_sharding`
    (default: replicated); XLA inserts the gradient all-reduce, so the result equals one device's.
    `grad_accum` > 1 splits the batch into that many micro-batches run one after another under `lax.scan`,
    each weighted by its share of real rows: the update equals one step on the whole batch.
    `grad_fn` replaces the plain gradient of `loss_fn` (e.g. `objectives.adversarial.fgsm(...)`).
    `accuracy_fn(logits, batch)` scores each row for the logged "accuracy" (multi-label: a set overlap).
    `consts`: arrays every step reads whole (a graph's node features and edges), merged into each (micro-)batch
    inside the step: passed as replicated arguments, never donated, never closure constants (XLA would try to
    constant-fold through them). The step is still called as `(state, batch, key)`.
    """
    grad_fn = grad_fn or value_and_grad(loss_fn)

    def grads_of(params, batch, key, consts):
        loss, logits, grads = grad_fn(graphdef, params, {**batch, **consts}, key)
        correct = jnp.sum(accuracy_fn(logits, batch) * batch["weight"])
        return loss, correct, grads

    def train_step(state: TrainState, batch: dict, key: jax.Array, consts: dict):
        key = jax.random.fold_in(key, state.step)
        real = jnp.maximum(jnp.sum(batch["weight"]), 1.0)
        if grad_accum == 1:
            loss, correct, grads = grads_of(state.params, batch, key, consts)
        else:
            # micro-batch j takes rows j, j+k, j+2k, ...: every device holds a share of every micro-batch
            micro = jax.tree.map(lambda x: x.reshape(x.shape[0] // grad_accum, grad_accum, *x.shape[1:])
                                 .swapaxes(0, 1), batch)

            def one(carry, xs):
                mb, j = xs
                loss, correct, grads = grads_of(state.params, mb, jax.random.fold_in(key, j), consts)
                share = jnp.sum(mb["weight"]) / real
                acc_loss, acc_correct, acc_grads = carry
                acc_grads = jax.tree.map(lambda a, g: a + share * g, acc_grads, grads)
                return (acc_loss + share * loss, acc_correct + correct, acc_grads), None

            zeros = jax.tree.map(jnp.zeros_like, state.params)
            init = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32), zeros)
            (loss, correct, grads), _ = jax.lax.scan(one, init, (micro, jnp.arange(grad_accum)))
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, "accuracy": correct / real, "grad_norm": optax.global_norm(grads)}
        return TrainState(state.step + 1, params, opt_state), metrics

    if consts is None:
        return jit_step(lambda state, batch, key: train_step(state, batch, key, {}), dp, state_sharding)
    step = jit_step(train_step, dp, state_sharding, extra=1)
    consts = dp.place(consts) if dp is not None else jax.device_put(consts)
    return lambda state, batch, key: step(state, batch, key, consts)


def jit_step(step, dp: DataParallel | None = None, state_sharding=None, extra: int = 0):
    """`step(state, batch, key, *extra) -> (state, metrics)` jitted with the state donated; with `dp`, the batch
    sharded over the mesh's `data` axis, the state placed by `state_sharding` (default: replicated) and the
    `extra` arguments after the key replicated."""
    if dp is None:
        return jax.jit(step, donate_argnums=0)
    state = state_sharding or dp.replicated
    return jax.jit(step, donate_argnums=0, in_shardings=(state, dp.batch, dp.replicated, *[dp.replicated] * extra),
                   out_shardings=(state, dp.replicated))


def make_predict_step(graphdef, dp: DataParallel | None = None):
    """A jitted `(params, batch) -> (predicted class, probabilities)`, dropout off. With `dp` the batch is
    sharded and the outputs come back replicated, so every process can read all of them."""

    def predict_step(params, batch: dict):
        logits = nnx.merge(graphdef, params)(batch["input_ids"], batch["attention_mask"])
        probs = jax.nn.softmax(logits.astype(jnp.float32), -1)
        return jnp.argmax(probs, -1), probs

    if dp is None:
        return jax.jit(predict_step)
    return jax.jit(predict_step, in_shardings=(dp.replicated, dp.batch), out_shardings=dp.replicated)
