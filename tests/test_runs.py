import json
import logging

import numpy as np

from xlgraph.config import default_config
from xlgraph.progress import progress
from xlgraph.runs import RunDir


def test_run_dir_writes_config_metrics_results(tmp_path):
    run = RunDir(tmp_path / "r")
    run.save_config(default_config())
    run.log_metrics(3, loss=np.float32(0.5), nan=float("nan"))
    run.log_metrics(6, loss=0.25)
    assert [r["step"] for r in run.read_metrics()] == [3, 6]
    assert run.read_metrics()[0]["loss"] == 0.5 and run.read_metrics()[0]["nan"] is None
    run.save_results({"per_language": {"es": {"n": 2, "accuracy": 0.5, "macro_f1": 0.25}}}, title="t")
    assert json.loads((tmp_path / "r" / "results.json").read_text())["per_language"]["es"]["n"] == 2
    assert (tmp_path / "r" / "results.png").exists()
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["batch_size"] == 32


def test_run_dir_of_other_processes_writes_nothing(tmp_path):
    run = RunDir(tmp_path / "r", write=False)
    run.log_metrics(1, loss=1.0)
    assert not (tmp_path / "r").exists()


def test_progress_logs_plain_lines_without_a_terminal(caplog):
    with caplog.at_level(logging.INFO, logger="xlgraph"):
        assert list(progress(range(5), total=5, desc="work", unit="doc", every_s=0.0)) == list(range(5))
    lines = [r.getMessage() for r in caplog.records]
    assert any("ETA" in line and "doc/s" in line for line in lines)
    assert "work: 5 doc in" in lines[-1]
