"""bi-GRU-Att and HAN (Mhamdi et al.; HAN after Yang et al. 2016): bidirectional GRUs read with additive
attention, u_t = tanh(W h_t + b), α = softmax_t(u_t · u_w), s = Σ_t α_t h_t.

Masked throughout (the paper's code is not): a padded position neither updates a direction's state nor gets
attention, so the backward direction starts at each row's last real token and a text reads the same at any padded
length. Both directions advance in one `lax.scan` (L sequential steps, not 2L); the input projections of all time
steps are one matrix product before it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.errors import XlgraphError
from xlgraph.models.embedding import TextClassifier, WordEmbedding, masked_softmax


class BiGRU(nnx.Module):
    """A bidirectional GRU with flax's `nnx.GRUCell` equations, r applied to the recurrent candidate term:
    r, z = σ(W_r x + b_r + U_r h), σ(W_z x + b_z + U_z h);  n = tanh(W_n x + b_n + r ⊙ U_n h);
    h' = (1 − z) ⊙ n + z ⊙ h. The two directions' weights are stacked on a leading axis of 2, so each time step
    is one batched matrix product for both (half the ops of two cells in the loop body, to compile and to launch).
    Initialised as `nnx.GRUCell` is: LeCun-normal input kernels, orthogonal recurrent ones, zero biases."""

    def __init__(self, in_features: int, units: int, *, rngs: nnx.Rngs):
        self.units = units
        lecun, orthogonal = jax.nn.initializers.lecun_normal(), jax.nn.initializers.orthogonal()
        self.input_kernel = nnx.Param(jnp.stack([lecun(rngs.params(), (in_features, 3 * units))
                                                 for _ in range(2)]))
        self.input_bias = nnx.Param(jnp.zeros((2, 3 * units)))
        self.recurrent_kernel = nnx.Param(jnp.stack([orthogonal(rngs.params(), (units, 3 * units))
                                                     for _ in range(2)]))

    def __call__(self, x, mask):
        """(B, L, 2·units): [forward state, backward state] at each real position, zeros at padded ones. Each
        direction's state skips the positions where mask (B, L) is 0, wherever they are."""
        m = jnp.swapaxes(mask.astype(bool), 0, 1)[:, None, :, None]  # (L, 1, B, 1), time-major for the scan
        m = jnp.concatenate([m, m[::-1]], axis=1)  # (L, 2, B, 1): step t reads position t forward, L-1-t back
        xi = jnp.einsum("bld,edk->lebk", x, self.input_kernel[...]) + self.input_bias[...][None, :, None]
        xi = jnp.concatenate([xi[:, :1], xi[::-1, 1:]], axis=1)  # (L, 2, B, 3·units)
        u = self.recurrent_kernel[...]

        def step(h, inputs):
            xi_t, m_t = inputs
            xr, xz, xn = jnp.split(xi_t, 3, axis=-1)
            hr, hz, hn = jnp.split(jnp.einsum("ebh,ehk->ebk", h, u), 3, axis=-1)
            r = jax.nn.sigmoid(xr + hr)
            z = jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = jnp.where(m_t, (1.0 - z) * n + z * h, h)
            return h, h

        h0 = jnp.zeros((2, x.shape[0], self.units), xi.dtype)
        _, hs = jax.lax.scan(step, h0, (xi, m))  # (L, 2, B, units)
        out = jnp.concatenate([hs[:, 0], hs[::-1, 1]], axis=-1) * m[:, 0]
        return jnp.swapaxes(out, 0, 1)


class Attention(nnx.Module):
    """Additive attention with a learned context vector u_w: (B, L, F), mask (B, L) → (B, F)."""

    def __init__(self, features: int, *, rngs: nnx.Rngs):
        self.proj = nnx.Linear(features, features, rngs=rngs)
        self.context = nnx.Param(jax.random.normal(rngs.params(), (features,)) * features ** -0.5)

    def __call__(self, h, mask):
        alpha = masked_softmax(jnp.tanh(self.proj(h)) @ self.context[...], mask)
        return jnp.einsum("bl,blf->bf", alpha, h)


class GRUClassifier(TextClassifier):
    """bi-GRU-Att: embeddings → bi-GRU (150 per direction) → attention → dropout 0.3 → linear head."""

    def __init__(self, embeddings: np.ndarray, num_labels: int, *, freeze: bool = True, rngs: nnx.Rngs,
                 units: int = 150, dropout: float = 0.3):
        self.embed = WordEmbedding(embeddings, freeze=freeze)
        self.gru = BiGRU(self.embed.features, units, rngs=rngs)
        self.attention = Attention(2 * units, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(2 * units, num_labels, rngs=rngs)

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """(B, 2·units): the attention-weighted bi-GRU states."""
        x = self.embed(input_ids, attention_mask, embed_delta)
        return self.attention(self.gru(x, attention_mask), attention_mask)


class HANClassifier(TextClassifier):
    """HAN: a word-level bi-GRU + attention makes each sentence a vector, a sentence-level bi-GRU + attention
    makes the document vector → dropout → linear head. Defaults are the paper's multi-task setting (50 units per
    direction, dropout 0.5).

    Layout: input_ids / attention_mask are (B, S·W), sentence s in columns [s·W, (s+1)·W) with W =
    `words_per_sentence`; a sentence with no real word is masked at sentence level. The word level alone is
    `sentence_vector`, shared with the sentence-alignment task on parallel sentences.
    """

    def __init__(self, embeddings: np.ndarray, num_labels: int, *, freeze: bool = True, rngs: nnx.Rngs,
                 units: int = 50, dropout: float = 0.5, words_per_sentence: int = 30):
        if words_per_sentence < 1:
            raise XlgraphError(f"han words_per_sentence must be ≥ 1, got {words_per_sentence}")
        self.words_per_sentence = words_per_sentence
        self.embed = WordEmbedding(embeddings, freeze=freeze)
        self.word_gru = BiGRU(self.embed.features, units, rngs=rngs)
        self.word_attention = Attention(2 * units, rngs=rngs)
        self.sentence_gru = BiGRU(2 * units, units, rngs=rngs)
        self.sentence_attention = Attention(2 * units, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(2 * units, num_labels, rngs=rngs)

    def sentence_vector(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """(B, 2·units) for single sentences input_ids (B, W'), any W'. The word level has no dropout; `rngs` is
        accepted so callers can treat this like `features`."""
        del rngs
        x = self.embed(input_ids, attention_mask, embed_delta)
        return self.word_attention(self.word_gru(x, attention_mask), attention_mask)

    def features(self, input_ids, attention_mask, *, rngs: nnx.Rngs | None = None, embed_delta=None):
        """(B, 2·units): the document vector."""
        b, length = input_ids.shape
        w = self.words_per_sentence
        if length % w:
            raise XlgraphError(f"han input length {length} is not a multiple of words_per_sentence={w}: "
                               f"lay documents out as S sentences of {w} words each")
        s = length // w
        delta = None if embed_delta is None else embed_delta.reshape(b * s, w, -1)
        words_mask = attention_mask.reshape(b * s, w)
        sentences = self.sentence_vector(input_ids.reshape(b * s, w), words_mask, embed_delta=delta)
        sentences = sentences.reshape(b, s, -1)
        sentence_mask = jnp.any(words_mask.astype(bool), axis=-1).reshape(b, s)
        return self.sentence_attention(self.sentence_gru(sentences, sentence_mask), sentence_mask)
