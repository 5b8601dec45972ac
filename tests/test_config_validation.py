"""One validation of the whole config before any work: unknown keys, types, ranges and enums, from overrides,
JSON and Python config files, each reported as `key: problem` (naming the file); the CLI prints it as one line."""

import json

import pytest

from xlgraph import cli
from xlgraph.config import RULES, apply_overrides, default_config, load_config, to_json, validate
from xlgraph.errors import ConfigError, XlgraphError


@pytest.mark.parametrize("overrides, message", [
    (["train.epochs=-1"], "train.epochs: must be ≥ 1, got -1"),
    (["train.batch_size=-32"], "train.batch_size: must be ≥ 1, got -32"),
    (["train.batch_size=0"], "train.batch_size: must be ≥ 1, got 0"),
    (["train.eval_batch_size=0"], "train.eval_batch_size: must be ≥ 1, got 0"),
    (["tokens.max_length=0"], "tokens.max_length: must be ≥ 2, got 0"),
    (["train.grad_accum=0"], "train.grad_accum: must be ≥ 1, got 0"),
    (["train.grad_accum=3"], "train.grad_accum: must divide train.batch_size=32, got 3"),
    (["select.metric=foo"], "select.metric: must be one of accuracy, macro_f1, macro_precision, macro_recall"),
    (["method=deep_cnn", "select.metric=accuracy"], "select.metric: must be one of jaccard"),
    (["data.eval_split=bogus"], "data.eval_split: must be one of train, dev, test, got 'bogus'"),
    (["model.pooling=max"], "model.pooling: must be one of first, mean"),
    (["clhg.knn_method=annoy"], "clhg.knn_method: must be one of exact, ivf"),
    (["adversarial.norm=sign"], "adversarial.norm: must be one of example, table"),
    (["train.lr=0"], "train.lr: must be > 0, got 0.0"),
    (["model.dropout=1.0"], r"model.dropout: must be in \[0, 1\), got 1.0"),
    (["train.warmup_ratio=1.5"], r"train.warmup_ratio: must be in \[0, 1\], got 1.5"),
    (["profile.steps=(5,2)"], "profile.steps: must be .first, last. with first < last"),
    (["tokens.buckets=[]"], "tokens.buckets: must be one or more integer"),
    (["method=nope"], "method: must be one of finetune, self_learning, clhg, deep_cnn"),
])
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(apply_overrides(default_config(), overrides))


def test_every_problem_at_once_and_good_configs_pass():
    with pytest.raises(ConfigError) as info:
        validate(apply_overrides(default_config(), ["train.epochs=-1", "select.metric=foo", "train.lr=-1.0"]))
    assert [p.split(":")[0] for p in info.value.problems] == ["train.epochs", "train.lr", "select.metric"]
    from xlgraph.config import demo_config

    validate(default_config())
    validate(demo_config())
    validate(apply_overrides(default_config(), ["train.clip_norm=0", "adversarial.epsilon=0", "data.max_train=0"]))


def test_every_setting_has_a_rule():
    """The table is complete: every number, list and string key has a rule (bools are checked by type only)."""
    def leaves(node, prefix=""):
        for key, value in node.items():
            if hasattr(value, "items"):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    ruled = {k for k, v in leaves(default_config()) if not isinstance(v, bool)}
    free = {"model.prefix", "profile.dir"}  # any string
    assert set(RULES) == ruled - free


def _constant(module: str, name: str) -> set:
    """A module-level tuple (or a dict's keys) from its source, without importing the module (and JAX)."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).parents[1] / "xlgraph" / module).read_text())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == name:
            value = node.value
            return {ast.literal_eval(k) for k in value.keys} if isinstance(value, ast.Dict) else \
                set(ast.literal_eval(value))
    raise AssertionError(f"{module} has no {name}")


def test_enums_match_the_code_that_reads_them():
    from xlgraph import config
    from xlgraph.eval.metrics import classification_metrics, multilabel_metrics
    from xlgraph.methods import METHODS

    def allowed(key):
        with pytest.raises(ConfigError) as info:
            validate(apply_overrides(default_config(), [f"{key}=?"]))
        return set(info.value.problems[0].split("one of ")[1].split(", got")[0].split(", "))

    assert set(config.METHOD_NAMES) == set(METHODS)
    assert set(config.SPLITS) == _constant("data/corpus.py", "SPLITS")
    assert set(config.ARCHS) == {"encoder", *_constant("models/text.py", "TEXT_MODELS")}
    assert set(config.METRICS) == set(classification_metrics([0], [0], 1)) - {"n"}
    assert set(config.MULTILABEL_METRICS) == set(multilabel_metrics([[1]], [[1]])) - {"n"}
    for key, module, name in [("select.on", "data/splits.py", "SELECT_ON"),
                              ("clhg.aggregation", "models/hetero_gcn.py", "AGGREGATIONS"),
                              ("adversarial.norm", "objectives/adversarial.py", "NORMS"),
                              ("deep_cnn.noise", "objectives/nce.py", "NOISE"),
                              ("deep_cnn.loss", "methods/deep_cnn.py", "LOSSES"),
                              ("embeddings.mode", "families/words.py", "MODES")]:
        assert allowed(key) == _constant(module, name), key


def test_json_config_files_are_checked(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"epochs": 1, "bogus": 3, "epoch": 2}, "nope": 1, "select": 2,
                                "model": {"pooling": 3}, "tokens": {"buckets": [16, "x"]}}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and len(text.splitlines()) == 1
    for part in ("train.bogus: unknown key", "train.epoch: unknown key (did you mean train.epochs?)",
                 "nope: unknown key", "select: expected a section, got int 2",
                 "model.pooling: expected str, got int 3"):
        assert part in text
    path.write_text(json.dumps({"train": {"epochs": "three"}}))
    with pytest.raises(ConfigError, match="train.epochs: expected int, got str 'three'"):
        load_config(path)
    path.write_text(json.dumps({"train": {"epochs": -1}}))
    with pytest.raises(ConfigError, match=f"{path}: train.epochs: must be ≥ 1"):
        load_config(path)
    path.write_text('{\n  "train": {\n')
    with pytest.raises(ConfigError, match=rf"{path}:3: not valid JSON"):
        load_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_config(path)
    path.write_text(json.dumps({"deep_cnn": {"vectors": ["en=x.vec"]}}))
    with pytest.raises(ConfigError, match="deep_cnn.vectors is now embeddings.vectors"):
        load_config(path)
    path.write_text(json.dumps({"train": {"lr": 1, "epochs": 2}, "tokens": {"buckets": [8, 16]}}))
    cfg = load_config(path)
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float) and cfg.tokens.buckets == (8, 16)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.json")


def test_a_saved_config_cannot_allow_pickles(tmp_path, caplog):
    """A run directory handed over must not switch the pickle refusal off: only --allow-pickle may."""
    cfg = default_config()
    cfg.model.allow_pickle = True
    (tmp_path / "config.json").write_text(to_json(cfg))
    assert load_config(tmp_path).model.allow_pickle is False
    assert "model.allow_pickle is ignored" in caplog.text


def test_python_config_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "syntax.py"
    bad.write_text("from xlgraph.config import default_config\ndef get_config(:\n    pass\n")
    with pytest.raises(ConfigError, match=rf"^{bad}:2: SyntaxError: "):
        load_config(bad)
    raises = tmp_path / "raises.py"
    raises.write_text("from xlgraph.config import default_config\n\ndef get_config():\n    c = default_config()\n"
                      "    raise ValueError('boom')\n")
    with pytest.raises(ConfigError, match=rf"^{raises}:5: ValueError: boom$"):
        load_config(raises)
    typo = tmp_path / "typo.py"
    typo.write_text("from xlgraph.config import default_config\ndef get_config():\n    c = default_config()\n"
                    "    c.train.epoch = 3\n    return c\n")
    with pytest.raises(ConfigError, match=rf"^{typo}: train.epoch: unknown key \(did you mean train.epochs\?\)$"):
        load_config(typo)
    other = tmp_path / "c.yaml"
    other.write_text("train: {}\n")
    with pytest.raises(ConfigError, match="get_config"):
        load_config(other)


def test_cli_bad_config_is_one_line_before_any_work(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "train.epochs=-1", "select.metric=foo", "--workdir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlgraph: error: train.epochs: must be ≥ 1, got -1; select.metric: must be one of")
    assert len(err.strip().splitlines()) == 1 and not run.exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": {"epochs": 1, "bogus": 3}}')
    assert cli.main(["train", str(bad), "--workdir", str(run)]) == 2
    assert capsys.readouterr().err == f"xlgraph: error: {bad}: train.bogus: unknown key\n" and not run.exists()


def test_cli_internal_errors_hide_the_traceback_unless_debug(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("unexpected\nstate")

    monkeypatch.setattr(cli, "_inspect", boom)
    assert cli.main(["data", "inspect", "sample:mtod"]) == 1
    assert capsys.readouterr().err == ("xlgraph: internal error: RuntimeError: unexpected state "
                                       "(run with --debug for the traceback)\n")
    with pytest.raises(RuntimeError, match="unexpected"):
        cli.main(["--debug", "data", "inspect", "sample:mtod"])
    with pytest.raises(RuntimeError, match="unexpected"):
        cli.main(["data", "inspect", "sample:mtod", "--debug"])

    def refused(args):
        raise XlgraphError("a bad input")

    monkeypatch.setattr(cli, "_inspect", refused)
    assert cli.main(["data", "inspect", "x"]) == 2
    assert capsys.readouterr().err == "xlgraph: error: a bad input\n"
    with pytest.raises(XlgraphError):
        cli.main(["data", "inspect", "x", "--debug"])


@pytest.mark.parametrize("argv, message", [
    (["encode", "sample:mtod", "out", "--max-length", "0"], "argument --max-length: must be ≥ 2, got 0"),
    (["encode", "sample:mtod", "out", "--batch-size", "0"], "argument --batch-size: must be ≥ 1, got 0"),
    (["encode", "sample:mtod", "out", "--chunk-size", "x"], "argument --chunk-size: expected an integer, got 'x'"),
    (["encode-words", "words.txt", "out.vec", "--batch-size", "-1"], "argument --batch-size: must be ≥ 1, got -1"),
    (["bench", "encoder", "--repeats", "0"], "argument --repeats: must be ≥ 1, got 0"),
    (["bench", "encoder", "--devices", "-1"], "argument --devices: must be ≥ 0, got -1"),
    (["bench", "encoder", "--num-labels", "0"], "argument --num-labels: must be ≥ 2, got 0"),
    (["align", "a.vec", "b.vec", "out.vec", "--csls-k", "0"], "argument --csls-k: must be ≥ 1, got 0"),
    (["pos", "train", "x.conllu", "out", "--lang", "es", "--epochs", "0"], "argument --epochs: must be ≥ 1, got 0"),
    (["train", "--num-processes", "0"], "argument --num-processes: must be ≥ 1, got 0"),
])
def test_cli_bad_numbers_are_argparse_errors(argv, message, capsys, tmp_path, monkeypatch):
    """Each used to pass argparse and end in an internal error (a zero step of range(), an empty median, ...)."""
    monkeypatch.chdir(tmp_path)  # (the relative outputs, were a value let through)
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_bench_devices_and_layers_beyond_the_model_are_one_line(tiny_model_dir, capsys):
    import jax

    assert cli.main(["bench", "encoder", "--model", str(tiny_model_dir), "--devices", str(jax.device_count() + 1)]) == 2
    assert f"--devices {jax.device_count() + 1}: only {jax.device_count()} " in capsys.readouterr().err
    assert cli.main(["bench", "encoder", "--model", str(tiny_model_dir), "--freeze-layers", "99"]) == 2
    assert "--freeze-layers 99: the model has" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["encode", "sample:mtod", "{f}"], ["data", "to-tfds", "sample:mtod", "{f}/x"],
                                  ["train", "--workdir", "{f}/run"]])
def test_cli_paths_the_file_system_refuses_are_one_line(argv, tmp_path, capsys):
    """A file where an output folder goes is the user's path, not a bug: one line naming it, exit 2."""
    f = tmp_path / "a-file"
    f.write_text("x")
    argv = [a.format(f=f) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"xlgraph: error: {argv[-1]}: ") and "a file is where a folder" in last
    assert "Traceback" not in err and "internal error" not in err
    assert f.read_text() == "x"


def test_cli_os_errors_without_a_path_stay_internal_errors(monkeypatch, capsys):
    def boom(args):
        raise ConnectionResetError("peer went away")

    monkeypatch.setattr(cli, "_inspect", boom)
    assert cli.main(["data", "inspect", "sample:mtod"]) == 1
    assert "internal error: ConnectionResetError" in capsys.readouterr().err
