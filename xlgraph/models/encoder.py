"""A Transformer encoder for the BERT family (BERT, mBERT, MiniLM) and RoBERTa/XLM-R, in Flax NNX.

Post-LayerNorm blocks exactly as in Hugging Face's BertModel / XLMRobertaModel, so a checkpoint loaded by
`xlgraph.models.hf` gives the same hidden states. Q, K and V are one fused Linear (fewer, larger matmuls).
Dropout is active iff `rngs` is passed to `__call__`: the module holds no RNG state, so
`nnx.split(encoder)` yields only Params and a train step can create `nnx.Rngs(dropout=key)` inside jit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from xlgraph.errors import ModelLoadError
from xlgraph.models.embedding import Frozen

_ACTIVATIONS = {
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # HF "gelu" is the exact erf form
    "gelu_new": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_fast": lambda x: jax.nn.gelu(x, approximate=True),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}
_FAMILIES = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta"}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    hidden_act: str = "gelu"
    pad_token_id: int = 0
    position_offset: int = 0  # RoBERTa: pad_token_id + 1; positions count non-pad tokens from there
    family: str = "bert"  # "bert" | "roberta"
    model_type: str = "bert"  # written back to config.json on export
    dtype: Any = jnp.float32  # compute dtype
    param_dtype: Any = jnp.float32

    def __post_init__(self):
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"hidden_act {self.hidden_act!r} not supported (one of {sorted(_ACTIVATIONS)})")
        if self.family not in ("bert", "roberta"):
            raise ValueError(f"family must be 'bert' or 'roberta', not {self.family!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")

    @classmethod
    def from_hf(cls, hf: dict, **overrides) -> EncoderConfig:
        """From a Hugging Face config.json dict (model_type bert, roberta or xlm-roberta)."""
        model_type = hf.get("model_type", "")
        if model_type not in _FAMILIES:
            raise ModelLoadError(f"model_type {model_type!r} is not supported (one of {sorted(_FAMILIES)})")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise ModelLoadError(f"position_embedding_type {hf['position_embedding_type']!r} is not supported")
        family = _FAMILIES[model_type]
        pad = int(hf.get("pad_token_id", 0 if family == "bert" else 1))
        act = hf.get("hidden_act", "gelu")
        if act not in _ACTIVATIONS:
            raise ModelLoadError(f"hidden_act {act!r} is not supported (one of {sorted(_ACTIVATIONS)})")
        return cls(
            vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"], num_layers=hf["num_hidden_layers"],
            num_heads=hf["num_attention_heads"], intermediate_size=hf["intermediate_size"],
            max_position_embeddings=hf["max_position_embeddings"], type_vocab_size=hf.get("type_vocab_size", 2),
            layer_norm_eps=hf.get("layer_norm_eps", 1e-12), hidden_dropout=hf.get("hidden_dropout_prob", 0.1),
            attention_dropout=hf.get("attention_probs_dropout_prob", 0.1), hidden_act=act, pad_token_id=pad,
            position_offset=pad + 1 if family == "roberta" else 0, family=family, model_type=model_type,
            **overrides,
        )

    def to_hf(self) -> dict:
        """A config.json dict that transformers' AutoModel reads back as the same architecture."""
        arch = {"bert": "BertModel", "roberta": "RobertaModel", "xlm-roberta": "XLMRobertaModel"}[self.model_type]
        return {
            "architectures": [arch], "model_type": self.model_type, "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size, "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads, "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings, "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps, "hidden_dropout_prob": self.hidden_dropout,
            "attention_probs_dropout_prob": self.attention_dropout, "hidden_act": self.hidden_act,
            "pad_token_id": self.pad_token_id, "position_embedding_type": "absolute", "initializer_range": 0.02,
        }


def _mix(h: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability ~1/2."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def dropout(x: jax.Array, rate: float, rngs: nnx.Rngs | None) -> jax.Array:
    """Inverted dropout with a key drawn from `rngs.dropout`; the identity when `rngs` is None.

    The mask is a keyed hash of each element's index rather than `jax.random.bernoulli`: a MiniLM
    step (batch 32 x 64) makes ~20M dropout decisions, and threefry bits for them cost 8-15% of the
    whole fwd+bwd on a 2-core CPU, while two hash rounds run at memory speed. The key supplies two
    32-bit words, so different keys give unrelated masks (not shifted copies of one stream).
    """
    if rngs is None or rate == 0.0:
        return x
    k = jax.random.bits(rngs.dropout(), (2,), jnp.uint32)
    h = _mix(_mix(lax.iota(jnp.uint32, x.size) ^ k[0]) + k[1]).reshape(x.shape)
    keep = h >= jnp.uint32(min(round(rate * 2.0**32), 2**32 - 1))
    return jnp.where(keep, x * (1.0 / (1.0 - rate)), jnp.zeros_like(x)).astype(x.dtype)


class Layer(nnx.Module):
    def __init__(self, cfg: EncoderConfig, *, rngs: nnx.Rngs):
        h, init = cfg.hidden_size, nnx.initializers.normal(0.02)
        lin = dict(kernel_init=init, dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        norm = dict(epsilon=cfg.layer_norm_eps, dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        self.cfg = cfg
        self.qkv = nnx.Linear(h, 3 * h, **lin)
        self.attn_out = nnx.Linear(h, h, **lin)
        self.attn_norm = nnx.LayerNorm(h, **norm)
        self.ffn_in = nnx.Linear(h, cfg.intermediate_size, **lin)
        self.ffn_out = nnx.Linear(cfg.intermediate_size, h, **lin)
        self.ffn_norm = nnx.LayerNorm(h, **norm)

    def __call__(self, x, keep_keys, rngs):
        """x: (B*L, H). Tokens stay flattened between attentions: XLA:CPU runs the weight-gradient
        matmuls of 2-D activations about twice as fast as ones contracting over both B and L."""
        cfg = self.cfg
        (b, n), h = keep_keys.shape, cfg.hidden_size
        heads, d = cfg.num_heads, h // cfg.num_heads
        q, k, v = jnp.split(self.qkv(x).reshape(b, n, 3 * heads, d), 3, axis=2)  # each (B, L, heads, d)
        if rngs is None or cfg.attention_dropout == 0.0:
            ctx = jax.nn.dot_product_attention(q, k, v, mask=keep_keys[:, None, None, :])
        else:  # dropout on the attention probabilities, as in BERT training
            scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (d ** -0.5)
            scores = jnp.where(keep_keys[:, None, None, :], scores, jnp.finfo(scores.dtype).min)
            probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(q.dtype)
            ctx = jnp.einsum("bhqk,bkhd->bqhd", dropout(probs, cfg.attention_dropout, rngs), v)
        x = self.attn_norm(x + dropout(self.attn_out(ctx.reshape(b * n, h)), cfg.hidden_dropout, rngs))
        y = self.ffn_out(_ACTIVATIONS[cfg.hidden_act](self.ffn_in(x)))
        return self.ffn_norm(x + dropout(y, cfg.hidden_dropout, rngs))


class Encoder(nnx.Module):
    def __init__(self, cfg: EncoderConfig, *, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        emb = dict(embedding_init=init, dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        self.cfg = cfg
        self.word_embeddings = nnx.Embed(cfg.vocab_size, cfg.hidden_size, **emb)
        self.position_embeddings = nnx.Embed(cfg.max_position_embeddings, cfg.hidden_size, **emb)
        self.token_type_embeddings = nnx.Embed(cfg.type_vocab_size, cfg.hidden_size, **emb)
        self.embeddings_norm = nnx.LayerNorm(cfg.hidden_size, epsilon=cfg.layer_norm_eps, dtype=cfg.dtype,
                                             param_dtype=cfg.param_dtype, rngs=rngs)
        self.layers = nnx.List([Layer(cfg, rngs=rngs) for _ in range(cfg.num_layers)])

    def freeze_layers(self, n: int) -> None:
        """Keeps the embeddings and the bottom `n` layers as loaded: none of their parameters has optimizer state, and
        the forward pass stops the gradient above them, so the backward pass runs through the top layers only —
        unless `embed_delta` is given (adversarial training needs the gradient at the input embeddings)."""
        if not 0 <= n <= self.cfg.num_layers:
            raise ValueError(f"can freeze 0 to {self.cfg.num_layers} layers, not {n}")
        if n == 0:
            return
        self.freeze_word_embeddings()
        for module in (self.position_embeddings, self.token_type_embeddings, self.embeddings_norm, *self.layers[:n]):
            _freeze(module)

    def frozen_layers(self) -> int:
        return next((i for i, layer in enumerate(self.layers) if not isinstance(layer.qkv.kernel, Frozen)),
                    len(self.layers))

    def freeze_word_embeddings(self) -> None:
        """Keeps the word-embedding table as loaded: no gradient reaches it and the optimizer (`adamw(frozen=
        frozen_mask)`) keeps no state for it. For a 250k-piece vocabulary that is most of the parameters; the rows
        of words never seen in training also stay where pretraining put them, beside their translations."""
        self.word_embeddings.embedding = Frozen(self.word_embeddings.embedding[...])

    def position_ids(self, input_ids: jax.Array) -> jax.Array:
        if self.cfg.family == "roberta":  # HF create_position_ids_from_input_ids: pads sit at padding_idx
            real = (input_ids != self.cfg.pad_token_id).astype(jnp.int32)
            return jnp.cumsum(real, axis=1) * real + (self.cfg.position_offset - 1)
        return jnp.broadcast_to(jnp.arange(input_ids.shape[1]) + self.cfg.position_offset, input_ids.shape)

    def __call__(self, input_ids, attention_mask, token_type_ids=None, *, rngs: nnx.Rngs | None = None,
                 embed_delta: jax.Array | None = None):
        """Hidden states (B, L, H) of the last layer. Dropout is active iff `rngs` is given. `embed_delta`
        (B, L, H) is added to the word embeddings: the input perturbation of adversarial training."""
        table = self.word_embeddings.embedding[...]
        if isinstance(self.word_embeddings.embedding, Frozen):  # no gradient, so no dense (V, H) gradient either
            table = lax.stop_gradient(table)
        x = jnp.take(table, input_ids, axis=0).astype(self.cfg.dtype)  # gather, then cast: not the whole table
        if embed_delta is not None:
            x = x + embed_delta.astype(x.dtype)
        x = x + self.position_embeddings(self.position_ids(input_ids))
        if token_type_ids is None:  # all type 0: add the row instead of gathering it B*L times
            x = x + self.token_type_embeddings.embedding[0].astype(x.dtype)
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        x = dropout(self.embeddings_norm(x), self.cfg.hidden_dropout, rngs)
        keep_keys = attention_mask.astype(bool)
        x = x.reshape(-1, self.cfg.hidden_size)
        frozen = self.frozen_layers()
        for i, layer in enumerate(self.layers):
            x = layer(x, keep_keys, rngs)
            if i + 1 == frozen and embed_delta is None:  # FGSM needs the input gradient: then all the way down
                x = lax.stop_gradient(x)
        return x.reshape(*input_ids.shape, -1)


def _freeze(module: nnx.Module) -> None:
    """Every Param of `module` becomes `Frozen` (same value)."""
    for _, sub in nnx.iter_modules(module):
        for name, value in list(vars(sub).items()):
            if isinstance(value, nnx.Param) and not isinstance(value, Frozen):
                setattr(sub, name, Frozen(value[...]))


def pool(hidden: jax.Array, mask: jax.Array, how: str = "first") -> jax.Array:
    """(B, H) from (B, L, H): the first token, or the mean over positions where `mask` is set
    (all-padding rows give zeros, not NaN)."""
    if how == "first":
        return hidden[:, 0]
    if how == "mean":
        m = mask.astype(hidden.dtype)[..., None]
        return jnp.sum(hidden * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1.0)
    raise ValueError(f"pooling must be 'first' or 'mean', not {how!r}")
