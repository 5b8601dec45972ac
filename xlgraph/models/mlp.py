"""FT-MLP (Mhamdi et al.): the masked mean of a text's word vectors → Dense 512, ReLU → dropout 0.7 → linear head.

The paper's simplest classifier over aligned multilingual embeddings: word order is ignored, so everything it
transfers comes from the shared vector space.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from xlgraph.models.embedding import TextClassifier, WordEmbedding, masked_mean


class MLPClassifier(TextClassifier):
    def __init__(self, embeddings: np.ndarray, num_labels: int, *, freeze: bool = True, rngs: nnx.Rngs,
                 hidden: int = 512, dropout: float = 0.7):
        self.embed = WordEmbedding(embeddings, freeze=freeze)
        self.dense = nnx.Linear(self.embed.features, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(hidden, num_labels, rngs=rngs)

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """(B, hidden): the ReLU layer over the mean word vector."""
        x = self.embed(input_ids, attention_mask, embed_delta)
        return jax.nn.relu(self.dense(masked_mean(x, attention_mask)))
