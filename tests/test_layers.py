"""Imports point down the pipeline only: no package imports one above it (function-level imports included), so no
two packages import each other."""

import ast
from pathlib import Path

# lowest first; a module may import its own package and those listed before it
LAYERS = ["errors", "config", "progress", "eval", "runs", "data", "text", "align", "graph", "models", "objectives",
          "train", "features", "families", "methods", "encode", "bench", "cli"]
ROOT = Path(__file__).parents[1] / "xlgraph"


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_import_points_down():
    upward = []
    for path in ROOT.rglob("*.py"):
        own = _unit(".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"))
        if own is None:
            continue
        assert own in LAYERS, f"{path}: package {own!r} has no place in LAYERS"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xlgraph."):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("xlgraph.")]
            else:
                continue
            for target in targets:
                unit = _unit(target)
                if unit != own and LAYERS.index(unit) > LAYERS.index(own):
                    upward.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {own} imports {target}")
    assert not upward, "\n".join(upward)
