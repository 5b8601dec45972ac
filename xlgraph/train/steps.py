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

from xlgraph.objectives.classification import cross_entropy


class TrainState(NamedTuple):
    step: jax.Array
    params: Any  # nnx.State of the model's Params
    opt_state: Any


def init_state(params, tx: optax.GradientTransformation) -> TrainState:
    return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))


def classification_loss(model, batch, rngs):
    logits = model(batch["input_ids"], batch["attention_mask"], rngs=rngs)
    loss = cross_entropy(logits, batch["labels"], batch["weight"])
    return loss, logits


LossFn = Callable[[nnx.Module, dict, nnx.Rngs | None], tuple[jax.Array, jax.Array]]


def make_train_step(graphdef, tx: optax.GradientTransformation, loss_fn: LossFn = classification_loss):
    """A jitted `(state, batch, key) -> (state, metrics)`; the incoming state's buffers are donated."""

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        def loss_of(params):
            model = nnx.merge(graphdef, params)
            return loss_fn(model, batch, nnx.Rngs(dropout=jax.random.fold_in(key, state.step)))

        (loss, logits), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        weight = batch["weight"]
        correct = jnp.sum((jnp.argmax(logits, -1) == batch["labels"]) * weight)
        metrics = {"loss": loss, "accuracy": correct / jnp.maximum(jnp.sum(weight), 1.0),
                   "grad_norm": optax.global_norm(grads)}
        return TrainState(state.step + 1, params, opt_state), metrics

    return jax.jit(train_step, donate_argnums=0)


def make_predict_step(graphdef):
    """A jitted `(params, batch) -> (predicted class, probabilities)`, dropout off."""

    def predict_step(params, batch: dict):
        logits = nnx.merge(graphdef, params)(batch["input_ids"], batch["attention_mask"])
        probs = jax.nn.softmax(logits.astype(jnp.float32), -1)
        return jnp.argmax(probs, -1), probs

    return jax.jit(predict_step)
