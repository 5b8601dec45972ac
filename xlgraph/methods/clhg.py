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
import functools
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.config import ConfigDict
from xlgraph.data.corpus import SPLITS
from xlgraph.errors import XlgraphError
from xlgraph.eval.metrics import classification_metrics, per_language
from xlgraph.features.source import Features, memo_batch
from xlgraph.graph import hetero
from xlgraph.graph.corpus_graph import GraphOptions, build_corpus_graph, load_corpus_graph, save_corpus_graph
from xlgraph.methods import finetune
from xlgraph.models.hetero_gcn import HeteroGCN
from xlgraph.objectives.classification import node_classification_loss
from xlgraph.runs import RunDir, finished_results
from xlgraph.train import optim
from xlgraph.train.checkpoint import Checkpoints
from xlgraph.train.loop import LoopConfig, fit_and_select
from xlgraph.train.self_learning import self_learn
from xlgraph.train.steps import init_state, make_train_step

log = logging.getLogger("xlgraph")


def taggers(cfg: ConfigDict) -> dict:
    from xlgraph.text.pos import load_tagger, tag

    out = {}
    for item in cfg.clhg.taggers:
        lang, _, name = item.partition("=")
        nlp = load_tagger(name, lang=lang)
        out[lang] = lambda texts, nlp=nlp: tag(nlp, texts)
    return out


def default_features(ft: Finetuned) -> Features:
    """The node features of the run's model family: the fine-tuned encoder's pooled outputs, or for a word-vector
    model (model.arch) the (aligned) word vectors it reads (a document as the mean of its words)."""
    return ft.s.family.node_features(ft.s, ft.params)


def graph_options(c: ConfigDict) -> GraphOptions:
    return GraphOptions(words_per_lang=c.words_per_lang, knn=c.knn, knn_method=c.knn_method,
                        knn_probes=c.knn_probes, pos_types=c.pos_types,
                        similarity=c.similarity, translation=c.translation, unlabeled=c.unlabeled)


def graph_and_features(s: finetune.Setup, features: Features, options: GraphOptions, run: RunDir, *,
                       resume: bool, tokenize=None) -> tuple:
    """(CorpusGraph, node features with the dummy row): built, then kept in the run directory (graph.npz,
    node_features.npy) so a resumed run loads them instead of encoding and building again."""
    corpus = s.corpus
    graph_path, x_path, x_meta = run.path / "graph.npz", run.path / "node_features.npy", run.path / "node_features.json"
    if resume and graph_path.exists() and x_path.exists() and x_meta.exists():
        cg, saved = load_corpus_graph(graph_path)
        x = np.load(x_path)
        source = json.loads(x_meta.read_text()).get("source")
        if (saved == options and source == features.name and len(x) == cg.graph.num_nodes + 1
                and cg.doc_rows.max() < len(corpus)):
            log.info("clhg: graph and features from %s", run.path)
            return cg, jnp.asarray(x)
        log.warning("clhg: the saved graph was built with other options or features (%s); building again", source)
    started = time.perf_counter()
    docs = np.asarray(features.docs(corpus), np.float32)
    if docs.ndim != 2 or len(docs) != len(corpus):
        raise XlgraphError(f"document features: expected ({len(corpus)}, dim), got shape {docs.shape}")
    cg = build_corpus_graph(corpus, options, doc_features=docs,
                            tokenize=taggers(s.cfg) if tokenize is None else tokenize)
    words = np.asarray(features.words(cg.words), np.float32) if cg.words else np.zeros((0, docs.shape[1]), np.float32)
    if words.shape != (len(cg.words), docs.shape[1]):
        raise XlgraphError(f"word features: expected ({len(cg.words)}, {docs.shape[1]}), got shape {words.shape}")
    x = np.concatenate([docs[cg.doc_rows], words, np.zeros((1, docs.shape[1]), np.float32)])
    log.info("clhg: features (%s) and graph in %.1fs", features.name, time.perf_counter() - started)
    if run.write:
        save_corpus_graph(cg, graph_path, options)
        np.save(x_path, x)
        x_meta.write_text(json.dumps({"source": features.name}) + "\n")
    return cg, jnp.asarray(x)


@dataclasses.dataclass
class Finetuned:
    """The fine-tuned baseline a CLHG run starts from: its setup, selected weights and scores."""

    s: finetune.Setup
    params: object
    baseline: dict


def finetuned(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False) -> Finetuned:
    s = finetune.setup(cfg, workdir, resume=resume)
    train = s.parts["train"]
    state, step, _ = finetune.train_round(s, s.toks["train"], train.label, s.run.ckpt_dir / "finetune",
                                          resume=resume, fields={"model": "finetune"})  # the GCN's rows: "gcn"
    baseline = finetune.report(s, state.params, method="finetune", checkpoint_step=step, train_examples=len(train))
    return Finetuned(s, state.params, baseline)


def check_options(cfg: ConfigDict) -> None:
    """The CLHG settings that would fail only after fine-tuning, checked before it."""
    if cfg.clhg.adversarial and cfg.adversarial.norm != "example":
        raise XlgraphError(f"clhg.adversarial perturbs the GCN's input rows: adversarial.norm must be example, not "
                           f"{cfg.adversarial.norm!r} (table normalises an embedding table, which the GCN has not)")


def train_and_evaluate(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False,
                       features: Features | None = None) -> dict:
    """The fine-tuned baseline, then CLHG on `features` (default: the fine-tuned encoder's), both scored."""
    check_options(cfg)
    ft = finetuned(cfg, workdir, resume=resume)
    return fit_and_report(ft, features or default_features(ft), cfg.clhg, ft.s.run, resume=resume)


def ablation(cfg: ConfigDict, variants: Sequence[tuple[str, dict]], workdir: str | Path | None = None, *,
             resume: bool = False, features: Features | None = None) -> dict[str, dict]:
    """CLHG on several graphs of one corpus (`variants`: (name, clhg overrides), e.g. the paper's Table 4
    switches), each in `workdir/step{i}`. The encoder is fine-tuned and the features computed once; only the
    graph and the GCN change. A variant whose results.json exists is read back (resume)."""
    check_options(cfg)
    ft = finetuned(cfg, workdir, resume=resume)
    features = (features or default_features(ft)).cached()
    tokenize = {lang: memo_batch(tag) for lang, tag in taggers(cfg).items()}  # loaded once, each text tagged once
    out = {}
    for i, (name, overrides) in enumerate(variants):
        run = RunDir(ft.s.run.path / f"step{i}", write=ft.s.run.write)
        if resume and (done := finished_results(run.path)) is not None:
            out[name] = done
            continue
        variant_cfg = cfg.copy_and_resolve_references()
        variant_cfg.clhg.update(overrides)
        log.info("clhg ablation %d/%d: %s", i + 1, len(variants), name)
        run.save_config(variant_cfg)
        out[name] = fit_and_report(ft, features, variant_cfg.clhg, run, resume=resume, tokenize=tokenize, variant=name)
    return out


def fit_and_report(ft: Finetuned, features: Features, c: ConfigDict, run: RunDir, *, resume: bool = False,
                   tokenize=None, variant: str | None = None) -> dict:
    """Builds (or loads) the graph of `c`'s options, trains the GCN with `c`, selects on the baseline's selection
    documents and scores its evaluation documents; results (with the baseline's beside, and the ablation
    `variant`'s name) go to `run`."""
    s, cfg, corpus = ft.s, ft.s.cfg, ft.s.corpus
    options = graph_options(c)
    cg, x = graph_and_features(s, features, options, run, resume=resume, tokenize=tokenize)

    rows = cg.doc_rows
    lang, label = corpus.lang[rows], corpus.label[rows]
    # the baseline's training documents (after data.max_train); other source training docs stay unlabelled nodes
    train_nodes = np.flatnonzero(np.isin(rows, s.splits.train))
    select_nodes = np.flatnonzero(np.isin(rows, s.splits.select))  # the baseline's
    eval_nodes = np.flatnonzero(np.isin(rows, s.splits.eval))  # the baseline's, same caps
    pool_nodes = pool_nodes_of(cg, corpus, cfg) if c.self_learning else np.zeros(0, np.int64)
    grad_fn = None
    if c.adversarial:  # FGSM on the input rows each batch reads (adversarial.epsilon / norm / control)
        from xlgraph.objectives.adversarial import fgsm

        a = cfg.adversarial
        grad_fn = lambda loss_fn: fgsm(loss_fn, epsilon=a.epsilon, norm=a.norm, control=a.control)  # noqa: E731
    gcn = GCN(cg, x, np.concatenate([train_nodes, pool_nodes]), c, num_classes=s.num_classes, seed=cfg.seed,
              select_metric=cfg.select.metric, grad_fn=grad_fn)
    fit = functools.partial(gcn.fit, select_nodes=select_nodes, select_labels=label[select_nodes], run=run,
                            keep_last=cfg.checkpoint.keep_last)
    extra = {}
    if c.self_learning:  # pseudo-labelled target documents become labelled nodes, round by round
        params, step, extra["self_learning"] = self_learned_gcn(gcn, fit, train_nodes, label, pool_nodes,
                                                                lang, cfg, run, list(corpus.labels), resume=resume)
    else:
        params, step, _ = fit(train_nodes, label[train_nodes], ckpt_dir=run.ckpt_dir / "gcn", resume=resume)
    pred = gcn.predict(params).argmax(-1)
    method = "clhg" + (" + adversarial" if c.adversarial else "") + (" + self-learning" if c.self_learning else "")
    results = {
        **ft.baseline,
        "method": method,
        **({"variant": variant} if variant else {}),
        "checkpoint_step": step,
        "per_language": per_language(label[eval_nodes], pred[eval_nodes], lang[eval_nodes], s.num_classes),
        "selection_per_language": per_language(label[select_nodes], pred[select_nodes], lang[select_nodes],
                                               s.num_classes) if len(select_nodes) else {},
        "features": {"source": features.name, "dim": int(x.shape[1])},
        "graph": {"documents": cg.num_docs, "words": len(cg.words),
                  "edges": {r: int(n) for r, n in cg.graph.num_edges.items()}, "options": dataclasses.asdict(options)},
        "baseline": {"per_language": ft.baseline["per_language"],
                     "selection_per_language": ft.baseline["selection_per_language"]},
        "baseline_wall_time_s": ft.baseline["wall_time_s"],
        **extra,
        "wall_time_s": round(time.perf_counter() - s.started, 1),
    }
    run.save_results(results, title=f"{cfg.name}: CLHG{f' ({variant})' if variant else ''} "
                                    f"on {cfg.model.name}")
    return results


def pool_nodes_of(cg, corpus, cfg: ConfigDict) -> np.ndarray:
    """The document nodes of the self-learning pool: unlabeled-split documents of the target languages."""
    rows = cg.doc_rows
    langs = list(cfg.self_learning.langs) or [lang for lang in corpus.langs if lang != cfg.data.source_lang]
    nodes = np.flatnonzero((corpus.split[rows] == SPLITS.index("unlabeled")) & np.isin(corpus.lang[rows], langs))
    if len(nodes) == 0:
        raise XlgraphError(f"clhg.self_learning needs unlabeled documents of {langs} in the graph (clhg.unlabeled) "
                           "and the data")
    return nodes


def self_learned_gcn(gcn: GCN, fit, train_nodes, label, pool_nodes, lang, cfg: ConfigDict, run: RunDir, names,
                     *, resume: bool):
    """Self-learning rounds around the GCN (`train.self_learning.self_learn`): round r trains from the initial
    weights on the labelled nodes plus the pseudo-labels so far, in ckpt/gcn/round{r}. Returns (best params, its
    step, the self-learning record)."""
    sl = cfg.self_learning
    if resume:  # the fine-tuned encoder and the graph are kept; the rounds start again
        log.warning("clhg.self_learning: --resume keeps the fine-tuned encoder and the graph; the rounds start again")
        if run.write:
            shutil.rmtree(run.ckpt_dir / "gcn", ignore_errors=True)
        run.truncate_metrics(-1, {"model": "gcn"})

    def fit_round(pseudo_index, pseudo_labels, r):
        nodes = np.concatenate([train_nodes, pool_nodes[pseudo_index]])
        labels = np.concatenate([label[train_nodes], pseudo_labels]).astype(np.int32)
        params, step, scores = fit(nodes, labels, ckpt_dir=run.ckpt_dir / "gcn" / f"round{r}", fields={"round": r})
        return (params, step), scores.get("select", 0.0)

    def predict(state, remaining):
        return gcn.predict(state[0])[pool_nodes[remaining]]

    def logged(info):
        run.log_metrics(info.train_pseudo, model="gcn",
                        **{f"self_learning/{k}": v for k, v in dataclasses.asdict(info).items()})

    gold = label[pool_nodes]
    (params, step), best_round, history = self_learn(
        fit_round, predict, len(pool_nodes), rounds=sl.rounds, per_class=sl.per_class, strategy=sl.strategy,
        patience=sl.patience, groups=lang[pool_nodes], gold=gold if (gold >= 0).all() else None, class_names=names,
        on_round=logged)
    return params, step, {"best_round": best_round, "pool": len(pool_nodes),
                          "rounds": [dataclasses.asdict(h) for h in history]}


class GCN:
    """The heterogeneous GCN of `c` on graph `cg` (node features `x` fixed), built and compiled once: `fit` trains
    it from its initial weights on any labelled document nodes (the source's, plus pseudo-labelled ones in
    self-learning rounds) through the library's step and loop; `predict` gives every document node's class
    probabilities. Batches of labelled nodes are a function of (seed, epoch); the graph (one jraph.GraphsTuple per
    relation) and the features are constant arguments of the one compiled step; block shapes are fixed by the
    `candidates` (every node that may ever be trained on). `grad_fn(loss_fn)` wraps the loss (e.g. FGSM on the
    batch's input rows)."""

    def __init__(self, cg, x, candidates: np.ndarray, c: ConfigDict, *, num_classes: int, seed: int,
                 select_metric: str, grad_fn=None):
        self.cg, self.c, self.seed, self.num_classes, self.select_metric = cg, c, seed, num_classes, select_metric
        edges = jax.device_put(hetero.graphs_tuples(cg.graph))  # on the device once: precompute, step, predict
        d = x.shape[1]
        model = HeteroGCN(cg.graph.relations, (d, c.hidden, d), num_classes, dropout=c.dropout,
                          aggregation=c.aggregation, rngs=nnx.Rngs(seed))
        graphdef, self.initial = nnx.split(model)
        if c.precompute:  # the features are fixed: the first layer's aggregation once, not in every step
            hetero.check_fits(len(cg.graph.relations) * x.size * x.dtype.itemsize)
            x = jax.jit(model.aggregate_inputs)(x, edges)
        # training batches: the last layer aggregates only the edges into the batch (same result, far less work)
        self.budget = hetero.block_budget(cg.graph, candidates, c.batch_size) if len(candidates) else None
        if c.schedule not in ("linear", "noam"):
            raise XlgraphError(f"clhg.schedule={c.schedule!r}: use 'linear' (warmup 10%, linear decay) or 'noam'")
        schedule = optim.noam(c.lr, c.noam_warmup, model_size=d) if c.schedule == "noam" else None
        self.tx = optim.adamw(c.lr, 1, warmup_ratio=0.1, weight_decay=c.weight_decay, clip_norm=None,
                              schedule=schedule)  # the run length is set per fit (optimizer state)
        consts = {"x": jnp.asarray(x), "edges": edges}
        loss_fn = functools.partial(node_classification_loss, precomputed=c.precompute)
        self.train_step = make_train_step(graphdef, self.tx, loss_fn, consts=consts,
                                          grad_fn=grad_fn(loss_fn) if grad_fn is not None else None)
        docs = jnp.arange(cg.num_docs)

        @jax.jit
        def predict_all(params, x, edges):
            logits = nnx.merge(graphdef, params)(x, edges, docs, precomputed=c.precompute)
            return jax.nn.softmax(logits.astype(jnp.float32), -1)

        self.predict = lambda params: np.asarray(predict_all(params, consts["x"], consts["edges"]))

    def fit(self, nodes: np.ndarray, labels: np.ndarray, select_nodes: np.ndarray, select_labels: np.ndarray,
            run: RunDir, ckpt_dir: Path, *, resume: bool = False, keep_last: int = 1, fields: dict | None = None):
        """Trains on `nodes` (labelled `labels`), scoring every epoch on `select_nodes` and checkpointing it in
        `ckpt_dir`. Returns (params at the selected epoch, its step, its selection scores)."""
        c, size = self.c, self.c.batch_size
        per_epoch = -(-len(nodes) // size)
        state = init_state(jax.tree.map(jnp.copy, self.initial), self.tx)
        state = state._replace(opt_state=optim.set_total_steps(state.opt_state, per_epoch * c.epochs))

        def evaluate(state):
            if len(select_nodes) == 0:
                return {}
            pred = self.predict(state.params)[select_nodes].argmax(-1)
            return {k: v for k, v in classification_metrics(select_labels, pred, self.num_classes).items()
                    if k != "n"}

        def batches(epoch, skip):
            order = np.random.default_rng([self.seed, epoch]).permutation(len(nodes))
            for b in range(skip, per_epoch):
                pick = order[b * size:(b + 1) * size]
                weight = np.zeros(size, np.float32)
                weight[: len(pick)] = 1
                block = hetero.block(self.cg.graph, nodes[pick], self.budget)  # padding rows: no edges, weight 0
                yield {"nodes": np.concatenate([nodes[pick], np.zeros(size - len(pick), np.int64)]).astype(np.int32),
                       "labels": np.concatenate([labels[pick], np.zeros(size - len(pick), np.int64)]).astype(np.int32),
                       "weight": weight, "sources": block.sources, "block": block.edges}

        loop = LoopConfig(epochs=c.epochs, steps_per_epoch=per_epoch, log_every=max(per_epoch, 1),
                          select_metric=self.select_metric)
        state, step, scores = fit_and_select(state, train_step=self.train_step, batches=batches,
                                             key=jax.random.key(self.seed), evaluate=evaluate, cfg=loop, run=run,
                                             ckpts=Checkpoints(ckpt_dir, keep_last=keep_last), resume=resume,
                                             put=jax.device_put, fields={"model": "gcn", **(fields or {})})
        return state.params, step, scores
