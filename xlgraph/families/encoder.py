"""The encoder family (model.arch=encoder): a pretrained encoder from model.name (local dir, HF cache, or the
default multilingual-e5-small) with a fresh classification head, its subword tokenizer (with model.prefix),
AdamW over the trained parameters (model.freeze_embeddings, model.train_layers), plain cross-entropy."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx

from xlgraph.config import ConfigDict
from xlgraph.data.tokenize import tokenize
from xlgraph.errors import XlgraphError
from xlgraph.features.source import Features
from xlgraph.models.classifier import Classifier
from xlgraph.models.embedding import frozen_mask
from xlgraph.models.encoder import Encoder
from xlgraph.models.hf import encoder_config, load_encoder
from xlgraph.models.tokenizer import load_tokenizer
from xlgraph.objectives.classification import classification_loss
from xlgraph.train import optim
from xlgraph.train.infer import map_rows


def frozen_layers(cfg: ConfigDict, num_layers: int) -> int:
    """The encoder layers kept as loaded: all but the top model.train_layers (none when 0 or ≥ the depth)."""
    if cfg.model.train_layers < 0:
        raise XlgraphError(f"model.train_layers must be ≥ 0 (0: all layers), not {cfg.model.train_layers}")
    return max(0, num_layers - cfg.model.train_layers) if cfg.model.train_layers else 0


def compute_dtype(cfg: ConfigDict):
    precisions = {"fp32": None, "bf16": jnp.bfloat16}
    if cfg.train.precision not in precisions:
        raise XlgraphError(f"train.precision must be one of {sorted(precisions)}, not {cfg.train.precision!r}")
    return precisions[cfg.train.precision]


def encode(setup, params, tok, desc: str = "") -> "jax.Array":
    """Pooled features (first token or mean, as the classifier pools) of every row of `tok`, in order, with the
    classifier of `setup` (its graphdef, mesh and batch settings)."""
    dp = setup.dp
    step = jax.jit(lambda p, b: nnx.merge(setup.graphdef, p).features(b["input_ids"], b["attention_mask"])
                   .astype(jnp.float32), in_shardings=(dp.replicated, dp.batch), out_shardings=dp.replicated)
    return map_rows(step, params, tok, buckets=setup.cfg.tokens.buckets, batch_size=setup.cfg.train.eval_batch_size,
                    dp=dp, desc=desc)


class EncoderFamily:
    def __init__(self, cfg: ConfigDict):
        self.cfg = cfg

    def prepare(self, corpus):
        return corpus, None, {}

    def save_extras(self, extras, run_dir: Path, write: bool) -> None:
        pass

    def load_extras(self, run_dir: Path):
        return None

    def tokenizer(self, extras=None):
        cfg = self.cfg
        tokenizer = load_tokenizer(cfg.model.name, prefix=cfg.model.prefix)
        return tokenizer, lambda corpus: tokenize(tokenizer, corpus.text, cfg.tokens.max_length)

    def build(self, num_labels: int, extras=None, *, abstract: bool = False) -> Classifier:
        """The encoder with pretrained weights and a fresh head (abstract: shapes only, for restoring)."""
        cfg = self.cfg

        def build():
            if abstract:  # shapes only: the config, no weights read
                encoder = Encoder(encoder_config(cfg.model.name, dtype=compute_dtype(cfg)), rngs=nnx.Rngs(0))
            else:
                encoder, _ = load_encoder(cfg.model.name, allow_pickle=cfg.model.allow_pickle,
                                          dtype=compute_dtype(cfg))
            if cfg.model.freeze_embeddings:
                encoder.freeze_word_embeddings()
            encoder.freeze_layers(frozen_layers(cfg, encoder.cfg.num_layers))
            return Classifier(encoder, num_labels, pooling=cfg.model.pooling, dropout=cfg.model.dropout,
                              rngs=nnx.Rngs(cfg.seed))

        return nnx.eval_shape(build) if abstract else build()

    def optimizer(self, steps: int):
        cfg = self.cfg
        return optim.adamw(cfg.train.lr, steps, warmup_ratio=cfg.train.warmup_ratio,
                           weight_decay=cfg.train.weight_decay, clip_norm=cfg.train.clip_norm,
                           frozen=frozen_mask if cfg.model.freeze_embeddings or cfg.model.train_layers else None)

    def loss(self, train_labels, num_classes: int):
        return classification_loss

    def paired_batches(self, extras):
        return None

    def node_features(self, setup, params) -> Features:
        """The fine-tuned encoder's pooled outputs: documents as read, each word as a one-word input."""
        return Features(docs=lambda corpus: encode(setup, params, setup.tokenize(corpus), "features: documents"),
                        words=lambda pairs: encode(setup, params, tokenize(setup.tokenizer, [w for _, w in pairs], 16),
                                                   "features: words"),
                        name=f"fine-tuned {self.cfg.model.name}")

    def describe(self) -> str:
        return self.cfg.model.name
