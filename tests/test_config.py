import json

import pytest

from xlgraph.config import apply_overrides, default_config, demo_config, load_config, to_json
from xlgraph.errors import XlgraphError


def test_overrides_keep_types():
    cfg = apply_overrides(default_config(), ["train.lr=3e-5", "train.epochs=1", "train.warmup_ratio=0",
                                             "data.sources=mtod:x", "tokens.buckets=[16,32]", "name=a=b"])
    assert cfg.train.lr == 3e-5 and cfg.train.epochs == 1 and cfg.train.warmup_ratio == 0.0
    assert cfg.data.sources == ["mtod:x"] and cfg.tokens.buckets == (16, 32) and cfg.name == "a=b"
    cfg = apply_overrides(default_config(), ["adversarial.enabled=true", "self_learning.reinit=False",
                                             "model.allow_pickle=1"])
    assert cfg.adversarial.enabled is True and cfg.self_learning.reinit is False and cfg.model.allow_pickle is True


@pytest.mark.parametrize("bad, message", [
    ("train.epochs=abc", "expected int"),
    ("train.nope=1", "unknown key"),
    ("nosection.x=1", "no config section"),
    ("train.lr", "expected key=value"),
    ("adversarial.enabled=maybe", "expected bool"),
])
def test_bad_overrides_name_the_problem(bad, message):
    with pytest.raises(XlgraphError, match=message):
        apply_overrides(default_config(), [bad])


def test_json_round_trip(tmp_path):
    cfg = apply_overrides(demo_config(), ["tokens.buckets=[8,16]", "train.lr=2e-5"])
    (tmp_path / "config.json").write_text(to_json(cfg))
    back = load_config(tmp_path)
    assert json.loads(to_json(back)) == json.loads(to_json(cfg))
    assert back.tokens.buckets == (8, 16)


def test_python_config_file(tmp_path):
    (tmp_path / "c.py").write_text(
        "from xlgraph.config import default_config\n"
        "def get_config():\n    c = default_config()\n    c.train.epochs = 7\n    return c\n")
    assert load_config(tmp_path / "c.py").train.epochs == 7
    (tmp_path / "bad.py").write_text("x = 1\n")
    with pytest.raises(XlgraphError, match="get_config"):
        load_config(tmp_path / "bad.py")


def test_experiment_configs_load():
    from pathlib import Path

    from xlgraph.methods import METHODS

    root = Path(__file__).parents[1] / "experiments"
    configs = sorted(p for d in ("finetune", "self_learning", "adversarial", "clhg") for p in (root / d).glob("*.py")
                     if p.name not in ("table.py", "ablation.py", "__init__.py"))
    assert len(configs) == 10, configs
    for path in configs:
        cfg = load_config(path)
        assert cfg.method in METHODS and cfg.data.sources
        assert cfg.adversarial.enabled == (path.parent.name == "adversarial")
        assert (cfg.method == "self_learning") == (path.parent.name == "self_learning")
        assert (cfg.method == "clhg") == (path.parent.name == "clhg")


def test_configs_in_a_package_import_one_another_as_modules(tmp_path):
    pkg = tmp_path / f"cfgpkg_{tmp_path.name.replace('-', '_')}"
    (pkg / "base").mkdir(parents=True)
    for d in (pkg, pkg / "base"):
        (d / "__init__.py").write_text("")
    (pkg / "base" / "mtod.py").write_text(
        "from xlgraph.config import default_config\n"
        "def get_config():\n    c = default_config()\n    c.train.epochs = 7\n    return c\n")
    (pkg / "derived.py").write_text(
        f"import {pkg.name}.base.mtod as base\n"
        "def get_config():\n    c = base.get_config()\n    c.train.lr = 0.5\n    return c\n")
    cfg = load_config(pkg / "derived.py")
    assert cfg.train.epochs == 7 and cfg.train.lr == 0.5
