"""MF-CNN (Kim 2014, as used by Mhamdi et al.): parallel 1-D convolutions of widths 3, 4, 5 with 200 filters each,
ReLU, max-pool over time, concatenated → dropout 0.3 → linear head.

Masked so that padding cannot change the output: the windows pooled are those that *start* at a real token, and
every padded position reads as a zero vector (the padding row and any `embed_delta` there are zeroed). The input
is padded with width − 1 zero vectors on the right, so a text keeps its last windows (and one shorter than the
filter still has one) whatever length its batch was padded to.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.errors import XlgraphError
from xlgraph.models.embedding import TextClassifier, WordEmbedding, masked_max


class CNNClassifier(TextClassifier):
    def __init__(self, embeddings: np.ndarray, num_labels: int, *, freeze: bool = True, rngs: nnx.Rngs,
                 widths: Sequence[int] = (3, 4, 5), filters: int = 200, dropout: float = 0.3):
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise XlgraphError(f"cnn widths must be a non-empty list of positive filter widths, got {widths}")
        self.embed = WordEmbedding(embeddings, freeze=freeze)
        self.convs = nnx.List([nnx.Conv(self.embed.features, filters, kernel_size=(w,), padding=((0, w - 1),),
                                        rngs=rngs) for w in widths])
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(filters * len(widths), num_labels, rngs=rngs)

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """(B, filters · len(widths)): per width, the max over windows starting at a real token."""
        x = self.embed(input_ids, attention_mask, embed_delta)
        return jnp.concatenate([masked_max(jax.nn.relu(conv(x)), attention_mask) for conv in self.convs], -1)
