"""Self-learning: balanced and throttled selection on a hand-built pool, the round driver (pool shrinks for good,
precision, early stopping), and a run on the embedded sample with one compiled step across rounds."""

import json
import re

import numpy as np
import pytest

from conftest import count_train_steps, tiny_run_args
from xlgraph.train.self_learning import select_pseudo_labels, self_learn

# 8 pool items, 3 classes; confidences chosen so that balanced and throttled selections differ
PROBS = np.array([
    [0.90, 0.05, 0.05],  # 0: class 0, very sure
    [0.80, 0.10, 0.10],  # 1: class 0
    [0.70, 0.20, 0.10],  # 2: class 0
    [0.85, 0.10, 0.05],  # 3: class 0
    [0.10, 0.60, 0.30],  # 4: class 1
    [0.20, 0.50, 0.30],  # 5: class 1
    [0.10, 0.30, 0.60],  # 6: class 2
    [0.30, 0.30, 0.40],  # 7: class 2, unsure
])


def test_balanced_takes_the_top_k_of_each_predicted_class():
    index, labels = select_pseudo_labels(PROBS, 2)
    assert index.tolist() == [0, 3, 4, 5, 6, 7] and labels.tolist() == [0, 0, 1, 1, 2, 2]
    index, labels = select_pseudo_labels(PROBS, 1)
    assert index.tolist() == [0, 4, 6]


def test_throttling_takes_the_global_top_and_favours_the_majority():
    index, labels = select_pseudo_labels(PROBS, 1, strategy="throttle")  # k × 3 classes = 3 items
    assert index.tolist() == [0, 1, 3] and set(labels.tolist()) == {0}


def test_selection_is_balanced_within_each_group():
    groups = np.array(["es", "es", "th", "th", "es", "th", "es", "th"])
    index, labels = select_pseudo_labels(PROBS, 1, groups=groups)
    assert index.tolist() == [0, 3, 4, 5, 6, 7]  # per language: its best of each class


def test_driver_moves_pseudo_labels_out_of_the_pool_and_stops_early():
    gold = np.array([0, 0, 1, 0, 1, 1, 2, 0])  # item 7 (picked in round 1 as class 2) is really class 0
    seen = []

    def fit_round(index, labels, r):
        seen.append((index.copy(), labels.copy()))
        return f"state{r}", [0.5, 0.7, 0.6, 0.65, 0.9][r]

    def predict(state, remaining):
        assert state == f"state{len(seen) - 1}"  # pseudo-labels from the state this round returned
        return PROBS[remaining]

    best, best_round, history = self_learn(fit_round, predict, 8, rounds=4, per_class=1, patience=2, gold=gold)
    assert best == "state1" and best_round == 1 and len(history) == 4  # rounds 2 and 3 did not beat round 1
    assert seen[1][0].tolist() == [0, 4, 6] and seen[1][1].tolist() == [0, 1, 2]
    assert set(seen[2][0].tolist()) == {0, 4, 6, 3, 5, 7}  # nothing is selected twice
    assert history[0].precision == 1.0 and history[1].precision == pytest.approx(2 / 3)
    assert history[0].per_class == {"0": 1, "1": 1, "2": 1}


def test_self_learning_run_compiles_the_step_once_per_bucket(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import xlgraph.methods.finetune as finetune
    from xlgraph.cli import main

    made = []
    original = finetune.make_train_step
    monkeypatch.setattr(finetune, "make_train_step", lambda *a, **k: made.append(original(*a, **k)) or made[-1])
    run = tmp_path / "run"
    assert main(tiny_run_args(tiny_model_dir, run, "method=self_learning", "self_learning.rounds=3",
                              "self_learning.patience=9", "self_learning.per_class=8", "train.epochs=1")) == 0
    shown = capsys.readouterr()
    assert "self-learning: best round" in shown.out
    results = json.loads((run / "results.json").read_text())
    rounds = results["self_learning"]["rounds"]
    # each round's prediction of the pool shows progress (it was silent: minutes on a large pool)
    assert len(re.findall(r"pseudo-labelling the pool: \d+ batch in ", shown.err)) == len(rounds) - 1
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    assert [r["train_pseudo"] for r in rounds] == [0, rounds[0]["selected"], rounds[0]["selected"] + rounds[1]["selected"],
                                                   sum(r["selected"] for r in rounds[:3])]
    assert all(0 <= r["precision"] <= 1 for r in rounds[:3]) and set(rounds[0]["precision_per_group"]) == {"es", "th"}
    assert len(made) == 1 and made[0]._cache_size() <= 2  # one compiled step per length bucket, all rounds

    # the run's selected checkpoint (best round) scores a code-switched English set, as in the paper's Table 4
    from xlgraph.data.corpus import Corpus
    from xlgraph.data.readers import load_corpus
    from xlgraph.methods.finetune import evaluate_corpus
    from xlgraph.text.codeswitch import code_switch_corpus

    corpus, _ = load_corpus("sample:mtod")
    english = corpus.where(lang="en", split="dev").take(np.arange(40))
    switched, stats = code_switch_corpus(english, {"alarm": ("alarma",), "weather": ("tiempo",)}, lang="es")
    assert stats.tokens_replaced > 0
    scores = evaluate_corpus(run, Corpus.concat([english, switched]), split="dev")
    assert scores["checkpoint_step"] == results["checkpoint_step"]
    assert set(scores["per_language"]) == {"en", "cs-es"} and scores["per_language"]["en"]["n"] == 40


def test_continue_mode_starts_each_round_from_the_last_one(tiny_model_dir, tmp_path, monkeypatch):
    import xlgraph.methods.finetune as finetune
    from xlgraph.cli import main

    starts = []
    original = finetune.train_round

    def spy(s, tok, labels, ckpt_dir, *, params=None, **kw):
        starts.append(None if params is None else np.asarray(jax_leaf(params)))
        return original(s, tok, labels, ckpt_dir, params=params, **kw)

    monkeypatch.setattr(finetune, "train_round", spy)
    assert main(tiny_run_args(tiny_model_dir, tmp_path / "run", "method=self_learning", "self_learning.rounds=1",
                              "self_learning.reinit=false", "self_learning.patience=9", "train.epochs=1")) == 0
    assert starts[0] is None and starts[1] is not None  # round 1 starts from round 0's weights, not pretrained


def jax_leaf(tree):
    import jax

    return max(jax.tree.leaves(tree), key=lambda x: x.size)


SHORT = ("method=self_learning", "self_learning.rounds=2", "self_learning.patience=9", "self_learning.per_class=8",
         "train.epochs=1")


def test_an_interrupted_self_learning_run_resumes_to_the_same_result(tiny_model_dir, tmp_path, monkeypatch):
    """Killed in round 1 after its first checkpoint: --resume restores round 0 without a step, continues round 1
    from its checkpoint, and ends where the run that was never stopped ends, with one metrics row per step."""
    from xlgraph.cli import main
    from xlgraph.train.checkpoint import Checkpoints

    calls = count_train_steps(monkeypatch)
    assert main(tiny_run_args(tiny_model_dir, tmp_path / "full", *SHORT)) == 0
    full, full_steps = json.loads((tmp_path / "full" / "results.json").read_text()), len(calls)

    save, saves = Checkpoints.save, []

    def killed(self, step, *args, **kwargs):
        if self.directory.name == "round1":
            saves.append(step)
            if len(saves) == 2:
                raise KeyboardInterrupt
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(Checkpoints, "save", killed)
    run = tmp_path / "cut"
    assert main(tiny_run_args(tiny_model_dir, run, *SHORT)) == 130
    assert not (run / "results.json").exists() and not (run / "ckpt" / "round2").exists()
    monkeypatch.setattr(Checkpoints, "save", save)

    calls.clear()
    assert main(tiny_run_args(tiny_model_dir, run, *SHORT, "--resume")) == 0
    resumed = json.loads((run / "results.json").read_text())
    assert resumed["per_language"] == full["per_language"]
    assert resumed["checkpoint_step"] == full["checkpoint_step"]
    assert resumed["self_learning"]["rounds"] == full["self_learning"]["rounds"]
    # round 0 was restored, round 1 went on from step saves[0]: only its rest and round 2 were trained
    round_steps = {r: max(row["step"] for row in rows(run) if row.get("round") == r) for r in (0, 1, 2)}
    assert len(calls) == round_steps[1] - saves[0] + round_steps[2] < full_steps
    assert rows(run) == rows(tmp_path / "full")


def rows(run):
    """metrics.jsonl without its wall-clock fields, in a fixed order."""
    out = [{k: v for k, v in r.items() if k != "time" and not k.endswith("_per_s")}
           for r in (json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())]
    return sorted(out, key=json.dumps)


def test_resume_refuses_a_round_trained_on_other_pseudo_labels(tiny_model_dir, tmp_path, capsys):
    from xlgraph.cli import main

    run = tmp_path / "run"
    assert main(tiny_run_args(tiny_model_dir, run, *SHORT)) == 0
    saved = run / "ckpt" / "round1.pseudo.npz"
    with np.load(saved) as z:
        index, labels = z["index"], z["labels"]
    np.savez(saved, index=index, labels=(labels + 1) % 3)  # as if another machine had chosen other labels
    capsys.readouterr()
    assert main(tiny_run_args(tiny_model_dir, run, *SHORT, "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{saved}: round 1 of the interrupted run was trained on {len(index)} pseudo-labels" in err
    assert f"0 positions and {len(index)} labels differ" in err
    saved.write_bytes(b"not an npz")
    assert main(tiny_run_args(tiny_model_dir, run, *SHORT, "--resume")) == 2
    assert f"{saved}: cannot read round 1's pseudo-labels" in capsys.readouterr().err
