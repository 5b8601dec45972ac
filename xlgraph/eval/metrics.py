"""Classification metrics (numpy, host side): accuracy and macro precision/recall/F1.

Macro averages run over the classes present in the gold labels or the predictions of the set being
scored (scikit-learn's default), so a language that lacks a class is not charged for it.
"""

from __future__ import annotations

import numpy as np


def confusion(gold: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(gold * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_metrics(gold, pred, num_classes: int) -> dict[str, float]:
    gold, pred = np.asarray(gold, np.int64), np.asarray(pred, np.int64)
    if len(gold) == 0:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan"),
                "macro_precision": float("nan"), "macro_recall": float("nan")}
    cm = confusion(gold, pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    pred_count, gold_count = cm.sum(0), cm.sum(1)
    present = (pred_count + gold_count) > 0
    precision = np.divide(tp, pred_count, out=np.zeros_like(tp), where=pred_count > 0)
    recall = np.divide(tp, gold_count, out=np.zeros_like(tp), where=gold_count > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        "n": int(len(gold)),
        "accuracy": float(tp.sum() / len(gold)),
        "macro_f1": float(f1[present].mean()),
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
    }


def per_language(gold, pred, langs, num_classes: int) -> dict[str, dict[str, float]]:
    langs = np.asarray(langs)
    return {str(lang): classification_metrics(np.asarray(gold)[langs == lang], np.asarray(pred)[langs == lang], num_classes)
            for lang in dict.fromkeys(langs.tolist())}
