"""CLHG (cross-lingual heterogeneous graph): fine-tune the encoder on the source language, encode every
document (first token, last layer) and every word (as a one-word input) with it, build the graph of the
corpus, and train a heterogeneous GCN on the labelled source documents with those features fixed. The
whole graph propagates in every step; the loss is on a batch of labelled document nodes. Selection on
source dev (zero-shot), evaluation per language; the fine-tuned encoder's own scores are reported beside.

The GCN trains on the same labelled documents as the fine-tuned baseline (data.max_train applies to both);
the graph holds every document of the corpus, the rest of the source training set as unlabelled nodes.
Both are scored on the same evaluation documents (data.max_eval per language applies to both).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xlgraph.config import ConfigDict
from xlgraph.data.batching import make_batch, padded_plan
from xlgraph.data.corpus import Corpus
from xlgraph.data.tokenize import Tokenized, tokenize
from xlgraph.errors import XlgraphError
from xlgraph.eval.metrics import classification_metrics, per_language
from xlgraph.graph import hetero
from xlgraph.graph.corpus_graph import GraphOptions, build_corpus_graph, load_corpus_graph, save_corpus_graph
from xlgraph.methods import finetune
from xlgraph.models.hetero_gcn import HeteroGCN
from xlgraph.objectives.classification import cross_entropy
from xlgraph.progress import progress
from xlgraph.train import optim

log = logging.getLogger("xlgraph")


def encode(s: finetune.Setup, params, tok: Tokenized) -> np.ndarray:
    """Pooled features (first token or mean, as the classifier pools) of every row of `tok`, in order."""
    cfg, dp = s.cfg, s.dp
    size = cfg.train.eval_batch_size
    mine = dp.local_rows(size)
    step = jax.jit(lambda p, b: nnx.merge(s.graphdef, p).features(b["input_ids"], b["attention_mask"])
                   .astype(jnp.float32), in_shardings=(dp.replicated, dp.batch), out_shardings=dp.replicated)
    outputs, rows = [], []
    for length, index in padded_plan(tok, buckets=cfg.tokens.buckets, batch_size=size, shuffle=False):
        outputs.append(step(params, dp.put_host_batch(make_batch(tok, None, length, index[mine]), size)))
        rows.append(index)
    out = None
    for values, index in zip(jax.device_get(outputs), rows):
        out = np.zeros((len(tok.lengths), values.shape[-1]), np.float32) if out is None else out
        out[index[index >= 0]] = values[index >= 0]
    return out


def taggers(cfg: ConfigDict) -> dict:
    from xlgraph.text.pos import load_tagger, tag

    out = {}
    for item in cfg.clhg.taggers:
        lang, _, name = item.partition("=")
        nlp = load_tagger(name, lang=lang)
        out[lang] = lambda texts, nlp=nlp: tag(nlp, texts)
    return out


@dataclasses.dataclass(frozen=True)
class Features:
    """Where the node features come from; they stay fixed while the GCN trains. `docs(corpus)`: one float32 row
    per corpus row (they also give the kNN similarity edges); `words(pairs)`: one row per (language, word)
    pair, of the same width. The default encodes both with the fine-tuned encoder (first token, last layer;
    a word as a one-word input); aligned word vectors (a document as the mean of its words) are another."""

    docs: Callable[[Corpus], np.ndarray]
    words: Callable[[Sequence[tuple[str, str]]], np.ndarray]
    name: str = "custom"


def encoder_features(s: finetune.Setup, params) -> Features:
    cfg = s.cfg
    return Features(docs=lambda corpus: encode(s, params, tokenize(s.tokenizer, corpus.text, cfg.tokens.max_length)),
                    words=lambda pairs: encode(s, params, tokenize(s.tokenizer, [w for _, w in pairs], 16)),
                    name=f"fine-tuned {cfg.model.name}")


def graph_and_features(s: finetune.Setup, features: Features, *, resume: bool) -> tuple:
    """(CorpusGraph, node features with the dummy row, GraphOptions): built, then kept in the run directory
    (graph.npz, node_features.npy) so a resumed run loads them instead of encoding and building again."""
    cfg, c, corpus = s.cfg, s.cfg.clhg, s.corpus
    options = GraphOptions(words_per_lang=c.words_per_lang, knn=c.knn, knn_method=c.knn_method,
                           knn_probes=c.knn_probes, pos_types=c.pos_types,
                           similarity=c.similarity, translation=c.translation, unlabeled=c.unlabeled)
    graph_path, x_path = s.run.path / "graph.npz", s.run.path / "node_features.npy"
    if resume and graph_path.exists() and x_path.exists():
        cg, saved = load_corpus_graph(graph_path)
        x = np.load(x_path)
        if saved == options and len(x) == cg.graph.num_nodes + 1 and cg.doc_rows.max() < len(corpus):
            log.info("clhg: graph and features from %s", s.run.path)
            return cg, jnp.asarray(x), options
        log.warning("clhg: the saved graph was built with other options; building again")
    started = time.perf_counter()
    docs = np.asarray(features.docs(corpus), np.float32)
    if docs.ndim != 2 or len(docs) != len(corpus):
        raise XlgraphError(f"document features: expected ({len(corpus)}, dim), got shape {docs.shape}")
    cg = build_corpus_graph(corpus, options, doc_features=docs, tokenize=taggers(cfg))
    words = np.asarray(features.words(cg.words), np.float32) if cg.words else np.zeros((0, docs.shape[1]), np.float32)
    if words.shape != (len(cg.words), docs.shape[1]):
        raise XlgraphError(f"word features: expected ({len(cg.words)}, {docs.shape[1]}), got shape {words.shape}")
    x = np.concatenate([docs[cg.doc_rows], words, np.zeros((1, docs.shape[1]), np.float32)])
    log.info("clhg: features (%s) and graph in %.1fs", features.name, time.perf_counter() - started)
    if s.run.write:
        save_corpus_graph(cg, graph_path, options)
        np.save(x_path, x)
    return cg, jnp.asarray(x), options


def train_and_evaluate(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False,
                       features: Features | None = None) -> dict:
    """The fine-tuned baseline, then CLHG on `features` (default: the fine-tuned encoder's), both scored."""
    s = finetune.setup(cfg, workdir, resume=resume)
    train = s.parts["train"]
    state, step, _ = finetune.train_round(s, s.toks["train"], train.label, s.run.ckpt_dir / "finetune",
                                          resume=resume)
    c, corpus = cfg.clhg, s.corpus
    features = features or encoder_features(s, state.params)
    cg, x, options = graph_and_features(s, features, resume=resume)  # built once: a resumed run loads them

    rows = cg.doc_rows
    lang, label = corpus.lang[rows], corpus.label[rows]
    # the baseline's training documents (after data.max_train); other source training docs stay unlabelled nodes
    train_nodes = np.flatnonzero(np.isin(rows, finetune.train_rows(corpus, cfg)))
    select_nodes = np.flatnonzero(np.isin(rows, finetune.select_rows(corpus, cfg)))  # the baseline's
    eval_nodes = np.flatnonzero(np.isin(rows, finetune.eval_rows(corpus, cfg)))  # the baseline's, same caps
    edges = jax.device_put({r: tuple(e) for r, e in cg.graph.edges.items()})

    d = x.shape[1]
    model = HeteroGCN(cg.graph.relations, (d, c.hidden, d), s.num_classes, dropout=c.dropout,
                      aggregation=c.aggregation, rngs=nnx.Rngs(cfg.seed))
    graphdef, params = nnx.split(model)
    if c.precompute:  # the features are fixed: the first layer's aggregation once, not in every step
        hetero.check_fits(len(cg.graph.relations) * x.size * x.dtype.itemsize)
        x = jax.jit(model.aggregate_inputs)(x, edges)
    # training batches: the last layer aggregates only the edges into the batch (same result, far less work)
    budget = hetero.block_budget(cg.graph, train_nodes, c.batch_size) if len(train_nodes) else None
    per_epoch = -(-len(train_nodes) // c.batch_size)
    if c.schedule not in ("linear", "noam"):
        raise XlgraphError(f"clhg.schedule={c.schedule!r}: use 'linear' (warmup 10%, linear decay) or 'noam'")
    schedule = optim.noam(c.lr, c.noam_warmup, model_size=d) if c.schedule == "noam" else None
    tx = optim.adamw(c.lr, per_epoch * c.epochs, warmup_ratio=0.1, weight_decay=c.weight_decay, clip_norm=None,
                     schedule=schedule)
    opt_state = tx.init(params)

    # x and the edges are arguments, not closure constants: XLA would try to constant-fold the propagation
    @jax.jit
    def train_step(params, opt_state, x, edges, nodes, block, labels, weight, key):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p)(x, edges, nodes, block=block, rngs=nnx.Rngs(dropout=key),
                                            precomputed=c.precompute)
            return cross_entropy(logits, labels, weight)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def predict_all(params, x, edges):
        return jnp.argmax(nnx.merge(graphdef, params)(x, edges, jnp.arange(cg.num_docs), precomputed=c.precompute),
                          -1)

    def select_score(params):
        if len(select_nodes) == 0:
            return 0.0
        pred = np.asarray(predict_all(params, x, edges))
        return classification_metrics(label[select_nodes], pred[select_nodes], s.num_classes)[cfg.select.metric]

    key, rng = jax.random.key(cfg.seed), np.random.default_rng(cfg.seed)
    best = (-np.inf, params, 0)
    for epoch in progress(range(c.epochs), total=c.epochs, desc="clhg", unit="epoch"):
        order = rng.permutation(train_nodes)
        for b in range(per_epoch):
            nodes = order[b * c.batch_size:(b + 1) * c.batch_size]
            weight = np.zeros(c.batch_size, np.float32)
            weight[: len(nodes)] = 1
            block = hetero.block(cg.graph, nodes, budget)  # padding rows below get no edges (and weight 0)
            nodes = np.concatenate([nodes, np.zeros(c.batch_size - len(nodes), np.int64)]).astype(np.int32)
            params, opt_state, loss = train_step(params, opt_state, x, edges, nodes, block,
                                                 label[nodes].clip(0).astype(np.int32), weight,
                                                 jax.random.fold_in(key, epoch * per_epoch + b))
        score = select_score(params)
        s.run.log_metrics((epoch + 1) * per_epoch, epoch=epoch + 1, **{"clhg/loss": float(loss),
                                                                     f"clhg/select_{cfg.select.metric}": score})
        if score > best[0]:
            best = (score, jax.tree.map(jnp.copy, params), epoch + 1)
    pred = np.asarray(predict_all(best[1], x, edges))
    baseline = finetune.report(s, state.params, method="finetune", checkpoint_step=step,
                               train_examples=len(train))
    clhg = {
        **baseline,
        "method": "clhg",
        "checkpoint_step": best[2],
        "per_language": per_language(label[eval_nodes], pred[eval_nodes], lang[eval_nodes], s.num_classes),
        "selection_per_language": per_language(label[select_nodes], pred[select_nodes], lang[select_nodes],
                                               s.num_classes) if len(select_nodes) else {},
        "features": {"source": features.name, "dim": int(d)},
        "graph": {"documents": cg.num_docs, "words": len(cg.words),
                  "edges": {r: int(n) for r, n in cg.graph.num_edges.items()}, "options": dataclasses.asdict(options)},
        "baseline": {"per_language": baseline["per_language"],
                     "selection_per_language": baseline["selection_per_language"]},
    }
    s.run.save_results(clhg, title=f"{cfg.name}: CLHG on {cfg.model.name}")
    return clhg
