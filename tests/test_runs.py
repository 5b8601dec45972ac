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


def test_a_torn_last_metrics_line_is_dropped_on_resume_a_bad_middle_line_is_an_error(tmp_path, caplog):
    import pytest

    from xlgraph.errors import DataError

    cfg = default_config()
    run = RunDir(tmp_path / "r")
    run.claim(cfg)
    run.log_metrics(3, loss=0.5)
    run.log_metrics(6, loss=0.25)
    path = tmp_path / "r" / "metrics.jsonl"
    whole = path.read_text()
    path.write_text(whole + '{"step": 9, "time": 17.5, "lo')  # killed while writing the third row
    run.unlock()
    resumed = RunDir(tmp_path / "r")
    with caplog.at_level(logging.WARNING, logger="xlgraph"):
        resumed.claim(cfg, resume=True)
    assert "metrics.jsonl:3: dropped the last line" in caplog.text
    assert path.read_text() == whole  # mended: rows appended now stay readable
    resumed.log_metrics(9, loss=0.125)
    resumed.truncate_metrics(6)
    assert [r["step"] for r in resumed.read_metrics()] == [3, 6]
    path.write_text('{"step": 3}\n{"step": 6, "lo\n{"step": 9}\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl:2: not a metrics row .*only a torn last line is dropped"):
        resumed.read_metrics()


def test_a_truncated_results_or_config_json_is_one_error_naming_it(tmp_path):
    import pytest

    from xlgraph.errors import DataError
    from xlgraph.runs import finished_results

    run = RunDir(tmp_path / "r")
    run.save_results({"per_language": {"es": {"n": 2, "accuracy": 0.5, "macro_f1": 0.25}}})
    assert not (tmp_path / "r" / "results.json.tmp").exists()  # written whole, then renamed into place
    results = tmp_path / "r" / "results.json"
    assert finished_results(run.path)["per_language"]["es"]["n"] == 2
    results.write_text(results.read_text()[:30])
    with pytest.raises(DataError, match=r"results\.json:\d+: not valid JSON .*truncated or corrupt"):
        finished_results(run.path)
    results.write_text("")
    with pytest.raises(DataError, match=r"results\.json: empty: the file is truncated"):
        finished_results(run.path)
    run.save_config(default_config())
    (tmp_path / "r" / "config.json").write_text('{"seed": ')
    with pytest.raises(DataError, match=r"config\.json:1: not valid JSON"):
        run.claim(default_config(), resume=True)
