"""The word-embedding input shared by the classic CLTC models (FT-MLP, MF-CNN, bi-GRU-Att, HAN) and the masked
pooling they read it with.

The table is a multilingual (aligned) word-vector space, row 0 the padding row. It is frozen by default: only
English rows would be trained, which moves English words away from their translations and breaks the alignment
the zero-shot transfer relies on. Freezing is done twice: `stop_gradient` in the lookup (no gradient reaches the
table) and the `Frozen` variable type, which `frozen_mask` reports so that `train.optim.adamw(frozen=...)` keeps
no Adam moments for it and applies no weight decay to it.

Padding never changes an output: every pooling takes the mask (the paper's Keras code pools over padding too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.errors import XlgraphError


class Frozen(nnx.Param):
    """A Param the optimizer leaves untouched (see `frozen_mask`). Still a Param, so `nnx.split(model)` and
    `nnx.split(model, nnx.Param, ...)` carry it as before."""


def frozen_mask(params):
    """True at every `Frozen` variable of `params` (an nnx.State, or grads of one): pass as
    `adamw(..., frozen=frozen_mask)`. The type travels with the state, so no model is needed here."""
    return jax.tree.map(lambda v: isinstance(v, Frozen), params, is_leaf=lambda v: isinstance(v, nnx.Variable))


class WordEmbedding(nnx.Module):
    """Looks up (B, L) ids in a (V, D) table copied from `embeddings`; `embed_delta` (B, L, D) is added to the
    looked-up vectors (FGSM) and every padded position is zeroed, so neither the padding row nor a perturbation
    there can reach a model."""

    def __init__(self, embeddings: np.ndarray, *, freeze: bool = True):
        table = np.asarray(embeddings)
        if table.ndim != 2 or table.shape[0] < 2 or table.shape[1] < 1:
            raise XlgraphError(f"embeddings must be a (V, D) table with V ≥ 2 (row 0 = padding), "
                               f"got shape {table.shape}")
        if not np.issubdtype(table.dtype, np.floating) or not np.all(np.isfinite(table)):
            raise XlgraphError(f"embeddings must be finite floats, got dtype {table.dtype}"
                               + ("" if not np.issubdtype(table.dtype, np.floating) else " with NaN or inf values"))
        self.freeze = freeze
        self.table = (Frozen if freeze else nnx.Param)(jnp.asarray(table, jnp.float32))

    @property
    def features(self) -> int:
        return self.table.shape[1]

    def __call__(self, input_ids, attention_mask, embed_delta=None):
        table = self.table[...]
        if self.freeze:
            table = jax.lax.stop_gradient(table)
        x = jnp.take(table, input_ids, axis=0)
        if embed_delta is not None:
            x = x + embed_delta.astype(x.dtype)
        return x * attention_mask[..., None].astype(x.dtype)


def masked_mean(x, mask):
    """(B, D) mean of x (B, L, D) over the positions where mask (B, L) is set; an empty row gives zeros."""
    m = mask.astype(x.dtype)[..., None]
    return jnp.sum(x * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1.0)


def masked_max(x, mask):
    """(B, D) max of x (B, L, D) over the positions where mask is set: a masked position can never win, and an
    empty row gives zeros (not -inf)."""
    m = mask.astype(bool)[..., None]
    best = jnp.max(jnp.where(m, x, -jnp.inf), axis=1)
    return jnp.where(jnp.any(m, axis=1), best, 0.0)


def masked_softmax(scores, mask):
    """Softmax of scores (B, L) over the positions where mask is set; masked positions get exactly 0 and an empty
    row gives all zeros (not NaN)."""
    m = mask.astype(bool)
    top = jnp.max(jnp.where(m, scores, -jnp.inf), axis=-1, keepdims=True)
    # exp(-inf) at masked positions, not where(m, exp(.), 0): that would overflow there and its gradient be NaN
    e = jnp.exp(jnp.where(m, scores - jnp.where(jnp.isfinite(top), top, 0.0), -jnp.inf))
    return e / jnp.maximum(jnp.sum(e, axis=-1, keepdims=True), 1e-30)


class TextClassifier(nnx.Module):
    """The contract every model here shares: a `WordEmbedding` at `self.embed`, `features(...)` (B, F) the
    representation before the output layer, and logits = head(dropout(features)). Dropout is active iff `rngs`
    is given (as in `models/classifier.py`)."""

    embed: WordEmbedding
    dropout: nnx.Dropout
    head: nnx.Linear

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        raise NotImplementedError

    @property
    def embedding_table(self) -> jax.Array:
        return self.embed.table[...]

    def __call__(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """Logits (B, num_labels) for input_ids (B, L) int32 and attention_mask (B, L) in {0, 1}; `embed_delta`
        (B, L, D) perturbs the word embeddings (adversarial training)."""
        h = self.features(input_ids, attention_mask, rngs=rngs, embed_delta=embed_delta)
        return self.head(self.dropout(h, deterministic=rngs is None, rngs=rngs))
