"""method=deep_cnn: the deep CNN of the multilingual Wikipedia paper on multi-label MTOD label sets, trained with
NCE over sampled negative labels (or full softmax, the control), selected on source dev, scored per language on
languages unseen in training. `train_and_evaluate(config, workdir)` is the entry point.

The pieces are the shared ones: fixed-shape batches (`data.batching`), the jitted step (`train.steps`, with this
method's gradient and set-overlap accuracy), `train.loop.fit` with its checkpoints and resume, `RunDir` reports.

Words. The library's vocabulary (`xlgraph.text.vocab`) of the training words seen `min_word_count` times. Without
vectors it is one set of strings over all languages (shared), as in the paper, so an unseen language shares only
identical strings (numbers, names) with the training one. With vectors (`embeddings.vectors`, ``lang=PATH``, all in
one aligned space) a row is a (language, word) pair, so the Spanish "a" and the English "a" keep their own vectors;
each vector language adds its `vectors_limit` most frequent words, which is what lets an unseen language be read at
all. Rows without a vector, unknown words included, start random on the vectors' own scale.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xlgraph.config import ConfigDict, validate
from xlgraph.data.batching import iterate_batches, num_batches
from xlgraph.data.multilabel import MultiLabel, frequent_labels, parse_parts, require_annotated
from xlgraph.data.readers import load_corpus
from xlgraph.data.splits import capped, rows_per_language
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import XlgraphError
from xlgraph.eval.metrics import multilabel_metrics, per_language_multilabel
from xlgraph.families.words import save_vocab
from xlgraph.models.deep_cnn import DeepCNN, max_norm_mask
from xlgraph.models.embedding import frozen_mask
from xlgraph.objectives.nce import PREDICT, nce_loss, noise_log_probs, softmax_loss
from xlgraph.runs import RunDir
from xlgraph.text.vocab import WordVocab, build_vocab
from xlgraph.train import memory
from xlgraph.train.checkpoint import Checkpoints
from xlgraph.train.infer import map_rows
from xlgraph.train.loop import LoopConfig, fit
from xlgraph.train.optim import freeze, max_norm
from xlgraph.train.steps import init_state, make_train_step

log = logging.getLogger("xlgraph")

LOSSES = ("nce", "softmax")


def vocabulary(cfg: ConfigDict, texts: Sequence[str], langs: Sequence[str],
               read_langs: Sequence[str]) -> tuple[WordVocab, dict[str, str], int]:
    """(the vocabulary of the training `texts`, with its table when embeddings.vectors are given; their paths; rows
    that start as a vector). `read_langs`: the other languages the run reads, each given its unknown row."""
    from xlgraph.text.vectors import load_vectors, parse_vector_paths

    d = cfg.deep_cnn
    if "vectors" in d:  # a config.json written before the vocabularies were merged
        raise XlgraphError("deep_cnn.vectors is now embeddings.vectors (the same \"lang=PATH\" items): set that")
    paths = parse_vector_paths(list(cfg.embeddings.vectors))
    if not paths:
        return build_vocab(texts, langs, min_count=d.min_word_count, shared=True)[0], paths, 0
    vectors = {lang: load_vectors(path) for lang, path in paths.items()}
    scale = float(np.mean([np.std(np.asarray(kv.vectors[:10000])) for kv in vectors.values()]))
    vocab, _ = build_vocab(texts, langs, vectors=vectors, min_count=d.min_word_count, vector_words=d.vectors_limit,
                           extra_langs=list(read_langs), sources=paths,
                           fill=functools.partial(np.random.default_rng(cfg.seed).normal, 0.0, scale))
    found = sum(w in vectors[lang].key_to_index for lang, mine in vocab.words.items() if lang in vectors for w in mine)
    return vocab, paths, found


def jaccard_rows(pred: jax.Array, gold: jax.Array) -> jax.Array:
    """|pred ∩ gold| / |pred ∪ gold| per row (1 where both are empty)."""
    pred, gold = pred.astype(bool), gold.astype(bool)
    inter = jnp.sum(pred & gold, axis=1)
    union = jnp.sum(pred | gold, axis=1)
    return jnp.where(union > 0, inter / jnp.maximum(union, 1), 1.0)


def objective_grad_fn(loss: str, *, log_q=None, num_sampled: int = 5):
    """The GradFn of `loss` (nce | softmax): the key is split into the dropout key and the noise-sampling key."""
    if loss not in LOSSES:
        raise XlgraphError(f"deep_cnn.loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    if loss == "nce" and num_sampled < 1:
        raise XlgraphError(f"deep_cnn.num_sampled must be at least 1, got {num_sampled}")
    log_q = None if log_q is None else jnp.asarray(log_q, jnp.float32)

    def grad_fn(graphdef, params, batch, key):
        k_dropout, k_noise = jax.random.split(key)

        def loss_of(params):
            scores = nnx.merge(graphdef, params)(batch["input_ids"], batch["attention_mask"],
                                                 rngs=nnx.Rngs(dropout=k_dropout))
            if loss == "nce":
                value = nce_loss(scores, batch["labels"], batch["weight"], k_noise, log_q=log_q,
                                 num_sampled=num_sampled)
            else:
                value = softmax_loss(scores, batch["labels"], batch["weight"])
            return value, scores

        (value, scores), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        return value, scores, grads

    return grad_fn


def make_multilabel_step(graphdef, tx, loss: str, *, log_q=None, num_sampled: int = 5):
    """The shared jitted train step with `loss`'s gradient; its logged accuracy is the Jaccard overlap of the
    rule's predicted sets with the batch's."""
    rule = PREDICT[loss]
    return make_train_step(graphdef, tx, grad_fn=objective_grad_fn(loss, log_q=log_q, num_sampled=num_sampled),
                           accuracy_fn=lambda scores, batch: jaccard_rows(rule(scores), batch["labels"]))


def make_predict_step(graphdef, loss: str):
    """A jitted `(params, batch) -> (predicted label sets (B, C) bool, scores)` by `loss`'s rule, dropout off."""
    rule = PREDICT[loss]

    def predict_step(params, batch):
        scores = nnx.merge(graphdef, params)(batch["input_ids"], batch["attention_mask"]).astype(jnp.float32)
        return rule(scores), scores

    return jax.jit(predict_step)


def with_targets(batch: dict, targets: np.ndarray) -> dict:
    real = batch["index"] >= 0
    batch["labels"] = np.where(real[:, None], targets[np.maximum(batch["index"], 0)], 0).astype(np.float32)
    return batch


def predict(predict_step, params, tok: Tokenized, *, buckets, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted sets and scores for every row of `tok`, in order."""
    pred, scores = map_rows(predict_step, params, tok, buckets=buckets, batch_size=batch_size)
    return pred.astype(bool), scores


@dataclasses.dataclass
class Data:
    train: MultiLabel
    select: MultiLabel
    eval: MultiLabel
    dropped_labels: dict[str, int]
    dropped_docs: dict[str, int]  # documents whose set became empty, per part


def _pick(data: MultiLabel, parts: list[tuple[str, str]], source: str, what: str) -> MultiLabel:
    mask = np.zeros(len(data), bool)
    for lang, split in parts:
        part = data.corpus.mask(lang, split)
        if not part.any():
            raise XlgraphError(f"{what}: no rows for {lang}/{split} in {source}")
        mask |= part
    return data.take(mask)


def _cap(data: MultiLabel, limit: int, seed: int) -> MultiLabel:
    """At most `limit` rows, chosen as the fine-tuning method caps its training set."""
    return data.take(capped(len(data), limit, seed))


def _cap_per_language(data: MultiLabel, limit: int, seed: int) -> MultiLabel:
    """At most `limit` rows per language, chosen as the fine-tuning method caps its evaluation sets."""
    return data.take(rows_per_language(data.corpus, np.ones(len(data), bool), limit, seed))


def load_data(cfg: ConfigDict) -> Data:
    """The training, selection and evaluation parts over the training set's frequent labels."""
    d = cfg.deep_cnn
    source = ", ".join(cfg.data.sources)
    parts = {name: parse_parts(list(d[name]), f"deep_cnn.{name}") for name in ("train", "select", "eval")}
    corpus, skipped = load_corpus(list(cfg.data.sources), skip_bad_rows=cfg.data.skip_bad_rows)
    data = MultiLabel.from_corpus(corpus, f"data.sources={source}")
    if skipped:
        log.warning("skipped %d bad rows (first: %s)", len(skipped), skipped[0])
    for name, chosen in parts.items():
        if chosen:
            require_annotated(data, chosen, f"deep_cnn.{name}")
    if not parts["train"]:
        raise XlgraphError("deep_cnn.train names no part to train on")
    train = _cap(_pick(data, parts["train"], source, "deep_cnn.train"), cfg.data.max_train, cfg.seed)
    names, dropped = frequent_labels(train, d.min_label_count)
    if not names:
        raise XlgraphError(f"no label occurs in deep_cnn.min_label_count={d.min_label_count} training documents")
    if dropped:
        log.info("labels in fewer than %d training documents dropped: %s", d.min_label_count, dropped)
    out, empty = {}, {}
    for name in ("train", "select", "eval"):
        part = train if name == "train" else (
            _cap_per_language(_pick(data, parts[name], source, f"deep_cnn.{name}"), cfg.data.max_eval, cfg.seed)
            if parts[name] else data.take(np.zeros(len(data), bool)))
        part = part.keep_labels(names)
        keep = part.targets.any(1)
        if not keep.all():  # only without the domain label: utterances whose slots were all dropped or absent
            empty[name] = int((~keep).sum())
            log.info("%s: %d documents with an empty label set dropped", name, empty[name])
            part = part.take(keep)
        out[name] = part
    if len(out["train"]) == 0:
        raise XlgraphError("no training document has a label")
    return Data(out["train"], out["select"], out["eval"], dropped, empty)


def selection_label(cfg: ConfigDict, train_langs: set[str], select: MultiLabel) -> str:
    if len(select) == 0:
        return "last checkpoint (no selection data)"
    langs = set(select.corpus.langs)
    tag = "zero-shot" if langs <= train_langs else "NOT zero-shot: selected on a language unseen in training"
    return f"{'/'.join(cfg.deep_cnn.select)} {cfg.select.metric} ({tag})"


def train_and_evaluate(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False) -> dict:
    started = time.perf_counter()
    validate(cfg)
    d = cfg.deep_cnn
    if d.loss not in LOSSES:
        raise XlgraphError(f"deep_cnn.loss must be one of {', '.join(LOSSES)}, not {d.loss!r}")
    buckets = tuple(sorted(d.buckets))
    if not buckets or buckets[-1] != d.max_length:
        raise XlgraphError(f"deep_cnn.buckets {tuple(d.buckets)} must end at deep_cnn.max_length={d.max_length}")
    metric_keys = set(multilabel_metrics(np.zeros((1, 1)), np.zeros((1, 1)))) - {"n"}
    if cfg.select.metric not in metric_keys:
        raise XlgraphError(f"select.metric={cfg.select.metric!r} is not a multi-label metric; one of "
                           f"{', '.join(sorted(metric_keys))}")
    run = RunDir(workdir or cfg.workdir)
    data = load_data(cfg)
    names = data.train.names
    train_langs = set(data.train.corpus.langs)
    log.info("train %d %s, selection %d, evaluation %s; %d labels", len(data.train), dict(Counter(
        data.train.corpus.lang.tolist())), len(data.select), dict(Counter(data.eval.corpus.lang.tolist())), len(names))

    vocab, paths, found = vocabulary(cfg, data.train.corpus.text, data.train.corpus.lang,
                                     [*data.select.corpus.langs, *data.eval.corpus.langs])
    if paths:
        log.info("embeddings: %d of %d rows from %s (dim %d)", found, vocab.size, paths, vocab.dim)
    corpora = {name: getattr(data, name).corpus for name in ("train", "select", "eval")}
    toks = {name: vocab.tokenize(c.text, c.lang, d.max_length) for name, c in corpora.items()}
    oov = {lang: round(c.unknown_share, 4) for lang, c in
           vocab.coverage(data.eval.corpus.text, data.eval.corpus.lang).items()}
    log.info("unknown-word rate per evaluation language: %s", oov)

    memory.check_deep_cnn(cfg, vocab_size=vocab.size, embed_dim=vocab.dim if vocab.table is not None else d.embed_dim,
                          num_labels=len(names))  # an impossible size: one line now, before anything is built
    model = DeepCNN(vocab.size, len(names), embed_dim=d.embed_dim, filters=d.filters, windows=tuple(d.windows),
                    parallel=tuple(d.parallel), dropout=d.dropout, embeddings=vocab.table,
                    freeze_embeddings=d.freeze_embeddings, rngs=nnx.Rngs(cfg.seed))
    graphdef, params = nnx.split(model)
    # inputs read and the model built: now the directory is this run's (a resume must read the same data)
    run.claim(cfg, resume=resume, data={name: c.fingerprint() for name, c in corpora.items()})
    save_vocab(vocab, run.path, run.write)
    tx = optax.chain(optax.adam(cfg.train.lr), *([max_norm(d.max_norm, mask=max_norm_mask)] if d.max_norm else []))
    if d.freeze_embeddings:  # no Adam moments for the table (the model stops its gradient)
        tx = freeze(tx, frozen_mask)
    counts = data.train.targets.sum(0)
    log_q = noise_log_probs(counts, d.noise) if d.loss == "nce" else None
    train_step = make_multilabel_step(graphdef, tx, d.loss, log_q=log_q, num_sampled=d.num_sampled)
    predict_step = make_predict_step(graphdef, d.loss)
    state = init_state(params, tx)

    def evaluate(state):
        if len(data.select) == 0:
            return {}
        pred, _ = predict(predict_step, state.params, toks["select"], buckets=buckets, batch_size=cfg.train.eval_batch_size)
        return {k: v for k, v in multilabel_metrics(data.select.targets, pred).items() if k != "n"}

    def batches(epoch, skip):
        for batch in iterate_batches(toks["train"], None, buckets=buckets, batch_size=cfg.train.batch_size, shuffle=True,
                                     seed=cfg.seed, epoch=epoch, skip=skip):
            yield with_targets(batch, data.train.targets)

    steps_per_epoch = num_batches(toks["train"], buckets=buckets, batch_size=cfg.train.batch_size)
    ckpts = Checkpoints(run.ckpt_dir, keep_last=cfg.checkpoint.keep_last)
    loop_cfg = LoopConfig(epochs=cfg.train.epochs, steps_per_epoch=steps_per_epoch, log_every=cfg.train.log_every,
                          evals_per_epoch=cfg.train.evals_per_epoch, select_metric=cfg.select.metric,
                          checkpoint_every=cfg.train.checkpoint_every, prefetch=cfg.train.prefetch)
    state = fit(state, train_step=train_step, batches=batches, key=jax.random.key(cfg.seed), evaluate=evaluate,
                cfg=loop_cfg, run=run, ckpts=ckpts, meta={"labels": list(names)}, resume=resume,
                put=jax.device_put)
    best = ckpts.best_step() if len(data.select) else None
    if best is not None and best != int(state.step):
        state, _ = ckpts.restore(best, state)
    chosen = best if best is not None else int(state.step)
    ckpts.close()

    def scores_of(part: MultiLabel, tok: Tokenized) -> dict:
        if len(part) == 0:
            return {}
        pred, _ = predict(predict_step, state.params, tok, buckets=buckets, batch_size=cfg.train.eval_batch_size)
        per = per_language_multilabel(part.targets, pred, part.corpus.lang)
        return {lang: {**m, "accuracy": m["jaccard"]} for lang, m in per.items()}  # the paper's name, for tables

    embeddings = (f"word CNN, {'frozen' if d.freeze_embeddings else 'trained'} embeddings from "
                  + ", ".join(f"{lang}={p}" for lang, p in paths.items()) if paths else
                  "word CNN, random embeddings")
    results = {
        "method": f"deep_cnn ({d.loss})",
        "encoder": embeddings,
        "source_lang": cfg.data.source_lang,
        "train_parts": list(d.train),
        "train_langs": sorted(train_langs),
        "zero_shot": all(lang in train_langs for lang in data.select.corpus.langs),
        "selection": selection_label(cfg, train_langs, data.select),
        "checkpoint_step": chosen,
        "train_examples": len(data.train),
        "eval_split": ", ".join(d.eval),
        "unseen_langs": [lang for lang in data.eval.corpus.langs if lang not in train_langs],
        "labels": list(names),
        "train_label_counts": dict(zip(names, counts.tolist())),
        "dropped_labels": data.dropped_labels,
        "dropped_empty_docs": data.dropped_docs,
        "loss": {"name": d.loss, **({"num_sampled": d.num_sampled, "noise": d.noise} if d.loss == "nce" else {})},
        "prediction_rule": ("{y : exp F(x,y) > 1/2}, else the top label" if d.loss == "nce" else
                            "top-m, m: the uniform set nearest (L1) to softmax"),
        "accuracy_is": "example-based Jaccard |pred ∩ gold| / |pred ∪ gold| (the paper's accuracy)",
        "vocab_size": vocab.size,
        "vocab_words": {lang: len(w) for lang, w in vocab.words.items()},  # "*": one set shared by all languages
        "embedding_rows_from_vectors": found,
        "unknown_word_rate": oov,
        "per_language": scores_of(data.eval, toks["eval"]),
        "selection_per_language": scores_of(data.select, toks["select"]),
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    run.save_results(results, title=f"{cfg.name}: {results['method']}, trained on {'+'.join(d.train)}")
    return results
