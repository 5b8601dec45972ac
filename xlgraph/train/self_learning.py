"""Self-learning: fine-tune, pseudo-label the most confident part of an unlabeled pool, move it into the
training set for good, repeat; stop when validation has not improved for `patience` rounds.

The driver knows nothing of models: `fit_round(pseudo_index, pseudo_labels, round)` trains (any classifier:
encoder, CLHG, embedding models) and returns (state, validation score); `predict(state, pool_index)` returns
class probabilities. Pseudo-labels come from the state `fit_round` returned — the best checkpoint of the round.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger("xlgraph")


def select_pseudo_labels(probs: np.ndarray, k: int, *, strategy: str = "balanced",
                         groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positions in `probs`, predicted labels) of the pseudo-labels to take.

    balanced: within each group (e.g. target language), the k most confident items of every predicted class.
    throttle: within each group, the k × num_classes most confident items whatever their class (the
    alternative the paper shows collapsing towards the majority class). Ties break by position."""
    if strategy not in ("balanced", "throttle"):
        raise ValueError(f"strategy must be balanced or throttle, not {strategy!r}")
    pred, conf = probs.argmax(-1), probs.max(-1)
    groups = np.zeros(len(probs), np.int32) if groups is None else np.asarray(groups)
    chosen = []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if strategy == "throttle":
            order = members[np.lexsort((members, -conf[members]))]
            chosen.append(order[: k * probs.shape[1]])
            continue
        for c in np.unique(pred[members]):
            cls = members[pred[members] == c]
            chosen.append(cls[np.lexsort((cls, -conf[cls]))][:k])
    index = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    return index, pred[index]


@dataclasses.dataclass
class Round:
    round: int
    score: float
    train_pseudo: int  # pseudo-labels in this round's training set
    selected: int = 0  # chosen after this round for the next
    per_class: dict = dataclasses.field(default_factory=dict)
    precision: float | None = None  # of the newly selected pseudo-labels, when the pool's gold is known
    precision_per_group: dict = dataclasses.field(default_factory=dict)


def self_learn(fit_round: Callable, predict: Callable, pool_size: int, *, rounds: int, per_class: int,
               strategy: str = "balanced", patience: int = 2, groups: np.ndarray | None = None,
               gold: np.ndarray | None = None, class_names=None, on_round: Callable | None = None):
    """Runs round 0 (labelled data only) and up to `rounds` pseudo-labelling rounds. Returns
    (best state, its round, history). `gold` (-1 = unknown) is used only to report precision."""
    remaining = np.arange(pool_size)
    pseudo_index, pseudo_labels = np.zeros(0, np.int64), np.zeros(0, np.int32)
    history: list[Round] = []
    best = (None, -np.inf, -1)
    for r in range(rounds + 1):
        state, score = fit_round(pseudo_index, pseudo_labels, r)
        info = Round(r, float(score), len(pseudo_index))
        history.append(info)
        if score > best[1]:
            best = (state, float(score), r)
        stale = r - best[2]
        if stale >= patience:
            log.info("self-learning: no improvement for %d rounds, stopping after round %d", stale, r)
            if on_round:
                on_round(info)
            break
        if r == rounds or len(remaining) == 0:
            if on_round:
                on_round(info)
            break
        probs = predict(state, remaining)
        picked, labels = select_pseudo_labels(probs, per_class, strategy=strategy,
                                              groups=None if groups is None else groups[remaining])
        taken = remaining[picked]
        info.selected = len(taken)
        names = class_names or [str(c) for c in range(probs.shape[1])]
        info.per_class = {names[c]: int(n) for c, n in zip(*np.unique(labels, return_counts=True))}
        if gold is not None and len(taken) and (gold[taken] >= 0).all():
            info.precision = float(np.mean(gold[taken] == labels))
            if groups is not None:
                for g in np.unique(groups[taken]):
                    m = groups[taken] == g
                    info.precision_per_group[str(g)] = float(np.mean(gold[taken][m] == labels[m]))
        log.info("self-learning round %d: score %.4f; selected %d pseudo-labels %s%s", r, score, len(taken),
                 info.per_class, f", precision {info.precision:.3f}" if info.precision is not None else "")
        if on_round:
            on_round(info)
        pseudo_index = np.concatenate([pseudo_index, taken])
        pseudo_labels = np.concatenate([pseudo_labels, labels]).astype(np.int32)
        remaining = np.delete(remaining, picked)
    return best[0], best[2], history
