"""Two tasks over one model with two optimizers (HAN + Sent-Ali, Mhamdi et al. §3.2.3): every step makes one
classification update on a document batch, then one sentence-alignment update on a batch of parallel sentences
(1 − cos between the shared word-level encoder's vectors of a sentence and its English translation).

The step is an ordinary `(state, batch, key) -> (state, metrics)` for `train.loop.fit`: the optimizer state holds
both optimizers' states (`Alternating.init`), and the parallel sentences ride in the batch (`ParallelBatches`
adds them to each document batch, fixed shape, a pure function of (seed, epoch, position) so resume sees the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xlgraph.data.tokenize import Tokenized
from xlgraph.objectives.alignment import cosine_alignment_loss
from xlgraph.objectives.classification import GradFn, LossFn, classification_loss, value_and_grad
from xlgraph.train.parallel import DataParallel
from xlgraph.train.steps import TrainState, argmax_correct, jit_step


class AlternatingState(NamedTuple):
    classify: Any
    align: Any


class Alternating(NamedTuple):
    """One optimizer per task over the same parameters; `init` is all `train.steps.init_state` needs."""

    classify: optax.GradientTransformation
    align: optax.GradientTransformation

    def init(self, params) -> AlternatingState:
        return AlternatingState(self.classify.init(params), self.align.init(params))


def sentence_alignment_loss(model, batch: dict, rngs=None) -> jax.Array:
    """Mean 1 − cos(sentence_vector(pair), sentence_vector(its English)) over the batch's real pairs."""
    a = model.sentence_vector(batch["pair_ids"], batch["pair_mask"], rngs=rngs)
    b = model.sentence_vector(batch["pair_en_ids"], batch["pair_en_mask"], rngs=rngs)
    return cosine_alignment_loss(a, b, batch["pair_weight"])


def make_alternating_step(graphdef, tx: Alternating, loss_fn: LossFn = classification_loss, *,
                          dp: DataParallel | None = None, state_sharding=None, grad_fn: GradFn | None = None,
                          align_loss=sentence_alignment_loss):
    """A jitted `(state, batch, key) -> (state, metrics)`: the classification update (`grad_fn`, default the plain
    gradient of `loss_fn`; FGSM composes here as in `make_train_step`), then the alignment update from the
    parameters it produced. State buffers are donated."""
    grad_fn = grad_fn or value_and_grad(loss_fn)

    def step(state: TrainState, batch: dict, key: jax.Array):
        key = jax.random.fold_in(key, state.step)  # the classification half sees make_train_step's key
        loss, logits, grads = grad_fn(graphdef, state.params, batch, key)
        updates, classify_state = tx.classify.update(grads, state.opt_state.classify, state.params)
        params = optax.apply_updates(state.params, updates)

        def align_of(p):
            return align_loss(nnx.merge(graphdef, p), batch, nnx.Rngs(dropout=jax.random.fold_in(key, 1)))

        align, align_grads = jax.value_and_grad(align_of)(params)
        updates, align_state = tx.align.update(align_grads, state.opt_state.align, params)
        params = optax.apply_updates(params, updates)
        real = jnp.maximum(jnp.sum(batch["weight"]), 1.0)
        correct = jnp.sum(argmax_correct(logits, batch) * batch["weight"])
        metrics = {"loss": loss, "accuracy": correct / real, "grad_norm": optax.global_norm(grads),
                   "align_loss": align, "align_grad_norm": optax.global_norm(align_grads)}
        return TrainState(state.step + 1, params, AlternatingState(classify_state, align_state)), metrics

    return jit_step(step, dp, state_sharding)


class ParallelBatches:
    """Adds `batch_size` parallel pairs to every document batch: epoch e walks a permutation of the pairs
    (seeded by (seed, e)), batch p takes its positions [p·B, (p+1)·B), wrapping when the epoch is longer."""

    def __init__(self, text: Tokenized, english: Tokenized, batch_size: int, *, seed: int = 0):
        if len(text.lengths) != len(english.lengths) or not len(text.lengths):
            raise ValueError(f"need the same, non-zero number of sentences on both sides, got "
                             f"{len(text.lengths)} and {len(english.lengths)}")
        self.text, self.english, self.batch_size, self.seed = text, english, batch_size, seed
        self._order = (None, None)  # (epoch, its permutation): made once per epoch, not per batch

    def __len__(self) -> int:
        return len(self.text.lengths)

    def pairs(self, epoch: int, position: int) -> dict:
        """The pair fields of batch `position` of `epoch` (whole global batch)."""
        if self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch, 7]).permutation(len(self)))
        index = self._order[1][(position * self.batch_size + np.arange(self.batch_size)) % len(self)]
        fields = {}
        for name, tok in (("pair", self.text), ("pair_en", self.english)):
            ids = tok.ids[index]
            fields[f"{name}_ids"], fields[f"{name}_mask"] = ids, (ids != tok.pad_id).astype(np.int32)
        fields["pair_weight"] = np.ones(self.batch_size, np.float32)
        return fields

    def attach(self, batches: Iterator[dict], epoch: int, skip: int = 0, rows: slice = slice(None)) -> Iterator[dict]:
        """`batches` (an epoch's, from position `skip`) with this process's `rows` of each one's pairs added."""
        for position, batch in enumerate(batches, skip):
            yield {**batch, **{k: v[rows] for k, v in self.pairs(epoch, position).items()}}
