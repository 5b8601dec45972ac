"""Self-learning with a fine-tuned encoder (optionally with FGSM adversarial training): the finetune
method's setup and rounds, driven by `xlgraph.train.self_learning.self_learn` over the target languages'
unlabeled pool. One compiled train step serves every round: batches keep their fixed shapes and the
schedule's length is optimizer state."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from xlgraph.config import ConfigDict
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import XlgraphError
from xlgraph.methods import finetune
from xlgraph.train.self_learning import self_learn

log = logging.getLogger("xlgraph")


def take(tok: Tokenized, index: np.ndarray) -> Tokenized:
    return dataclasses.replace(tok, ids=tok.ids[index], lengths=tok.lengths[index])


def concat(a: Tokenized, b: Tokenized) -> Tokenized:
    return dataclasses.replace(a, ids=np.concatenate([a.ids, b.ids]), lengths=np.concatenate([a.lengths, b.lengths]))


def train_and_evaluate(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False) -> dict:
    """The rounds; with `resume`, an interrupted run continues: each round restores its checkpoints (a finished
    round trains no step), the pool is pseudo-labelled again from them and must choose what the round was trained
    on (ckpt/round{r}.pseudo.npz), and the interrupted round goes on from its last checkpoint."""
    s = finetune.setup(cfg, workdir, resume=resume)
    if resume:
        s.run.drop_metrics("self_learning/round")  # the rounds' summaries are logged again as they replay
    src, sl = cfg.data.source_lang, cfg.self_learning
    langs = list(sl.langs) or [lang for lang in s.corpus.langs if lang != src]
    pool = s.corpus.where(split="unlabeled")
    pool = pool.take(np.isin(pool.lang, langs))
    if len(pool) == 0:
        raise XlgraphError(f"self-learning needs unlabeled documents in {langs}; the data has none")
    log.info("self-learning pool: %s", {lang: int(np.sum(pool.lang == lang)) for lang in langs})
    pool_tok = s.tokenize(pool)
    train = s.parts["train"]
    both = concat(s.toks["train"], pool_tok)
    last = {"params": None}

    def fit_round(pseudo_index, pseudo_labels, r):
        index = np.concatenate([np.arange(len(train)), len(train) + pseudo_index])
        labels = np.concatenate([train.label, pseudo_labels]).astype(np.int32)
        params = None if sl.reinit or last["params"] is None else last["params"]
        if r:
            check_pseudo_labels(s.run, r, pseudo_index, pseudo_labels, resume=resume)
        state, step, scores = finetune.train_round(s, take(both, index), labels, s.run.ckpt_dir / f"round{r}",
                                                   params=params, resume=resume, fields={"round": r})
        last["params"] = jax_host(state.params)
        return (state.params, step, len(labels)), scores.get("select", 0.0)

    def predict(state, remaining):
        _, probs = finetune.predict(s.predict_step, state[0], take(pool_tok, remaining), cfg, s.dp,
                                    desc="pseudo-labelling the pool")
        return probs

    def logged(info):
        s.run.log_metrics(info.train_pseudo, **{f"self_learning/{k}": v for k, v in dataclasses.asdict(info).items()})

    gold = pool.label if (pool.label >= 0).all() else None
    best, best_round, history = self_learn(fit_round, predict, len(pool), rounds=sl.rounds, per_class=sl.per_class,
                                           strategy=sl.strategy, patience=sl.patience, groups=pool.lang, gold=gold,
                                           class_names=list(s.corpus.labels), on_round=logged)
    params, step, examples = best
    method = "self-learning" + (" + adversarial" if cfg.adversarial.enabled else "")
    return finetune.report(s, params, method=method, checkpoint_step=step, train_examples=examples,
                           self_learning={"best_round": best_round, "pool": len(pool),
                                          "rounds": [dataclasses.asdict(h) for h in history]})


def check_pseudo_labels(run, r: int, index: np.ndarray, labels: np.ndarray, *, resume: bool) -> None:
    """Records round r's pseudo-labels (pool positions, classes) beside its checkpoints; a resumed run must
    select the same ones, or the round's checkpoints were trained on another set."""
    path = run.ckpt_dir / f"round{r}.pseudo.npz"
    if resume and path.exists():
        try:
            with np.load(path) as saved:
                before, before_labels = saved["index"], saved["labels"]
        except Exception as e:  # truncated, not an npz, keys missing
            raise XlgraphError(f"{path}: cannot read round {r}'s pseudo-labels ({type(e).__name__}: {e}); "
                               "start the run again with --overwrite") from None
        if not (np.array_equal(before, index) and np.array_equal(before_labels, labels)):
            differ = len(np.setxor1d(before, index))
            raise XlgraphError(
                f"{path}: round {r} of the interrupted run was trained on {len(before)} pseudo-labels, and the "
                f"resumed run selects {len(index)} ({differ} positions and "
                f"{_changed_labels(before, before_labels, index, labels)} labels differ: other hardware, code or "
                f"data?); its checkpoints cannot be continued: start the run again with --overwrite")
        return
    if run.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        with open(part, "wb") as f:  # whole or absent: a run killed while writing leaves only the .part
            np.savez(f, index=np.asarray(index, np.int64), labels=np.asarray(labels, np.int32))
        os.replace(part, path)


def _changed_labels(a_index, a_labels, b_index, b_labels) -> int:
    _, ia, ib = np.intersect1d(a_index, b_index, return_indices=True)
    return int(np.sum(a_labels[ia] != b_labels[ib]))


def jax_host(tree):
    import jax

    return jax.tree.map(np.copy, jax.device_get(tree))
