"""The word-model family: word-embedding classifiers (FT-MLP, MF-CNN, bi-GRU-Att, HAN; Mhamdi et al.), `model.arch`
one of `models.text.TEXT_MODELS`. It supplies the vocabulary and word tokenization, the model, the (class-weighted)
loss, the optimizer that leaves a frozen table alone, and for HAN + Sent-Ali the parallel sentences of the
alternating two-task step. The loop, checkpoints, selection, metrics, data parallelism, FGSM (`adversarial.enabled`,
on the word embeddings) and self-learning are every family's.

Modes (`embeddings.mode`): mono trains and evaluates `data.source_lang` alone with its own vectors (the corpus is
cut to that language); multi reads every language with its (aligned) vectors and trains on `data.train_langs`.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from xlgraph.config import ConfigDict
from xlgraph.data.corpus import Corpus
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import XlgraphError
from xlgraph.text.vectors import parse_vector_paths
from xlgraph.text.vocab import WordVocab, build_vocab, load_vocab

log = logging.getLogger("xlgraph")

MODES = ("mono", "multi")
VOCAB_FILE = "vocab.json"


def check_arch(cfg: ConfigDict) -> None:
    from xlgraph.models.text import TEXT_MODELS

    if cfg.model.arch not in TEXT_MODELS:
        raise XlgraphError(f"model.arch={cfg.model.arch!r}: use encoder or one of {', '.join(TEXT_MODELS)}")
    if cfg.embeddings.mode not in MODES:
        raise XlgraphError(f"embeddings.mode={cfg.embeddings.mode!r}: use mono or multi")
    if cfg.embeddings.sentence_alignment and cfg.model.arch != "han":
        raise XlgraphError("embeddings.sentence_alignment needs model.arch=han (the sentence encoder it trains)")


def vector_paths(cfg: ConfigDict) -> dict[str, str]:
    """`embeddings.vectors` as {lang: path}, at least one; mono mode keeps data.source_lang's alone."""
    paths = parse_vector_paths(list(cfg.embeddings.vectors))
    if not paths:
        raise XlgraphError(f"model.arch={cfg.model.arch} reads word vectors: set embeddings.vectors, e.g. "
                           "'embeddings.vectors=[\"en=runs/vectors/mono/en.vec\"]'")
    if cfg.embeddings.mode == "mono":
        src = cfg.data.source_lang
        if src not in paths:
            raise XlgraphError(f"embeddings.mode=mono trains on data.source_lang={src!r}, which has no "
                               f"embeddings.vectors entry (given: {', '.join(paths)})")
        return {src: paths[src]}
    return paths


def prepare(cfg: ConfigDict, corpus: Corpus) -> tuple[Corpus, WordVocab, dict]:
    """(the corpus this mode reads, its vocabulary and table, the coverage record for results.json). Mono mode
    cuts the corpus to data.source_lang; every language left must have vectors."""
    from xlgraph.text.vectors import load_vectors

    paths = vector_paths(cfg)
    if cfg.embeddings.mode == "mono":
        corpus = corpus.where(lang=cfg.data.source_lang)
    vectors = {lang: load_vectors(path) for lang, path in paths.items()}
    vocab, coverage = build_vocab(corpus.text, corpus.lang, vectors=vectors, vectors_only=True,
                                  max_words=cfg.embeddings.max_words, sources=paths)
    for lang, c in coverage.items():
        log.info("word vectors %s: %d of %d words kept; %d corpus tokens, %.1f%% unknown", lang,
                 len(vocab.words[lang]), len(vectors[lang]), c.tokens, 100 * c.unknown_share)
        if c.tokens and c.unknown_share > 0.5:
            log.warning("word vectors %s (%s) cover only %.1f%% of the corpus tokens; were they trained on text "
                        "split by xlgraph.text.words?", lang, paths[lang], 100 - 100 * c.unknown_share)
    record = {"vocabulary": {"mode": cfg.embeddings.mode, "size": vocab.size, "dim": vocab.dim,
                             "words": {lang: len(w) for lang, w in vocab.words.items()},
                             "coverage": {lang: c.as_dict() for lang, c in coverage.items()}}}
    return corpus, vocab, record


def words_per_sentence(cfg: ConfigDict) -> int:
    return int(cfg.embeddings.han.words_per_sentence) if cfg.model.arch == "han" else 0


def text_tokenizer(cfg: ConfigDict, vocab: WordVocab):
    """corpus → Tokenized with the run's vocabulary: flat, or the HAN sentence layout."""
    w, max_length = words_per_sentence(cfg), cfg.tokens.max_length
    if w and (max_length % w or any(b % w for b in cfg.tokens.buckets)):
        raise XlgraphError(f"model.arch=han lays documents out as sentences of embeddings.han.words_per_sentence={w} "
                           f"words: tokens.max_length ({max_length}) and every tokens.buckets entry "
                           f"({tuple(cfg.tokens.buckets)}) must be multiples of {w}, e.g. tokens.max_length={4 * w} "
                           f"tokens.buckets=({w},{2 * w},{4 * w})")

    def tokenize(corpus: Corpus) -> Tokenized:
        return vocab.tokenize(corpus.text, corpus.lang, max_length, words_per_sentence=w)

    return tokenize


def hparams(cfg: ConfigDict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.embeddings[cfg.model.arch].to_dict().items()}


def build_model(cfg: ConfigDict, vocab: WordVocab, num_labels: int, *, abstract: bool = False):
    """The text model over the vocabulary's table (abstract: shapes only, for restoring a checkpoint)."""
    from xlgraph.models.text import build_text_model

    def build():
        table = vocab.table if vocab.table is not None else np.zeros((vocab.size, vocab.dim), np.float32)
        return build_text_model(cfg.model.arch, table, num_labels, freeze=cfg.embeddings.freeze,
                                rngs=nnx.Rngs(cfg.seed), **hparams(cfg))

    return nnx.eval_shape(build) if abstract else build()


def loss_fn(cfg: ConfigDict, labels: np.ndarray, num_classes: int):
    """The paper's weighted cross-entropy when embeddings.class_weights (weights from the labelled training set;
    self-learning rounds keep them), else the plain classification loss."""
    from xlgraph.objectives.classification import classification_loss

    if not cfg.embeddings.class_weights:
        return classification_loss
    from xlgraph.objectives.classification import class_weights

    weights = class_weights(labels, num_classes)
    log.info("class weights: %s", np.round(weights, 3).tolist())
    return functools.partial(classification_loss, class_weight=jax.numpy.asarray(weights))


def optimizer(cfg: ConfigDict, steps: int):
    """AdamW that leaves a frozen table untouched; with sentence alignment, two of them (one per task)."""
    from xlgraph.models.text import frozen_mask
    from xlgraph.train import optim

    def adamw(lr):
        return optim.adamw(lr, steps, warmup_ratio=cfg.train.warmup_ratio, weight_decay=cfg.train.weight_decay,
                           clip_norm=cfg.train.clip_norm, frozen=frozen_mask)

    if not cfg.embeddings.sentence_alignment:
        return adamw(cfg.train.lr)
    from xlgraph.train.multitask import Alternating

    return Alternating(adamw(cfg.train.lr), adamw(cfg.embeddings.align_lr))


def parallel_batches(cfg: ConfigDict, vocab: WordVocab):
    """The parallel sentences of embeddings.parallel, tokenized for the alignment task (None when it is off)."""
    if not cfg.embeddings.sentence_alignment:
        return None
    from xlgraph.data.parallel import read_parallel
    from xlgraph.train.multitask import ParallelBatches

    if not cfg.embeddings.parallel:
        raise XlgraphError("embeddings.sentence_alignment needs parallel sentences: set embeddings.parallel, e.g. "
                           "'embeddings.parallel=[\"multi30k:../shared/data/parallel_multi30k/raw?langs=de,fr\"]'")
    pairs = read_parallel(list(cfg.embeddings.parallel), max_pairs=cfg.embeddings.max_pairs, seed=cfg.seed)
    missing = sorted((set(pairs.lang.tolist()) | {"en"}) - set(vocab.langs))
    if missing:
        raise XlgraphError(f"sentence alignment: parallel sentences in {', '.join(missing)} but the vocabulary has "
                           f"{', '.join(vocab.langs)} (mono mode has one language; use embeddings.mode=multi)")
    w = words_per_sentence(cfg)
    text = vocab.tokenize(pairs.text, pairs.lang, w)
    english = vocab.tokenize(pairs.english, np.full(len(pairs), "en"), w)
    for lang, c in vocab.coverage(np.concatenate([pairs.text, pairs.english]),
                                  np.concatenate([pairs.lang, np.full(len(pairs), "en")])).items():
        log.info("parallel sentences %s: %d tokens, %.1f%% unknown", lang, c.tokens, 100 * c.unknown_share)
    return ParallelBatches(text, english, cfg.train.batch_size, seed=cfg.seed)


def save_vocab(vocab: WordVocab, run_dir: Path, write: bool) -> None:
    if write:
        vocab.save(Path(run_dir) / VOCAB_FILE)


def run_vocab(run_dir: str | Path) -> WordVocab:
    """A finished run's vocabulary (ids only; the table is in its checkpoint)."""
    return load_vocab(Path(run_dir) / VOCAB_FILE)


def describe(cfg: ConfigDict) -> str:
    return f"{cfg.model.arch} on {cfg.embeddings.mode} word vectors"


class WordFamily:
    def __init__(self, cfg: ConfigDict):
        self.cfg = cfg

    def prepare(self, corpus: Corpus) -> tuple[Corpus, WordVocab, dict]:
        return prepare(self.cfg, corpus)

    def save_extras(self, vocab: WordVocab, run_dir: Path, write: bool) -> None:
        save_vocab(vocab, run_dir, write)

    def load_extras(self, run_dir: Path) -> WordVocab:
        return run_vocab(run_dir)

    def tokenizer(self, vocab: WordVocab):
        return vocab, text_tokenizer(self.cfg, vocab)

    def build(self, num_labels: int, vocab: WordVocab | None = None, *, abstract: bool = False):
        return build_model(self.cfg, vocab, num_labels, abstract=abstract)

    def optimizer(self, steps: int):
        return optimizer(self.cfg, steps)

    def loss(self, train_labels, num_classes: int):
        return loss_fn(self.cfg, train_labels, num_classes)

    def paired_batches(self, vocab: WordVocab):
        return parallel_batches(self.cfg, vocab)

    def node_features(self, setup, params):
        """The (aligned) word vectors the model reads; a document is the mean of its words'."""
        from xlgraph.features.word_vectors import features_from_config

        return features_from_config(self.cfg)

    def describe(self) -> str:
        return describe(self.cfg)
