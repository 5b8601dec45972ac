"""CLHG end to end on the embedded sample with the tiny encoder: fine-tune, encode documents and words, build
the graph, train the heterogeneous GCN, and report it beside the fine-tuned baseline."""

import json

import pytest

from conftest import tiny_run_args
from xlgraph.cli import main
from xlgraph.errors import XlgraphError
from xlgraph.features.source import Features


def test_clhg_end_to_end_through_the_demo(tiny_model_dir, tmp_path, capsys, caplog):
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
    # scored on the baseline's evaluation documents (data.max_eval=48 per language)
    assert all(0 <= m["accuracy"] <= 1 and m["n"] == 48 == r["baseline"]["per_language"][lang]["n"]
               for lang, m in r["per_language"].items())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(row.get("model") == "gcn" and "train/loss" in row for row in rows) == 3  # one per epoch
    # built once: a resumed run loads the graph and node features from the run directory, same results
    assert (run / "graph.npz").exists() and (run / "node_features.npy").exists()
    caplog.clear()
    with caplog.at_level("INFO", logger="xlgraph"):
        assert main(["demo", *args[1:], "--resume"]) == 0
    assert "graph and features from" in caplog.text and "graph: " not in caplog.text
    again = json.loads((run / "results.json").read_text())
    assert again["per_language"] == r["per_language"] and again["baseline"] == r["baseline"]
    # `xlgraph eval` of the demo's run directory scores its fine-tuned encoder on other data (the GCN needs its graph)
    capsys.readouterr()
    assert main(["eval", str(run), "--data", "sample:mtod?langs=es&splits=test", "--split", "test"]) == 0
    assert "es" in capsys.readouterr().out and "scoring its fine-tuned encoder" in caplog.text


def test_clhg_composes_with_self_learning_and_fgsm(tiny_model_dir, tmp_path):
    """clhg.self_learning + clhg.adversarial: pseudo-labelled target documents become labelled GCN nodes round by
    round (each round's GCN in ckpt/gcn/round{r}), the GCN trained with FGSM on its input rows; no new code."""
    run = tmp_path / "run"
    args = tiny_run_args(tiny_model_dir, run, "train.epochs=1", "clhg.epochs=2", "clhg.words_per_lang=50",
                         "clhg.hidden=8", "clhg.self_learning=true", "clhg.adversarial=true",
                         "self_learning.rounds=1", "self_learning.per_class=2", "self_learning.patience=5")
    assert main(["demo", "method=clhg", *args[1:]]) == 0
    r = json.loads((run / "results.json").read_text())
    assert r["method"] == "clhg + adversarial + self-learning" and set(r["per_language"]) == {"es", "th"}
    first, second = r["self_learning"]["rounds"]
    assert 0 < first["selected"] == second["train_pseudo"] and first["precision"] is not None
    assert set(first["precision_per_group"]) == {"es", "th"}
    assert (run / "ckpt/gcn/round0").is_dir() and (run / "ckpt/gcn/round1").is_dir()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {row.get("round") for row in rows if row.get("model") == "gcn" and "train/loss" in row} == {0, 1}


def test_clhg_fgsm_with_a_table_norm_is_refused_before_any_work(tiny_model_dir, tmp_path, capsys):
    args = tiny_run_args(tiny_model_dir, tmp_path / "run", "clhg.adversarial=true", "adversarial.norm=table")
    assert main(["demo", "method=clhg", *args[1:]]) == 2
    err = capsys.readouterr().err
    assert "adversarial.norm must be example" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.json").exists()


def test_clhg_trains_selects_and_scores_on_the_baselines_rows():
    """The GCN's labelled, selection and evaluation nodes are the baseline's documents, caps included."""
    import numpy as np

    from xlgraph.config import apply_overrides, demo_config
    from xlgraph.data.readers import load_corpus
    from xlgraph.data.splits import splits

    corpus, _ = load_corpus("sample:mtod")
    for overrides in (["data.max_train=300", "data.max_eval=40"], ["select.on=target_dev", "data.max_eval=7"], []):
        cfg = apply_overrides(demo_config(), overrides)
        parts = splits(corpus, cfg).parts(corpus)
        rows_of = splits(corpus, cfg)
        for name, rows in (("train", rows_of.train), ("select", np.sort(rows_of.select)),
                           ("eval", np.sort(rows_of.eval))):
            part = parts[name]
            assert len(rows) == len(part), (name, overrides)
            key = lambda c, i: (c.lang[i], c.text[i], c.label[i])  # noqa: E731
            assert sorted(key(corpus, i) for i in rows) == sorted(key(part, i) for i in range(len(part)))
    assert len(splits(corpus, apply_overrides(demo_config(), ["data.max_train=300"])).train) == 300
    assert np.all(np.diff(np.sort(splits(corpus, cfg).eval)) > 0)


def test_clhg_on_another_feature_source(tiny_model_dir, tmp_path):
    """Node features from any source (here hashed word vectors, a document as the mean of its words), fixed
    while the GCN trains; the graph's similarity edges come from them too."""
    import zlib

    import numpy as np

    from xlgraph.config import apply_overrides, demo_config
    from xlgraph.graph.corpus_graph import regex_tokens
    from xlgraph.methods.clhg import train_and_evaluate

    dim = 24

    def vector(lang, word):
        return np.random.default_rng(zlib.crc32(f"{lang}/{word.lower()}".encode())).standard_normal(dim)

    def docs(corpus):
        return np.stack([np.mean([vector(lang, w) for w, _ in tokens] or [np.zeros(dim)], axis=0)
                         for lang, tokens in zip(corpus.lang, regex_tokens(list(corpus.text)))])

    args = tiny_run_args(tiny_model_dir, tmp_path, "train.epochs=1", "clhg.epochs=2", "clhg.words_per_lang=100",
                         "clhg.hidden=8")
    cfg = apply_overrides(demo_config(), [a for a in args[1:] if "=" in a and not a.startswith("-")])
    features = Features(docs=docs, words=lambda pairs: np.stack([vector(*p) for p in pairs]), name="hashed")
    r = train_and_evaluate(cfg, tmp_path / "run", features=features)
    assert r["features"] == {"source": "hashed", "dim": dim} and r["graph"]["edges"]["similar"] > 0
    # resumed with another feature source, the saved node features are not reused (the fine-tuning is)
    bad = Features(docs=lambda corpus: np.zeros((3, dim)), words=features.words, name="wrong shape")
    with pytest.raises(XlgraphError, match="document features"):
        train_and_evaluate(cfg, tmp_path / "run", features=bad, resume=True)


def test_ablation_fine_tunes_and_encodes_once(experiment_script, tiny_model_dir, tmp_path, capsys):
    """The Table 4 runner: one fine-tuned encoder and one encoding pass for every variant; each variant's own
    graph and GCN; the table; --resume reads finished variants back."""
    from xlgraph.families.encoder import EncoderFamily

    runner = experiment_script("clhg/ablation.py")
    calls = {"docs": 0, "words": 0}
    real = EncoderFamily.node_features

    def counted(self, s, params):
        f = real(self, s, params)

        def docs(corpus):
            calls["docs"] += 1
            return f.docs(corpus)

        def words(pairs):
            calls["words"] += len(pairs)
            return f.words(pairs)

        return Features(docs, words, f.name)

    EncoderFamily.node_features = counted
    runner.STEPS = [runner.STEPS[i] for i in (0, 3, 4)]  # word-doc only, + similarity (all but unlabeled), + unlabeled
    try:
        args = tiny_run_args(tiny_model_dir, tmp_path / "abl", "train.epochs=1", "clhg.epochs=2",
                             "clhg.words_per_lang=50", "clhg.hidden=8")
        overrides = [a for a in args[1:] if "=" in a and not a.startswith("-")]
        runner.main(["demo", *overrides, "--workdir", str(tmp_path / "abl")])
    finally:
        EncoderFamily.node_features = real
    out = capsys.readouterr().out
    assert all(name in out for name, _ in runner.STEPS) and "fine-tuned encoder" in out
    assert calls["docs"] == 1  # once for five graphs
    results = [json.loads((tmp_path / f"abl/step{i}/results.json").read_text()) for i in range(3)]
    from xlgraph.graph.corpus_graph import load_corpus_graph

    words = {w for i in range(3) for w in load_corpus_graph(tmp_path / f"abl/step{i}/graph.npz")[0].words}
    assert calls["words"] == len(words)  # each (language, word) encoded once, whichever graphs hold it
    assert [r["variant"] for r in results] == [name for name, _ in runner.STEPS]
    relations = [set(r["graph"]["edges"]) for r in results]
    assert relations[0] == {"word"} and {"word", "similar"} <= relations[1]
    assert results[2]["graph"]["documents"] > results[1]["graph"]["documents"]  # + the unlabeled pool
    assert len({json.dumps(r["baseline"]) for r in results}) == 1  # one baseline for all
    assert len(list((tmp_path / "abl/ckpt").iterdir())) == 1  # one fine-tuning checkpoint directory
    before = (tmp_path / "abl/step1/results.json").stat().st_mtime_ns
    runner.main(["demo", *overrides, "--workdir", str(tmp_path / "abl"), "--resume"])
    assert (tmp_path / "abl/step1/results.json").stat().st_mtime_ns == before
    assert capsys.readouterr().out.split("\n", 2)[2] == out.split("\n", 2)[2]
