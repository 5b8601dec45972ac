"""CLHG end to end on the embedded sample with the tiny encoder: fine-tune, encode documents and words, build
the graph, train the heterogeneous GCN, and report it beside the fine-tuned baseline."""

import json

from conftest import tiny_run_args
from xlgraph.cli import main


def test_clhg_end_to_end_through_the_demo(tiny_model_dir, tmp_path, capsys):
    """`xlgraph demo` (method clhg by default) with the tiny encoder: baseline and CLHG side by side."""
    run = tmp_path / "run"
    args = tiny_run_args(tiny_model_dir, run, "train.epochs=1", "clhg.epochs=3", "clhg.words_per_lang=300",
                         "clhg.hidden=16")
    assert main(["demo", *args[1:]]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("lang"))
    assert header.split() == ["lang", "n", "fine-tune", "acc", "fine-tune", "F1", "clhg", "acc", "clhg", "F1"]
    r = json.loads((run / "results.json").read_text())
    assert r["method"] == "clhg" and set(r["per_language"]) == {"es", "th"} == set(r["baseline"]["per_language"])
    graph = r["graph"]
    assert graph["words"] == 900 and graph["documents"] > 6000  # 300 words per language; all documents
    assert {"word", "similar"} <= set(graph["edges"])  # no tagger: one untyped doc-word relation
    assert all(0 <= m["accuracy"] <= 1 and m["n"] == 1000 for m in r["per_language"].values())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum("clhg/loss" in row for row in rows) == 3
