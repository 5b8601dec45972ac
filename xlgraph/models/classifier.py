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

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None):
        return pool(self.encoder(input_ids, attention_mask, rngs=rngs), attention_mask, self.pooling)

    def __call__(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None):
        """Logits (B, num_labels). Dropout is active iff `rngs` is given."""
        pooled = self.features(input_ids, attention_mask, rngs=rngs)
        return self.head(self.dropout(pooled, deterministic=rngs is None, rngs=rngs))
