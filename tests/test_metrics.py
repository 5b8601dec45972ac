import numpy as np
from hypothesis import given, settings, strategies as st

from xlgraph.eval.metrics import classification_metrics, per_language
from xlgraph.eval.report import bar_chart, format_table


def test_known_values():
    gold = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0])
    m = classification_metrics(gold, pred, 4)  # class 3 absent from both: not averaged
    # per class F1: c0 p=1/2 r=1/2 -> .5 ; c1 p=2/3 r=1 -> .8 ; c2 p=0 r=0 -> 0
    assert m["accuracy"] == 0.6 and abs(m["macro_f1"] - (0.5 + 0.8 + 0) / 3) < 1e-12


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=80))
def test_matches_reference_definition(pairs):
    gold, pred = map(np.array, zip(*pairs))
    m = classification_metrics(gold, pred, 5)
    f1s = []
    for c in sorted(set(gold) | set(pred)):
        tp = np.sum((gold == c) & (pred == c))
        p = tp / max(np.sum(pred == c), 1)
        r = tp / max(np.sum(gold == c), 1)
        f1s.append(0 if p + r == 0 else 2 * p * r / (p + r))
    assert abs(m["macro_f1"] - np.mean(f1s)) < 1e-12
    assert abs(m["accuracy"] - np.mean(gold == pred)) < 1e-12


def test_per_language_table_and_chart(tmp_path):
    res = per_language([0, 1, 1, 0], [0, 1, 0, 0], ["en", "en", "es", "es"], 2)
    assert list(res) == ["en", "es"] and res["en"]["accuracy"] == 1.0 and res["es"]["accuracy"] == 0.5
    table = format_table(res, source_lang="en")
    assert "en (source)" in table and "100.00" in table and "50.00" in table
    bar_chart(res, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_side_by_side_table():
    from xlgraph.eval.report import side_by_side

    a = per_language([0, 1, 1, 0], [0, 1, 0, 0], ["en", "en", "es", "es"], 2)
    b = per_language([0, 1], [1, 1], ["es", "es"], 2)
    lines = side_by_side({"base": a, "gcn": b}, source_lang="en").splitlines()
    assert lines[0].split() == ["lang", "n", "base", "acc", "base", "F1", "gcn", "acc", "gcn", "F1"]
    assert lines[2].split() == ["en", "(source)", "2", "100.00", "100.00", "-", "-"]
    assert lines[3].split()[:5] == ["es", "2", "50.00", f"{100 * a['es']['macro_f1']:.2f}", "50.00"]
