"""End to end through the CLI: a reduced demo, resume, eval, data inspect / to-tfds, error exits."""

import json
import os
import subprocess
import sys

import pytest

from xlgraph.cli import main

REDUCED = ["method=finetune", "data.max_train=64", "data.max_eval=24", "train.epochs=2", "train.batch_size=16",
           "train.eval_batch_size=32", "tokens.max_length=32", "tokens.buckets=(16,32)", "train.log_every=2"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("runs") / "demo"
    assert main(["demo", *REDUCED, "--workdir", str(workdir)]) == 0
    return workdir


def test_reduced_demo_writes_the_run_directory(demo_run, capsys):
    results = json.loads((demo_run / "results.json").read_text())
    assert set(results["per_language"]) == {"es", "th"}  # the sample has English train/dev only
    assert all(m["n"] == 24 for m in results["per_language"].values())
    assert results["zero_shot"] and "source dev" in results["selection"]
    assert results["train_examples"] == 64
    assert (demo_run / "results.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((demo_run / "config.json").read_text())
    assert config["data"]["max_train"] == 64 and config["tokens"]["buckets"] == [16, 32]
    rows = [json.loads(line) for line in (demo_run / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in r for r in rows) and sum("eval/macro_f1" in r for r in rows) == 2
    assert (demo_run / "ckpt").is_dir()


def test_resume_of_a_finished_run_trains_nothing_more(demo_run, capsys):
    before = json.loads((demo_run / "results.json").read_text())
    lines = len((demo_run / "metrics.jsonl").read_text().splitlines())
    assert main(["demo", *REDUCED, "--workdir", str(demo_run), "--resume"]) == 0
    after = json.loads((demo_run / "results.json").read_text())
    assert after["per_language"] == before["per_language"] and after["checkpoint_step"] == before["checkpoint_step"]
    assert len((demo_run / "metrics.jsonl").read_text().splitlines()) == lines
    assert "th" in capsys.readouterr().out


def test_eval_scores_a_run_on_other_data(demo_run, capsys):
    assert main(["eval", str(demo_run), "--data", "sample:mtod?langs=es", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "es" in out and "1000" in out


def test_target_dev_selection_is_labelled_not_zero_shot(tmp_path, capsys):
    from xlgraph.config import demo_config, apply_overrides
    from xlgraph.data.splits import selection_label

    cfg = apply_overrides(demo_config(), ["select.on=target_dev"])
    assert "NOT zero-shot" in selection_label(cfg, True)


def test_data_inspect_and_to_tfds(tmp_path, capsys):
    assert main(["data", "inspect", "sample:mtod"]) == 0
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:3]) for line in out.splitlines()[1:]}
    assert {("en", "train", "2000"), ("en", "dev", "500"), ("es", "test", "1000"), ("th", "unlabeled", "1000")} <= rows
    assert main(["data", "to-tfds", "sample:mtod?langs=th", str(tmp_path), "--name", "mtod_th"]) == 0
    capsys.readouterr()
    assert main(["data", "inspect", f"tfds:mtod_th/*?data_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2000 documents, 1 languages")


def test_bad_input_exits_non_zero_with_one_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("pos\tfine text\nneg\n")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "xlgraph.cli", "data", "inspect", f"tsv:{bad}?label=0&text=1&lang=en"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:2:" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "xlgraph.cli", "data", "inspect", "--skip-bad-rows",
                           f"tsv:{bad}?label=0&text=1&lang=en"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "skipped 1 bad rows" in proc.stdout and "1 documents" in proc.stdout
