"""The deep CNN of the multilingual Wikipedia paper: word embeddings (512) → conv window 32 → conv window 16 →
three parallel convs of windows 3, 4, 5 on the second layer's output → max-pool over time each, concatenated →
dropout → dense scores, one per label. 128 filters per conv, ReLU, stride 1, zero ("same") padding.

Padding cannot change the output. A conv at a real position reads its neighbours, so the padded positions must
look exactly like the zero padding an unpadded sequence gets at its edge: the input embeddings and every conv
output are zeroed there before the next conv reads them. The max-pool then runs over real positions only; after a
ReLU every value is ≥ 0, so zeroing the padded positions before the max is that masked max (and gives 0 for a row
with no real position, a padding row).

Embeddings are trained from random (the paper) or start from given vectors (aligned multilingual vectors are what
lets a language unseen in training be read at all); `freeze_embeddings` keeps them fixed, which is what keeps
them aligned (training would move only the rows of training-language words). The table is the classic models'
`WordEmbedding`: frozen, it is a `Frozen` variable the optimizer keeps no state for (`train.optim.freeze`).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx.nn.linear import default_embed_init

from xlgraph.models.embedding import WordEmbedding


class DeepCNN(nnx.Module):
    def __init__(self, vocab_size: int, num_labels: int, *, embed_dim: int = 512, filters: int = 128,
                 windows: Sequence[int] = (32, 16), parallel: Sequence[int] = (3, 4, 5), dropout: float = 0.5,
                 embeddings: np.ndarray | None = None, freeze_embeddings: bool = False, rngs: nnx.Rngs):
        if embeddings is not None and embeddings.shape[0] != vocab_size:
            raise ValueError(f"{embeddings.shape[0]} embedding rows for a vocabulary of {vocab_size}")
        key = rngs.params()  # drawn either way, so the convs' initial weights do not depend on the vectors
        if embeddings is None:  # nnx.Embed's initialisation
            embeddings = default_embed_init(key, (vocab_size, embed_dim), jnp.float32)
        self.embed = WordEmbedding(np.asarray(embeddings), freeze=freeze_embeddings)
        embed_dim = self.embed.features
        dims = [embed_dim] + [filters] * len(windows)
        self.stack = nnx.List([nnx.Conv(dims[i], filters, kernel_size=(w,), padding="SAME", rngs=rngs)
                               for i, w in enumerate(windows)])
        self.branches = nnx.List([nnx.Conv(dims[-1], filters, kernel_size=(w,), padding="SAME", rngs=rngs)
                                  for w in parallel])
        self.widest = max((*windows, *parallel))
        self.dropout = nnx.Dropout(dropout)
        self.out = nnx.Linear(filters * len(parallel), num_labels, rngs=rngs)

    @property
    def embedding_table(self) -> nnx.Param:
        return self.embed.table

    def features(self, input_ids, attention_mask, *, embed_delta=None):
        """The concatenated max-pooled features (B, filters × len(parallel))."""
        short = self.widest - input_ids.shape[1]
        if short > 0:
            # XLA's CPU convolution leaves its fast path when the kernel is longer than the input (window 32 over
            # 16 words: ~60× slower); masked zero positions change nothing, so pad to the widest window
            input_ids = jnp.pad(input_ids, ((0, 0), (0, short)))
            attention_mask = jnp.pad(attention_mask, ((0, 0), (0, short)))
            if embed_delta is not None:
                embed_delta = jnp.pad(embed_delta, ((0, 0), (0, short), (0, 0)))
        mask = attention_mask[..., None].astype(jnp.float32)
        x = self.embed(input_ids, attention_mask, embed_delta)
        for conv in self.stack:
            x = jax.nn.relu(conv(x)) * mask
        return jnp.concatenate([jnp.max(jax.nn.relu(conv(x)) * mask, axis=1) for conv in self.branches], axis=-1)

    def __call__(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """Scores (B, num_labels). Dropout is active iff `rngs` is given."""
        h = self.features(input_ids, attention_mask, embed_delta=embed_delta)
        return self.out(self.dropout(h, deterministic=rngs is None, rngs=rngs))


def param_count(vocab_size: int, num_labels: int, *, embed_dim: int, filters: int, windows: Sequence[int],
                parallel: Sequence[int]) -> tuple[int, int]:
    """(embedding table, everything else): the sizes of `DeepCNN`'s parameters, without building it (a memory
    check must run before a huge model fills the memory)."""
    dims = [embed_dim] + [filters] * len(windows)
    convs = sum(dims[i] * filters * w + filters for i, w in enumerate(windows))
    convs += sum(dims[-1] * filters * w + filters for w in parallel)
    return vocab_size * embed_dim, convs + filters * len(parallel) * num_labels + num_labels


def max_norm_mask(params):
    """The leaves the paper's max-norm constrains: every conv kernel and the output kernel (one weight vector
    per filter / label); not the embedding table, whose rows are words rather than a unit's weights, nor biases."""
    return jax.tree_util.tree_map_with_path(
        lambda path, p: p.ndim > 1 and "embed" not in [getattr(k, "key", None) for k in path], params)
