"""A run directory cannot report a result its run did not produce (issue #15, items 1-5): it is claimed with a
lock, another run is refused unless resumed with the same settings or overwritten, and a non-finite loss stops
the run before a bad checkpoint is written."""

import gzip
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny_run_args
from xlgraph.cli import main
from xlgraph.config import default_config
from xlgraph.errors import XlgraphError
from xlgraph.data.corpus import Corpus, Doc
from xlgraph.runs import RunDir, config_changes, data_changes


def _fast(model_dir, run, *extra):
    return tiny_run_args(model_dir, run, "data.max_train=32", "data.max_eval=16", "train.epochs=1",
                         "train.evals_per_epoch=1", "train.checkpoint_every=0", *extra)


def test_a_finished_run_is_refused_resumed_with_its_settings_or_overwritten(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_fast(tiny_model_dir, run)) == 0
    before = {p: p.read_bytes() for p in (run / "config.json", run / "results.json", run / "metrics.jsonl")}
    capsys.readouterr()
    # again without --resume, another seed, another lr: refused, nothing in the directory changes
    for extra in ((), ("seed=3",), ("train.lr=0.5",)):
        assert main(_fast(tiny_model_dir, run, *extra)) == 2
        assert "holds a finished run" in capsys.readouterr().err
        assert {p: p.read_bytes() for p in before} == before
    # a run that fails early (a bad data row) cannot touch it either
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\nonly-one-field\n")
    assert main([*_fast(tiny_model_dir, run), "--data", f"tsv:{bad}?lang=en&split=train"]) == 2
    assert "bad.tsv" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in before} == before
    # --resume with a changed setting names it; with the same settings it continues (and trains nothing more)
    assert main([*_fast(tiny_model_dir, run, "train.lr=0.5"), "--resume"]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # the error is one line (the log lines above it are the run's)
    assert last.startswith("xlgraph: error: ") and "other settings: train.lr: 0.001 → 0.5" in last
    assert main([*_fast(tiny_model_dir, run), "--resume"]) == 0
    assert json.loads((run / "results.json").read_text())["per_language"] == \
        json.loads(before[run / "results.json"])["per_language"]
    # --overwrite replaces it: the new run's own checkpoint and settings
    assert main([*_fast(tiny_model_dir, run, "seed=3"), "--overwrite"]) == 0
    assert json.loads((run / "config.json").read_text())["seed"] == 3
    assert main([*_fast(tiny_model_dir, run), "--resume", "--overwrite"]) == 2


def test_a_second_run_at_once_is_refused(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); print('held', flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(_fast(tiny_model_dir, run)) == 2
        assert f"in use by another run (process {holder.pid})" in capsys.readouterr().err
        assert not (run / "config.json").exists() and not (run / "ckpt").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(_fast(tiny_model_dir, run)) == 0  # the lock went with the process that held it


def test_a_non_finite_loss_stops_the_run_before_a_bad_checkpoint(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_fast(tiny_model_dir, run, "train.lr=1e12", "train.clip_norm=0", "train.log_every=1",
                      "train.epochs=2")) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("xlgraph: error: step ") and "the run stopped, its last finite checkpoint is" in last
    assert "Traceback" not in err
    assert not (run / "results.json").exists()
    from xlgraph.train.checkpoint import Checkpoints

    ckpts = Checkpoints(run / "ckpt")
    for step in ckpts.manager.all_steps():  # whatever was kept is finite
        import orbax.checkpoint as ocp

        state = ckpts.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
        assert all(np.isfinite(np.asarray(x)).all() for x in __import__("jax").tree.leaves(state))
    ckpts.close()


def test_config_changes_names_each_changed_setting_and_ignores_where_a_run_lives():
    a = json.loads(json.dumps(default_config().to_dict(), default=list))
    b = json.loads(json.dumps(a))
    b["train"]["lr"], b["workdir"], b["model"]["allow_pickle"] = 0.5, "elsewhere", True
    b["data"]["sources"] = ["x"]
    assert [c.split(":")[0] for c in config_changes(a, b)] == ["data.sources", "train.lr"]
    assert f"train.lr: {json.dumps(a['train']['lr'])} → 0.5" in config_changes(a, b)
    del a["train"]["lr"]  # a setting the saved run's version did not have
    assert [c.split(":")[0] for c in config_changes(a, b)] == ["data.sources"]


def test_claim_refuses_a_directory_with_run_files_but_no_config(tmp_path):
    run = RunDir(tmp_path / "r")
    (tmp_path / "r" / "ckpt").mkdir(parents=True)  # RunDir makes nothing until the run claims it
    with pytest.raises(XlgraphError, match="no config.json; use --overwrite"):
        run.claim(default_config(), resume=True)
    run.claim(default_config(), overwrite=True)
    assert (tmp_path / "r" / "config.json").exists() and not (tmp_path / "r" / "ckpt").exists()


def test_a_run_that_fails_on_its_inputs_leaves_no_directory(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello\ten\n")
    run = tmp_path / "never"
    assert main(_fast(tiny_model_dir, run, f"data.sources=['tsv:{bad}?text=0&label=5']")) == 2
    assert "bad.tsv" in capsys.readouterr().err and not run.exists()


def test_resume_refuses_data_other_than_the_runs_own(tiny_model_dir, tmp_path, capsys, caplog):
    """Same config, edited files: a resume that silently trained on other data would mix two runs in one."""
    from xlgraph.data.sample import SAMPLE_DIR

    data = tmp_path / "mtod"
    shutil.copytree(SAMPLE_DIR, data)
    args = [*_fast(tiny_model_dir, tmp_path / "run", f"data.sources=['mtod:{data}']")]
    assert main(args) == 0
    saved = json.loads((tmp_path / "run" / "data.json").read_text())
    assert set(saved) == {"train", "dev", "test", "unlabeled"} and saved["train"]["documents"] > 32
    train = data / "en" / "train-en.tsv.gz"
    original = gzip.decompress(train.read_bytes()).decode()
    lines = original.splitlines(keepends=True)
    edits = {  # one label changed; one utterance gone
        "other texts or labels in the same": lines[:5] + [lines[5].replace(lines[5].split("\t")[0], "alarm/set_alarm",
                                                                            1)] + lines[6:],
        f"train: {len(lines)} → {len(lines) - 1} documents": lines[:-1],
    }
    assert edits["other texts or labels in the same"] != lines
    capsys.readouterr()
    for message, edited in edits.items():
        train.write_bytes(gzip.compress("".join(edited).encode()))
        assert main([*args, "--resume"]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("xlgraph: error: --resume: ") and "was run on other data: train: " in last
        assert message in last and "dev" not in last.split("other data:")[1]
        assert json.loads((tmp_path / "run" / "data.json").read_text()) == saved  # the refused run wrote nothing
    train.write_bytes(gzip.compress(original.encode()))
    assert main([*args, "--resume"]) == 0  # its own data again: resumes
    (tmp_path / "run" / "data.json").unlink()  # a run of an older version: resumes, says it cannot check
    assert main([*args, "--resume"]) == 0
    assert "has no data.json" in caplog.text and (tmp_path / "run" / "data.json").exists()


def test_fingerprints_see_every_column_and_data_changes_names_the_part():
    docs = [Doc("a b", "en", "x", "train", "d1"), Doc("c", "es", "y", "test", "d2", translation_of="d1")]
    base = Corpus.from_docs(docs).fingerprint()
    assert list(base) == ["train", "test"] and base["test"]["documents"] == 1
    import dataclasses

    for change in (dict(text="a  b"), dict(lang="de"), dict(label="y"), dict(id="d0")):
        other = [dataclasses.replace(docs[0], **change), dataclasses.replace(docs[1], translation_of=change.get(
            "id", "d1"))]
        fp = Corpus.from_docs(other, labels=["x", "y"]).fingerprint()
        assert fp["train"] != base["train"], change
        assert (fp["test"] != base["test"]) == ("id" in change), change  # the translation link is by id
    assert data_changes({"train": base}, {"train": base}) == []
    nested = {"train": {"train": {"documents": 3, "sha256": "0"}}, "eval": {"test": {"documents": 2, "sha256": "1"}}}
    assert data_changes(nested, {"train": {"train": {"documents": 3, "sha256": "9"}}}) == [
        "train.train: other texts or labels in the same 3 documents", "eval: 2 → 0 documents"]
    assert data_changes({"train": {"documents": 3, "sha256": "0"}}, {"train": {"documents": 4, "sha256": "0"}}) == [
        "train: 3 → 4 documents"]
    assert data_changes({"train": 5}, {"train": base["train"]}) == ["train: data.json holds 5, not a fingerprint"]
