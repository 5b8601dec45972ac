"""Classification metrics (numpy, host side): accuracy and macro precision/recall/F1; for label sets, the
example-based Jaccard overlap and micro/macro F1.

Macro averages run over the classes present in the gold labels or the predictions of the set being
scored (scikit-learn's default), so a language that lacks a class is not charged for it.
"""

from __future__ import annotations

import numpy as np


def confusion(gold: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(gold * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def macro_scores(tp: np.ndarray, pred_count: np.ndarray, gold_count: np.ndarray) -> dict[str, float]:
    """Macro precision/recall/F1 from per-class true positives and predicted/gold counts, averaged over the
    classes present in either (0 when none is)."""
    tp = tp.astype(np.float64)
    present = (pred_count + gold_count) > 0
    precision = np.divide(tp, pred_count, out=np.zeros_like(tp), where=pred_count > 0)
    recall = np.divide(tp, gold_count, out=np.zeros_like(tp), where=gold_count > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    mean = (lambda a: float(a[present].mean())) if present.any() else (lambda a: 0.0)
    return {"macro_f1": mean(f1), "macro_precision": mean(precision), "macro_recall": mean(recall)}


def classification_metrics(gold, pred, num_classes: int) -> dict[str, float]:
    gold, pred = np.asarray(gold, np.int64), np.asarray(pred, np.int64)
    if len(gold) == 0:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan"),
                "macro_precision": float("nan"), "macro_recall": float("nan")}
    cm = confusion(gold, pred, num_classes)
    tp = np.diag(cm)
    return {"n": int(len(gold)), "accuracy": float(tp.sum() / len(gold)), **macro_scores(tp, cm.sum(0), cm.sum(1))}


def per_language(gold, pred, langs, num_classes: int) -> dict[str, dict[str, float]]:
    langs = np.asarray(langs)
    return {str(lang): classification_metrics(np.asarray(gold)[langs == lang], np.asarray(pred)[langs == lang], num_classes)
            for lang in dict.fromkeys(langs.tolist())}


def multilabel_metrics(gold, pred) -> dict[str, float]:
    """Multi-label scores of (N, C) 0/1 matrices: `jaccard`, the mean over examples of |pred ∩ gold| / |pred ∪ gold|
    (the deep-CNN paper's "accuracy"; an example with both sets empty counts 1), `exact_match` (the whole set
    right), micro precision/recall/F1 over all (example, label) decisions, and macro ones averaged over the labels
    present in gold or predictions (as `classification_metrics` does)."""
    gold, pred = np.asarray(gold, bool), np.asarray(pred, bool)
    if gold.shape != pred.shape or gold.ndim != 2:
        raise ValueError(f"gold {gold.shape} and predictions {pred.shape} must be the same (N, C) shape")
    keys = ("jaccard", "exact_match", "micro_f1", "micro_precision", "micro_recall", "macro_f1", "macro_precision",
            "macro_recall")
    if len(gold) == 0:
        return {"n": 0, **{k: float("nan") for k in keys}}
    inter, union = (gold & pred).sum(1), (gold | pred).sum(1)
    tp = (gold & pred).sum(0)
    pred_count, gold_count = pred.sum(0), gold.sum(0)
    micro_p = tp.sum() / max(pred_count.sum(), 1)
    micro_r = tp.sum() / max(gold_count.sum(), 1)
    return {
        "n": int(len(gold)),
        "jaccard": float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0))),
        "exact_match": float(np.mean((gold == pred).all(1))),
        "micro_f1": float(2 * micro_p * micro_r / (micro_p + micro_r)) if micro_p + micro_r > 0 else 0.0,
        "micro_precision": float(micro_p),
        "micro_recall": float(micro_r),
        **macro_scores(tp, pred_count, gold_count),
    }


def per_language_multilabel(gold, pred, langs) -> dict[str, dict[str, float]]:
    langs = np.asarray(langs)
    return {str(lang): multilabel_metrics(np.asarray(gold)[langs == lang], np.asarray(pred)[langs == lang])
            for lang in dict.fromkeys(langs.tolist())}
