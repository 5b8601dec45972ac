"""Which corpus rows a run trains on, selects its checkpoint on and is evaluated on: decided here, once, for every
method (the fine-tuned encoder, the word models, self-learning, CLHG's labelled / selection / evaluation nodes).

train   labelled `train` documents of the training languages (data.train_langs, default data.source_lang), at most
        data.max_train of them (a seeded sample, in corpus order)
select  labelled `dev` documents of the training languages (select.on=source_dev, zero-shot) or of the other
        languages (target_dev), at most data.max_eval per language
eval    labelled data.eval_split documents of every language, at most data.max_eval per language
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xlgraph.config import ConfigDict
from xlgraph.data.corpus import Corpus
from xlgraph.errors import XlgraphError

SELECT_ON = ("source_dev", "target_dev")


def train_langs(cfg: ConfigDict) -> list[str]:
    """The languages trained on: data.train_langs, by default the source language alone."""
    return list(cfg.data.train_langs) or [cfg.data.source_lang]


def capped(n: int, limit: int, seed: int) -> np.ndarray:
    """Positions of at most `limit` of `n` items (a seeded sample), sorted; all when `limit` is 0."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit]) if limit and n > limit else np.arange(n)


def rows_per_language(corpus: Corpus, mask: np.ndarray, limit: int, seed: int, *, grouped: bool = False) -> np.ndarray:
    """Rows of `mask`, at most `limit` per language (a seeded sample of each), sorted; `grouped`: language by
    language in order of first appearance when capped (the order the parts of `Splits.parts` have)."""
    if not limit:
        return np.flatnonzero(mask)
    out = [np.zeros(0, np.int64)]
    for lang in corpus.take(mask).langs:
        rows = np.flatnonzero(mask & (corpus.lang == lang))
        out.append(rows[capped(len(rows), limit, seed)])
    rows = np.concatenate(out)
    return rows if grouped else np.sort(rows)


def selection_label(cfg: ConfigDict, has_select: bool) -> str:
    """How the checkpoint was selected, for reports."""
    if not has_select:
        return "last checkpoint (no selection data)"
    if cfg.select.on == "target_dev":
        return f"target-language dev {cfg.select.metric} (NOT zero-shot)"
    if len(train_langs(cfg)) > 1:
        return f"{'/'.join(train_langs(cfg))} dev {cfg.select.metric} (the training languages')"
    return f"source dev {cfg.select.metric} (zero-shot)"


@dataclasses.dataclass(frozen=True)
class Splits:
    """Corpus rows of each part; `selection` says how the checkpoint is selected."""

    train: np.ndarray
    select: np.ndarray
    eval: np.ndarray
    selection: str

    def parts(self, corpus: Corpus) -> dict[str, Corpus]:
        return {name: corpus.take(getattr(self, name)) for name in ("train", "select", "eval")}


def splits(corpus: Corpus, cfg: ConfigDict) -> Splits:
    src = cfg.data.source_lang
    if src not in corpus.langs:
        raise XlgraphError(f"source language {src!r} is not in the data (languages: {', '.join(corpus.langs)})")
    if cfg.select.on not in SELECT_ON:
        raise XlgraphError(f"select.on must be source_dev or target_dev, not {cfg.select.on!r}")
    trained = np.isin(corpus.lang, train_langs(cfg))
    train = np.flatnonzero(corpus.mask(None, "train", True) & trained)
    train = train[capped(len(train), cfg.data.max_train, cfg.seed)]
    if len(train) == 0:
        raise XlgraphError(f"no labelled {'/'.join(train_langs(cfg))} training documents in {cfg.data.sources}")
    dev = corpus.mask(None, "dev", True) & (trained if cfg.select.on == "source_dev" else ~trained)
    select = rows_per_language(corpus, dev, cfg.data.max_eval, cfg.seed, grouped=True)
    evaluation = rows_per_language(corpus, corpus.mask(None, cfg.data.eval_split, True), cfg.data.max_eval, cfg.seed,
                                   grouped=True)
    return Splits(train, select, evaluation, selection_label(cfg, len(select) > 0))
