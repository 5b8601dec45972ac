"""Sequence classifier: encoder → pooling (first token or mean) → dropout → linear head."""

from __future__ import annotations

import jax
from flax import nnx

from xlgraph.models.encoder import Encoder, pool


class Classifier(nnx.Module):
    def __init__(self, encoder: Encoder, num_labels: int, *, pooling: str = "first", dropout: float = 0.1,
                 rngs: nnx.Rngs):
        if pooling not in ("first", "mean"):
            raise ValueError(f"pooling must be 'first' or 'mean', not {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nnx.Dropout(dropout)
        hidden = encoder.cfg.hidden_size
        self.head = nnx.Linear(hidden, num_labels, kernel_init=jax.nn.initializers.normal(0.02), rngs=rngs)

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        hidden = self.encoder(input_ids, attention_mask, rngs=rngs, embed_delta=embed_delta)
        return pool(hidden, attention_mask, self.pooling)

    @property
    def embedding_table(self) -> nnx.Param:
        return self.encoder.word_embeddings.embedding

    def __call__(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """Logits (B, num_labels). Dropout is active iff `rngs` is given; `embed_delta` perturbs the word
        embeddings (adversarial training)."""
        pooled = self.features(input_ids, attention_mask, rngs=rngs, embed_delta=embed_delta)
        return self.head(self.dropout(pooled, deterministic=rngs is None, rngs=rngs))
