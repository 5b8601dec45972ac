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
