"""experiments/adversarial/table.py: per-seed runs, the baseline read from a finished CLHG run, mean ± sd."""

import json

import pytest


def _results(acc_es: float, f1_es: float, wall: float, **extra) -> dict:
    return {"per_language": {"es": {"accuracy": acc_es, "macro_f1": f1_es, "n": 10}}, "wall_time_s": wall, **extra}


def test_baseline_comes_from_the_clhg_run_and_seeds_average(tmp_path, experiment_script, monkeypatch):
    table = experiment_script("adversarial/table.py")
    for seed, (acc, f1) in enumerate([(0.5, 0.4), (0.7, 0.6)]):
        run = tmp_path / f"seed{seed}" / "clhg"
        run.mkdir(parents=True)
        clhg = _results(acc + 0.1, f1 + 0.1, 100.0, baseline={"per_language": _results(acc, f1, 0)["per_language"]},
                        baseline_wall_time_s=40.0 + seed)
        (run / "results.json").write_text(json.dumps(clhg))

    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(table, "METHODS", {"finetune": no_training, "clhg": no_training})
    per_seed = [{v: table.run_variant("demo", [], v, tmp_path / f"seed{s}", s) for v in ("clhg", "baseline")}
                for s in (0, 1)]
    assert per_seed[1]["baseline"]["per_language"]["es"]["accuracy"] == 0.7
    assert per_seed[1]["baseline"]["wall_time_s"] == 41.0 and per_seed[1]["clhg"]["wall_time_s"] == 100.0
    mean = table.summarise(per_seed)
    acc, sd = mean["baseline"]["es"]["accuracy"]
    assert acc == pytest.approx(0.6) and sd == pytest.approx(0.1414, abs=1e-4)  # sample sd of 0.5, 0.7
    assert mean["clhg"]["es"]["macro_f1"][0] == pytest.approx(0.6) and mean["baseline"]["wall_time_s"] == 40.5
    text = table.mean_table(per_seed, ["es"])
    assert "60.0±14.1 / 50.0±14.1" in text and text.splitlines()[1].startswith("CLHG")
    assert text.splitlines()[2].endswith("40 s")  # the baseline's mean wall time
    assert table.summarise(per_seed[:1])["baseline"]["es"]["accuracy"] == (0.5, 0.0)  # one seed: sd 0


def test_score_table_cells():
    from xlgraph.eval.report import score_table

    m = {"accuracy": 0.9, "macro_f1": 0.5}
    text = score_table({"a": {"es": m}, "bb": {"es": [m, {"accuracy": 0.7, "macro_f1": 0.5}], "th": m}},
                       ["es", "th"], header={"th": "Thai"}, extra={"bb": "12 s"})
    head, a, bb = text.splitlines()
    assert head.split() == ["es", "Thai"] and a.split() == ["a", "90.0", "/", "50.0", "—"]
    assert bb.split() == ["bb", "80.0±14.1", "/", "50.0±0.0", "90.0", "/", "50.0", "12", "s"]


def test_embeddings_and_deep_cnn_tables_come_from_score_table(experiment_script):
    embeddings = experiment_script("embeddings/table.py")
    m = lambda f: {"macro_f1": f, "macro_precision": f + 0.01, "macro_recall": f - 0.01}  # noqa: E731
    scores = {"mlp": {"de": {"mono": m(0.8), "multi-procrustes": m(0.7), "multi-cca": m(0.75)}},
              "cnn": {"de": {"mono": m(0.6), "multi-procrustes": m(0.65)}}}
    lines = embeddings.table(scores, ["mlp", "cnn"], ["de"], ["procrustes", "cca"]).splitlines()
    assert lines[0].split() == ["FT-MLP", "F1", "/", "P", "/", "R", "MF-CNN", "F1", "/", "P", "/", "R"]
    assert lines[2].split()[:6] == ["DE", "best", "multi", "75.0", "/", "76.0"]  # the best multi by F1: cca
    assert lines[3].split()[3] == "72.5" and lines[4].split()[2] == "-5.0" and lines[5].split()[-5] == "5.0"

    compare = experiment_script("deep_cnn/compare.py")
    r = lambda j: {"jaccard": j, "micro_f1": j + 0.1, "macro_f1": j - 0.1}  # noqa: E731
    runs = [{"selection_per_language": {"en": r(0.5)}, "per_language": {"es": r(0.3 + s / 10)},
             "unseen_langs": ["es"]} for s in (0, 1)]
    lines = compare.table({"nce": runs}).splitlines()
    assert "mean ± sd of 2 seed(s)" in lines[0] and lines[1].split() == ["en", "(dev)", "es"]
    assert lines[2].split() == ["nce", "50.0±0.0", "/", "60.0±0.0", "/", "40.0±0.0",
                                "35.0±7.1", "/", "45.0±7.1", "/", "25.0±7.1"]


def test_self_learning_round0_is_the_baseline_run_not_trained_again(tiny_model_dir, tmp_path, experiment_script,
                                                                     monkeypatch):
    """The self-learning variant starts from the finished baseline's checkpoints (same seed and settings): it ends
    exactly where a self-learning run that trains its own round 0 ends, with round 0's steps not taken again; a
    baseline of other settings is not used."""
    from conftest import count_train_steps

    table = experiment_script("adversarial/table.py")
    overrides = [f"model.name={tiny_model_dir}", "data.max_train=160", "data.max_eval=48", "tokens.max_length=32",
                 "tokens.buckets=(32,)", "train.batch_size=16", "train.eval_batch_size=16", "train.epochs=1",
                 "train.evals_per_epoch=2", "train.lr=1e-3", "self_learning.rounds=1", "self_learning.per_class=8",
                 "self_learning.patience=9"]
    calls = count_train_steps(monkeypatch)
    own = table.run_variant("demo", overrides, "self_learning", tmp_path / "own", 0)
    own_steps = len(calls)
    # the self_learning.* settings are not round 0's: a baseline run with others is still this run's round 0
    table.run_variant("demo", overrides + ["self_learning.per_class=3"], "baseline", tmp_path / "shared", 0)
    calls.clear()
    shared = table.run_variant("demo", overrides, "self_learning", tmp_path / "shared", 0)
    assert shared["round0_from"]["run"] == str(tmp_path / "shared" / "baseline")
    assert shared["per_language"] == own["per_language"] and shared["self_learning"] == own["self_learning"]
    round0 = json.loads((tmp_path / "shared" / "baseline" / "results.json").read_text())
    assert shared["self_learning"]["rounds"][0]["score"] == round0["selection_per_language"]["en"]["macro_f1"]
    assert 0 < len(calls) < own_steps  # round 1 only
    # a baseline run with another learning rate is not round 0 of this one
    table.run_variant("demo", overrides + ["train.lr=2e-3"], "baseline", tmp_path / "other", 0)
    calls.clear()
    other = table.run_variant("demo", overrides, "self_learning", tmp_path / "other", 0)
    assert "round0_from" not in other and len(calls) == own_steps


def test_a_started_run_of_any_variant_is_resumed_and_a_refusal_is_one_line(tiny_model_dir, tmp_path, capsys,
                                                                           experiment_script, monkeypatch):
    """An interrupted run (config.json, no results.json) of a variant with no round 0 to borrow is continued with
    --resume semantics, not refused; a started run of other settings is refused in one line, exit status 2."""
    from xlgraph.runs import RunDir

    table = experiment_script("adversarial/table.py")
    overrides = [f"model.name={tiny_model_dir}", "data.max_train=64", "data.max_eval=16", "tokens.max_length=16",
                 "tokens.buckets=(16,)", "train.batch_size=16", "train.epochs=1"]
    started = tmp_path / "seed0" / "adversarial"
    RunDir(started).save_config(table.config_for("demo", overrides, "adversarial", 0))
    calls = []
    monkeypatch.setattr(table, "METHODS", {"finetune": lambda: lambda cfg, out, **k: calls.append((out, k)) or {}})
    table.run_variant("demo", overrides, "adversarial", tmp_path / "seed0", 0)
    table.run_variant("demo", overrides, "random", tmp_path / "seed0", 0)
    assert calls == [(started, {"resume": True}), (tmp_path / "seed0" / "random", {})]

    monkeypatch.undo()
    other = table.config_for("demo", overrides + ["train.lr=1e-2"], "adversarial", 0)
    RunDir(started).save_config(other)
    argv = ["demo", *overrides, "--workdir", str(tmp_path), "--seeds", "0", "--variants", "adversarial"]
    assert table.script_main(table.main, argv) == 2
    err = capsys.readouterr().err.strip()  # the log's lines, then the error's one
    assert "Traceback" not in err and "error: --resume:" in err.splitlines()[-1]
    assert "was run with other settings: train.lr: 0.01 → 0.0003" in err.splitlines()[-1]
    with pytest.raises(SystemExit):
        table.main(argv[:-1] + ["adversarial,nosuch"])
    assert "unknown nosuch; known: baseline, random" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        table.main(argv[:-4] + ["--seeds", "0,x"])
    assert "--seeds: integers separated by commas, not '0,x'" in capsys.readouterr().err
