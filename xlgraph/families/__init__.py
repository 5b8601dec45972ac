"""Model families: one object per kind of model that builds it, its tokenizer or vocabulary, its optimizer, loss,
description and the extras a run keeps beside its checkpoints. Methods ask `family(cfg)` once and never which
family it is.

    encoder  model.arch=encoder: a pretrained encoder (BERT / XLM-R, from model.name) with a classification head
    words    model.arch=mlp|cnn|gru|han: word-embedding classifiers over (aligned) word vectors (embeddings.*)

Adding a family: a class with the methods of `Family` in a module here, and its arch names in `family()`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from xlgraph.config import ConfigDict, load_config
from xlgraph.errors import XlgraphError

log = logging.getLogger("xlgraph")


class Family(Protocol):
    """What a method needs from a model family (each method binds the run's config)."""

    cfg: ConfigDict

    def prepare(self, corpus) -> tuple[object, object, dict]:
        """(the corpus this model reads, its extras (e.g. a vocabulary) or None, fields for results.json)."""

    def save_extras(self, extras, run_dir: Path, write: bool) -> None: ...

    def load_extras(self, run_dir: Path):
        """A finished run's extras (what `prepare` made), or None."""

    def tokenizer(self, extras) -> tuple[object, object]:
        """(the tokenizer or vocabulary, corpus -> Tokenized as the model reads it)."""

    def build(self, num_labels: int, extras=None, *, abstract: bool = False):
        """The classifier (model(input_ids, attention_mask[, embed_delta]) -> logits; abstract: shapes only)."""

    def optimizer(self, steps: int): ...

    def loss(self, train_labels, num_classes: int):
        """The LossFn of a training run (e.g. class-weighted from the labelled training set)."""

    def paired_batches(self, extras):
        """Batches of a second task trained alternately with classification (HAN + Sent-Ali), or None."""

    def node_features(self, setup, params):
        """`features.source.Features` for a graph built over this model's corpus (CLHG's node features)."""

    def describe(self) -> str: ...


def family(cfg: ConfigDict) -> Family:
    """The model family of `cfg.model.arch`."""
    if cfg.model.arch == "encoder":
        from xlgraph.families.encoder import EncoderFamily

        return EncoderFamily(cfg)
    from xlgraph.families.words import WordFamily, check_arch

    check_arch(cfg)
    return WordFamily(cfg)


def restore_classifier(run_dir: str | Path, *, allow_pickle: bool = False, precision: str | None = None, dp=None):
    """(config, classifier with the selected checkpoint's weights, step, labels) of a finished run.
    The weights come back replicated over `dp`'s mesh (default: every device)."""
    import jax
    from flax import nnx

    from xlgraph.runs import finished_results
    from xlgraph.train.checkpoint import Checkpoints
    from xlgraph.train.parallel import DataParallel
    from xlgraph.train.steps import init_state

    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.json")
    cfg.model.allow_pickle = allow_pickle  # only the caller (the command line) may allow pickles, never the run
    if precision:
        cfg.train.precision = precision
    ckpt_dir = run_dir.resolve() / "ckpt"
    if cfg.method == "deep_cnn":
        raise XlgraphError(f"{run_dir}: a deep_cnn run (multi-label) is not scored by `xlgraph eval`; its "
                           "results.json holds its scores")
    done = finished_results(run_dir) or {}  # (a truncated results.json is a DataError naming it)
    if cfg.method == "clhg":  # the GCN needs the graph of its own corpus: other data is scored by its encoder
        log.warning("%s is a CLHG run: scoring its fine-tuned encoder (ckpt/finetune); the GCN classifies only the "
                    "documents of its graph (results.json)", run_dir)
        ckpt_dir = ckpt_dir / "finetune"
    elif sl := done.get("self_learning"):
        ckpt_dir = ckpt_dir / f"round{sl['best_round']}"  # self-learning: the best round's selected checkpoint
    ckpts = Checkpoints(ckpt_dir, keep_last=cfg.checkpoint.keep_last, read_only=True)
    step = ckpts.best_step() or ckpts.latest_step()
    if step is None:
        raise XlgraphError(f"{run_dir}: no checkpoint to restore")
    # only the selected step: another would not be the model the run reports (an unreadable one is an error)
    labels = ckpts.restore_meta(step)["labels"]
    fam = family(cfg)
    graphdef, params = nnx.split(fam.build(len(labels), fam.load_extras(run_dir), abstract=True))
    dp = dp or DataParallel.create()
    tx = fam.optimizer(1)
    like = jax.eval_shape(lambda p: init_state(p, tx), params)
    like = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), like,
                        dp.state_sharding(like))  # restored opt state is sharded as the run's may have been
    state, _ = ckpts.restore(step, like)
    ckpts.close()
    return cfg, nnx.merge(graphdef, state.params), step, labels
